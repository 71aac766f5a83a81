/**
 * The task names in docs/architecture.md are contracts: each exists in deno.json, none
 * runs with -A, and every script answers --help with exit 0.
 */
import { strict as assert } from "node:assert";
import { freePort } from "../scripts/lib/net.ts";
import { REPO_ROOT, repoPath } from "../scripts/lib/paths.ts";

const CONTRACT_TASKS = [
  ...Array.from({ length: 13 }, (_, i) => `phase${i}`),
  "setup-monitoring",
  "deploy-collector",
  "collector-local",
  "validate",
  "run-app",
  "run-pull",
  "run-push",
  "gen-dashboards",
  "import-dashboards",
  "apply-rules",
  "load",
  "verify",
  "stack",
  "tools",
  "demo",
  "gate",
  "bench",
  "test",
  "doctor",
];

function tasks(): Record<string, string> {
  const raw = JSON.parse(Deno.readTextFileSync(repoPath("deno.json"))).tasks;
  return Object.fromEntries(
    Object.entries(raw).map((
      [k, v],
    ) => [k, typeof v === "string" ? v : (v as { command: string }).command]),
  );
}

Deno.test({
  name: "every contract task exists and none runs with -A / --allow-all",
  permissions: { read: true },
  fn() {
    const t = tasks();
    for (const name of CONTRACT_TASKS) assert.ok(t[name], `task ${name} missing from deno.json`);
    for (const [name, cmd] of Object.entries(t)) {
      assert.ok(!/(^|\s)(-A|--allow-all)(\s|$)/.test(cmd), `task ${name} uses -A: ${cmd}`);
    }
  },
});

Deno.test({
  name: "every task that runs a script answers --help with exit 0 and a usage line",
  permissions: { read: true, run: true, env: true },
  async fn() {
    const t = tasks();
    const scriptTasks = Object.entries(t).filter(([, cmd]) => /^deno run .*\.ts$/.test(cmd));
    assert.ok(scriptTasks.length >= 18);
    for (const [name] of scriptTasks) {
      const out = await new Deno.Command("deno", {
        args: ["task", "-q", name, "--help"],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(
        out.code,
        0,
        `${name} --help exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
      );
      assert.match(text, /Usage: deno task /, `${name} --help prints a usage line`);
    }
  },
});

// ---------------------------------------------------------------------------
// Least privilege: every `--allow-*` flag in deno.json names what it allows,
// or docs/permissions.md says why it cannot.
// ---------------------------------------------------------------------------

const PERMISSIONS_DOC = "docs/permissions.md";

interface Grant {
  task: string;
  /** e.g. `--allow-net` */
  flag: string;
  /** undefined when the flag is unrestricted */
  list?: string[];
}

/** The permission flags of every `deno run` / `deno test` command in each task. */
function grants(): Grant[] {
  const out: Grant[] = [];
  for (const [task, cmd] of Object.entries(tasks())) {
    for (const part of cmd.split(/&&|;/)) {
      const words = part.trim().split(/\s+/);
      if (words[0] !== "deno" || !["run", "test"].includes(words[1])) continue;
      for (const w of words) {
        const m = /^(--allow-[a-z-]+)(?:=(.*))?$/.exec(w);
        if (m) out.push({ task, flag: m[1], list: m[2]?.split(",") });
      }
    }
  }
  return out;
}

/** Rows of the markdown table whose header row starts with `firstHeader`. */
function docTable(firstHeader: string): string[][] {
  const lines = Deno.readTextFileSync(repoPath(PERMISSIONS_DOC)).split("\n");
  const start = lines.findIndex((l) => l.startsWith(`| ${firstHeader} `));
  assert.ok(start >= 0, `${PERMISSIONS_DOC} has a table headed '${firstHeader}'`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.slice(1, -1).split("|").map((c) => c.trim().replace(/^`|`$/g, "")));
  }
  return rows;
}

Deno.test({
  name: "every unrestricted permission flag in deno.json has its reason in docs/permissions.md",
  permissions: { read: true },
  fn() {
    const open = grants().filter((g) => g.list === undefined).map((g) => `${g.task} ${g.flag}`);
    const documented = new Map<string, string>();
    for (const [task, flag, why] of docTable("Task")) {
      assert.ok(why && why.length >= 20, `${PERMISSIONS_DOC}: '${task} ${flag}' needs a reason`);
      documented.set(`${task} ${flag}`, why);
    }
    const undocumented = open.filter((k) => !documented.has(k));
    assert.deepEqual(undocumented, [], `unrestricted without a reason in ${PERMISSIONS_DOC}`);
    const stale = [...documented.keys()].filter((k) => !open.includes(k));
    assert.deepEqual(stale, [], `${PERMISSIONS_DOC} documents flags deno.json no longer has`);
  },
});

Deno.test({
  name: "every --allow-env prefix (NAME_*) in deno.json is documented in docs/permissions.md",
  permissions: { read: true },
  fn() {
    const prefixes = new Set(
      grants().filter((g) => g.flag === "--allow-env").flatMap((g) => g.list ?? [])
        .filter((v) => v.endsWith("*")),
    );
    const documented = new Set(docTable("Prefix").map(([prefix]) => prefix));
    for (const p of prefixes) assert.ok(documented.has(p), `${p} is not in ${PERMISSIONS_DOC}`);
  },
});

Deno.test({
  name: "only import-dashboards may read Grafana credentials; every script task lists its env",
  permissions: { read: true },
  fn() {
    // The test runner, and bench (it hands its whole environment to the apps it starts):
    // both documented in docs/permissions.md. Adding a task here needs a reviewer's yes.
    const unrestrictedEnv = ["test", "bench"];
    for (const g of grants().filter((g) => g.flag === "--allow-env")) {
      if (unrestrictedEnv.includes(g.task)) continue;
      assert.ok(g.list, `${g.task}: --allow-env must list the variables it reads`);
      const grafana = g.list.filter((v) => v.startsWith("GRAFANA_") || v === "*");
      if (g.task !== "import-dashboards") {
        assert.deepEqual(grafana, [], `${g.task} reads ${grafana}`);
      }
    }
  },
});

// ---------------------------------------------------------------------------
// The apps under their own task permissions, as `deno task` runs them.
// ---------------------------------------------------------------------------

const APP_PROCS = {
  permissions: { read: true, run: true, env: true, net: true },
  sanitizeResources: false,
} as const;

/** Starts `deno task -q <task> ...args`; resolves with its output once `until` matches stdout. */
async function startTask(
  task: string,
  args: string[],
  env: Record<string, string>,
  until: RegExp,
): Promise<{ child: Deno.ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const child = new Deno.Command("deno", {
    args: ["task", "-q", task, ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await pumps;
  };
  const deadline = Date.now() + 20_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (!until.test(text)) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`${task} did not print ${until} (exited: ${exited}):\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => text, stop };
}

for (const task of ["run-app", "run-pull"]) {
  Deno.test({
    name: `${task} binds 127.0.0.1 when --host is not given (0.0.0.0 is opt-in)`,
    ...APP_PROCS,
    async fn() {
      const port = freePort();
      const app = await startTask(task, ["--port", String(port)], {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${freePort()}`,
      }, / on http:\/\//);
      try {
        // run-app says "listening on URL", run-pull "Running on URL".
        assert.match(app.output(), new RegExp(` on http://127\\.0\\.0\\.1:${port}\\b`));
      } finally {
        await app.stop();
      }
    },
  });
}

/** Standard OTel SDK variables a deployment may set; the app tasks must be allowed to read them. */
const OTEL_SETTINGS = {
  OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "1024",
  OTEL_ATTRIBUTE_COUNT_LIMIT: "64",
  OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "1024",
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "64",
  OTEL_SPAN_EVENT_COUNT_LIMIT: "64",
  OTEL_SPAN_LINK_COUNT_LIMIT: "64",
  OTEL_BSP_SCHEDULE_DELAY: "100",
  OTEL_BSP_MAX_QUEUE_SIZE: "512",
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "128",
  OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
  OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=obskit",
  OTEL_METRIC_EXPORT_INTERVAL: "60000",
  OTEL_RESOURCE_ATTRIBUTES: "team=platform",
  OTEL_SERVICE_NAME: "perm-test",
  SERVICE_VERSION: "9.9.9",
  DEPLOYMENT_ENV: "test",
  LOG_LEVEL: "INFO",
};

/** A loopback OTLP/HTTP receiver that records the paths and one header of what it gets. */
function otlpSink() {
  const seen: { path: string; tenant: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    seen.push({ path: new URL(req.url).pathname, tenant: req.headers.get("x-tenant") });
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, seen, close: () => server.shutdown() };
}

Deno.test({
  name: "run-app under its task permissions honours OTEL_* settings (endpoint, headers, limits)",
  ...APP_PROCS,
  async fn() {
    const sink = otlpSink();
    const port = freePort();
    const app = await startTask(
      "run-app",
      ["--port", String(port), "--host", "127.0.0.1"],
      { ...OTEL_SETTINGS, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url },
      /listening on/,
    );
    try {
      assert.ok(app.output().includes(sink.url), `start-up names ${sink.url}:\n${app.output()}`);
      await (await fetch(`http://127.0.0.1:${port}/health`)).body?.cancel();
      const deadline = Date.now() + 10_000;
      while (!sink.seen.some((s) => s.path === "/v1/traces") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const traces = sink.seen.find((s) => s.path === "/v1/traces");
      assert.ok(traces, `the app exported traces to the sink:\n${app.output()}`);
      assert.equal(traces.tenant, "obskit", "OTEL_EXPORTER_OTLP_HEADERS reached the exporter");
      assert.doesNotMatch(app.output(), /NotCapable|Requires env access/);
    } finally {
      await app.stop();
      await sink.close();
    }
  },
});

Deno.test({
  name: "run-push under its task permissions delivers to OTEL_EXPORTER_OTLP_ENDPOINT",
  ...APP_PROCS,
  async fn() {
    const sink = otlpSink();
    try {
      const out = await new Deno.Command("deno", {
        args: ["task", "-q", "run-push", "--timeout", "5"],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1", ...OTEL_SETTINGS, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      assert.ok(sink.seen.some((s) => s.path === "/v1/traces" && s.tenant === "obskit"), text);
    } finally {
      await sink.close();
    }
  },
});
