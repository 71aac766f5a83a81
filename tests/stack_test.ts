/**
 * The local stack's pieces with the real programs: port resolution, the
 * rendered Prometheus config (checked by promtool), the committed configs
 * (promtool, amtool, jaeger validate), and a partial stack (Jaeger,
 * Alertmanager, Prometheus) on free ports: up twice is a no-op, status,
 * down leaves no port listening, a component that dies is named with its
 * port and log lines. The full stack with the collector is in e2e_test.ts.
 */
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { UsageError } from "../scripts/lib/cli.ts";
import { freePort, isListening } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import { isAlive, readProc, stopProcess } from "../scripts/lib/process.ts";
import {
  collectorEnv,
  type ComponentState,
  defaultPorts,
  freePorts,
  jaegerEnv,
  lockPath,
  PORT_SPECS,
  prometheusDuration,
  readState,
  renderPrometheusConfig,
  resolvePorts,
  stackDown,
  type StackPorts,
  stackStatus,
  stackUp,
} from "../scripts/lib/stack/mod.ts";
import { CheckFailed } from "../scripts/lib/cli.ts";
import { existsSync } from "node:fs";
import { parse } from "yaml";
import { findTool, inPrivateState, missing, runScript } from "./support.ts";
import { demoTraffic } from "../scripts/lib/stack/stack_demo.ts";

Deno.test("resolvePorts: flag beats environment beats the book's default", () => {
  const env: Record<string, string> = { PROMETHEUS_PORT: "19090", OTELCOL_HEALTH_PORT: "23133" };
  const ports = resolvePorts({ "prometheus-port": "29090" }, (n) => env[n]);
  assert.deepEqual(ports.prometheus, 29090);
  assert.deepEqual(ports.collectorHealth, 23133);
  assert.deepEqual(ports.alertmanager, 9093);
  assert.deepEqual(defaultPorts().otlpGrpc, 4317);
  assert.throws(() => resolvePorts({ "jaeger-port": "99999" }, () => undefined), UsageError);
  assert.throws(
    () => resolvePorts({}, (n) => (n === "ALERTMANAGER_PORT" ? "abc" : undefined)),
    UsageError,
  );
});

Deno.test("collector queue and Jaeger's badger data live in the state folder (env set by the stack)", () => {
  const before = Deno.env.get("OBSKIT_STATE_DIR");
  Deno.env.set("OBSKIT_STATE_DIR", "/tmp/obskit-state-x");
  try {
    assert.equal(
      collectorEnv(defaultPorts()).OTELCOL_QUEUE_DIR,
      "/tmp/obskit-state-x/collector/queue",
    );
    assert.equal(jaegerEnv(defaultPorts()).JAEGER_DATA_DIR, "/tmp/obskit-state-x/jaeger");
  } finally {
    if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
    else Deno.env.set("OBSKIT_STATE_DIR", before);
  }
});

Deno.test("freePorts: every port distinct, bindable, below the ephemeral range", async () => {
  const ports = await freePorts();
  const values = Object.values(ports);
  assert.deepEqual(new Set(values).size, values.length);
  // Deno wants --allow-all to read /proc directly; readProc falls back to cat.
  const range = await readProc("/proc/sys/net/ipv4/ip_local_port_range");
  const low = Number(range!.trim().split(/\s+/)[0]);
  for (const port of values) {
    assert.ok(port >= 20000 && port < low, `${port} below ${low}`);
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  }
});

Deno.test("freePort: below the ephemeral range (where outgoing connections take theirs), never handed out twice", async () => {
  const range = await readProc("/proc/sys/net/ipv4/ip_local_port_range");
  const low = Number(range!.trim().split(/\s+/)[0]);
  const ports = Array.from({ length: 200 }, () => freePort());
  assert.equal(new Set(ports).size, ports.length);
  for (const port of ports) assert.ok(port >= 20000 && port < low, `${port} below ${low}`);
});

Deno.test("renderPrometheusConfig: targets by job, absolute rule files, overlay, intervals", async () => {
  const ports = await freePorts();
  const text = renderPrometheusConfig(ports, {
    scrapeInterval: "1s",
    rulesOverlay: [repoPath("rules", "test-overlay")],
  });
  // deno-lint-ignore no-explicit-any
  const doc = parse(text) as any;
  // deno-lint-ignore no-explicit-any
  const job = (name: string) => doc.scrape_configs.find((s: any) => s.job_name === name);
  const target = (name: string) => job(name).static_configs[0].targets[0];
  // The instrumented app is not scraped: it pushes, and the collector's exporter is
  // scraped with honor_labels so its series keep job = the app's service.name.
  assert.equal(job("instrumented-app"), undefined);
  assert.equal(job("otel-collector").honor_labels, true);
  assert.deepEqual(target("metrics-pull-app"), `127.0.0.1:${ports.pull}`);
  assert.deepEqual(target("otel-collector"), `127.0.0.1:${ports.collectorPromExporter}`);
  assert.deepEqual(target("otel-collector-telemetry"), `127.0.0.1:${ports.collectorTelemetry}`);
  assert.deepEqual(target("prometheus"), `127.0.0.1:${ports.prometheus}`);
  // This machine's node-exporter (node panels, NodeHighCPU/NodeHighMemory).
  assert.deepEqual(target("node-exporter"), `127.0.0.1:${ports.nodeExporter}`);
  assert.deepEqual(doc.alerting.alertmanagers[0].static_configs[0].targets, [
    `127.0.0.1:${ports.alertmanager}`,
  ]);
  assert.deepEqual(doc.global.scrape_interval, "1s");
  assert.ok(doc.rule_files.every((f: string) => f.startsWith("/")), "rule files are absolute");
  assert.ok(doc.rule_files.some((f: string) => f.endsWith("test-overlay/fast-alert-rules.yaml")));
});

Deno.test({
  name: "rendered and committed Prometheus configs pass promtool check config",
  ignore: missing("promtool"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "obskit-prom-" });
    try {
      const rendered = join(dir, "prometheus.yml");
      await Deno.writeTextFile(
        rendered,
        renderPrometheusConfig(await freePorts(), {
          rulesOverlay: [repoPath("rules", "test-overlay")],
        }),
      );
      for (const file of [rendered, repoPath("config", "prometheus.yml")]) {
        const out = await new Deno.Command(findTool("promtool")!, {
          args: ["check", "config", file],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assert.ok(out.success, `promtool check config ${file}:\n${text}`);
        assert.match(text, /SUCCESS: \d+ rule files? found/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "config/alertmanager.yml passes amtool and routes each team to its receiver",
  ignore: missing("amtool"),
  async fn() {
    const file = repoPath("config", "alertmanager.yml");
    const check = await new Deno.Command(findTool("amtool")!, {
      args: ["check-config", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(
      check.success,
      new TextDecoder().decode(check.stdout) + new TextDecoder().decode(check.stderr),
    );
    for (const team of ["sre", "management", "security", "platform"]) {
      const out = await new Deno.Command(findTool("amtool")!, {
        args: [
          "config",
          "routes",
          "test",
          `--config.file=${file}`,
          `team=${team}`,
          "severity=critical",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.deepEqual(new TextDecoder().decode(out.stdout).trim(), team);
    }
  },
});

Deno.test({
  name: "config/jaeger-local.yaml passes jaeger validate",
  ignore: missing("jaeger"),
  async fn() {
    const out = await new Deno.Command(findTool("jaeger")!, {
      args: ["validate", "--config", repoPath("config", "jaeger-local.yaml")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  },
});

/** Runs `fn` with OBSKIT_STATE_DIR pointing at a fresh temp folder; always stops the stack. */
/**
 * Runs `stack up` on `ports` with `dir` as its state folder, and sends
 * `signal` once `component` is recorded there (it is then still starting).
 * Returns the exit code, stderr, and what was recorded at that moment.
 */
async function interruptUp(
  dir: string,
  ports: StackPorts,
  component: string,
  signal: Deno.Signal,
  waitMs: number,
): Promise<{ code: number; err: string; recorded: ComponentState[] }> {
  const portArgs = PORT_SPECS.flatMap((s) => [`--${s.flag}`, String(ports[s.key])]);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", repoPath("scripts", "stack.ts"), "up", ...portArgs],
    env: { OBSKIT_STATE_DIR: dir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && !readState()?.components[component]) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(readState()?.components[component], `${component} recorded`);
  const recorded = Object.values(readState()!.components);
  child.kill(signal);
  const out = await child.output();
  return { code: out.code, err: new TextDecoder().decode(out.stderr), recorded };
}

const quiet = { write: () => {} };

Deno.test({
  name: "partial stack on free ports: up, up again is a no-op, status, down closes every port",
  ignore: missing("jaeger", "prometheus", "prometheus-alertmanager"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-stack-", async () => {
      const ports = await freePorts();
      const only = ["jaeger", "alertmanager", "prometheus"] as const;
      const first = await stackUp({
        ports,
        only: [...only],
        scrapeInterval: "1s",
        progress: quiet,
      });
      assert.deepEqual(first.started, [...only]);
      const pids = Object.fromEntries(
        Object.values(first.state.components).map((c) => [c.name, c.pid]),
      );

      const second = await stackUp({ ports, only: [...only], progress: quiet });
      assert.deepEqual(second.started, []);
      assert.deepEqual(second.alreadyRunning.sort(), [...only].sort());
      const again = Object.fromEntries(
        Object.values(readState()!.components).map((c) => [c.name, c.pid]),
      );
      assert.deepEqual(again, pids, "the second up started nothing new");

      const status = await stackStatus();
      assert.deepEqual(status.map((r) => [r.component, r.healthy, r.pid === null]).sort(), [
        ["alertmanager", true, false],
        ["collector", false, true], // not started: listed, not running
        ["jaeger", true, false],
        ["node-exporter", false, true],
        ["prometheus", true, false],
        ["victorialogs", false, true],
        ["viewer", false, true],
      ]);
      // Prometheus scrapes itself and knows Alertmanager at the given port.
      const res = await fetch(`http://127.0.0.1:${ports.prometheus}/api/v1/alertmanagers`);
      const body = await res.json();
      const deadline = Date.now() + 10_000;
      let ams = body.data.activeAlertmanagers;
      while (ams.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        ams =
          (await (await fetch(`http://127.0.0.1:${ports.prometheus}/api/v1/alertmanagers`)).json())
            .data
            .activeAlertmanagers;
      }
      assert.match(ams[0].url, new RegExp(`127\\.0\\.0\\.1:${ports.alertmanager}/api/v2/alerts`));

      const listening = Object.values(first.state.components).flatMap((c) => c.ports);
      const down = await stackDown();
      assert.deepEqual(down.stopped.sort(), [...only].sort());
      assert.deepEqual(down.stillListening, []);
      for (const port of listening) {
        assert.deepEqual(await isListening(port), false, `port ${port} closed`);
      }
      assert.deepEqual(readState(), null, "state removed");
    });
  },
});

Deno.test({
  name:
    "a component that dies on start is named with its port and last log lines; nothing is left running",
  ignore: missing("jaeger"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-stack-", async () => {
      const ports = await freePorts();
      // Jaeger's query HTTP and gRPC servers on one port: the second bind fails.
      ports.jaegerQueryGrpc = ports.jaegerQuery;
      const err = await stackUp({ ports, only: ["jaeger"], timeoutMs: 20_000, progress: quiet })
        .then(
          () => null,
          (e: Error) => e,
        );
      assert.ok(err instanceof CheckFailed, `expected CheckFailed, got ${err}`);
      assert.match(
        err.message,
        new RegExp(`^jaeger \\(port ${ports.jaegerQuery}\\) exited; last lines of `),
      );
      assert.match(err.message, /address already in use|bind/i);
      assert.deepEqual(readState(), null);
      assert.deepEqual(await isListening(ports.jaegerOtlpGrpc), false);
    });
  },
});

Deno.test({
  name:
    "collector-local --check: the real collector with the shipped config answers on its health port",
  ignore: missing("otelcol-obskit"),
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "obskit-collector-local-" });
    try {
      await collectorLocalCheck(state);
    } finally {
      await Deno.remove(state, { recursive: true });
    }
  },
});

/** collector-local --check on free ports with `state` as its state folder; then a taken port. */
async function collectorLocalCheck(state: string) {
  const ports = await freePorts();
  const flags = PORT_SPECS.filter((s) => s.component === "collector").flatMap((s) => [
    `--${s.flag}`,
    String(ports[s.key]),
  ]);
  const run = (extra: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        repoPath("scripts", "collector_local.ts"),
        "--check",
        ...flags,
        ...extra,
      ],
      // A private state folder: the collector's queue goes there, not to the repository.
      env: { NO_COLOR: "1", OBSKIT_STATE_DIR: state },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const ok = await run([]);
  const text = new TextDecoder().decode(ok.stderr);
  assert.equal(ok.code, 0, text);
  assert.match(
    text,
    new RegExp(`collector healthy: http://127\\.0\\.0\\.1:${ports.collectorHealth}/`),
  );
  assert.equal(await isListening(ports.otlpGrpc), false, "stopped after --check");

  const holder = Deno.listen({ hostname: "127.0.0.1", port: ports.otlpHttp });
  try {
    const taken = await run([]);
    assert.equal(taken.code, 1);
    assert.match(
      new TextDecoder().decode(taken.stderr),
      new RegExp(`port ${ports.otlpHttp} is already in use by pid ${Deno.pid}`),
    );
  } finally {
    holder.close();
  }
  assert.ok(existsSync(join(state, "collector-local", "queue")), "its own queue folder");
}

/** `collector-local --docker --check` on free ports; only the docker preflight can answer. */
async function collectorLocalDocker(env: Record<string, string>) {
  const ports = await freePorts();
  return runScript("scripts/collector_local.ts", ["-A"], [
    "--docker",
    "--check",
    "--health-port",
    String(ports.collectorHealth),
    "--otlp-grpc-port",
    String(ports.otlpGrpc),
    "--otlp-http-port",
    String(ports.otlpHttp),
  ], { env: { NO_COLOR: "1", ...env } });
}

Deno.test("collector-local --docker without the docker CLI: exit 2 saying what to install", async () => {
  // PATH without docker (and without anything else: the script needs none before the check).
  const out = await collectorLocalDocker({ PATH: "/nonexistent" });
  assert.equal(out.code, 2, out.stderr);
  assert.match(out.stderr, /docker not found on PATH \(install Docker/);
});

Deno.test({
  name: "collector-local --docker with a docker CLI but no engine: exit 2 naming the problem",
  // Runs where a docker client exists without a daemon (as on our CI machines).
  ignore: findTool("docker") === null || existsSync("/var/run/docker.sock"),
  async fn() {
    const out = await collectorLocalDocker({
      DOCKER_HOST: `unix://${join(Deno.cwd(), "no-such-docker.sock")}`,
    });
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /no Docker engine answers \(.*\) \(start the Docker daemon/);
  },
});

Deno.test({
  name: "stack CLI with its deno.json permissions: up, status, logs, up again, down",
  ignore: missing("prometheus"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "obskit-stack-cli-" });
    const ports = await freePorts();
    const task = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", "--config", repoPath("deno.json"), "stack", ...args],
        env: { OBSKIT_STATE_DIR: state, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        code: out.code,
        out: new TextDecoder().decode(out.stdout),
        err: new TextDecoder().decode(out.stderr),
      };
    };
    try {
      const up = await task("up", "prometheus", "--prometheus-port", String(ports.prometheus));
      assert.equal(up.code, 0, up.err);
      assert.match(up.out, new RegExp(`^prometheus\\s+\\d+\\s+${ports.prometheus}\\s+yes$`, "m"));
      // Only Prometheus runs: status lists every component and fails.
      const status = await task("status");
      assert.equal(status.code, 1, status.err);
      assert.match(status.out, /^component\s+pid\s+port\s+healthy$/m);
      assert.match(
        status.out,
        new RegExp(`^prometheus\\s+\\d+\\s+${ports.prometheus}\\s+yes$`, "m"),
      );
      for (const name of ["jaeger", "collector", "alertmanager"]) {
        assert.match(status.out, new RegExp(`^${name}\\s+-\\s+\\d+\\s+not running$`, "m"));
      }
      assert.match(
        status.err,
        /not running or not healthy: jaeger, victorialogs, collector, alertmanager, node-exporter, viewer/,
      );
      const logs = await task("logs", "prometheus", "-n", "50");
      assert.equal(logs.code, 0);
      assert.match(logs.out, /Server is ready to receive web requests/);
      const again = await task("up", "prometheus");
      assert.equal(again.code, 0);
      assert.match(again.err, /already running; nothing to do/);
      assert.ok(
        existsSync(join(state, "data", "prometheus")),
        "Prometheus data in the state folder",
      );
      const down = await task("down", "--purge");
      assert.equal(down.code, 0, down.err);
      assert.match(down.out, /^stopped: prometheus \(pid \d+\)$/m);
      assert.match(down.out, /^removed: /m);
      for (const left of ["data", "logs", "prometheus.yml", "stack.json"]) {
        assert.equal(existsSync(join(state, left)), false, `${left} removed`);
      }
      assert.equal(await isListening(ports.prometheus), false);
      const after = await task("status");
      assert.equal(after.code, 1);
      assert.match(after.out, /not running/);
      assert.equal((await task("frob")).code, 2);
    } finally {
      const before = Deno.env.get("OBSKIT_STATE_DIR");
      Deno.env.set("OBSKIT_STATE_DIR", state);
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true });
    }
  },
});

Deno.test("demoTraffic: even a 1 s run sends /error, a slow request and both admin calls; statuses add up", async () => {
  const seen: string[] = [];
  const handler = (req: Request) => {
    const u = new URL(req.url);
    const path = u.pathname + u.search;
    seen.push(path + (req.headers.get("authorization") ? " (token)" : ""));
    if (u.pathname === "/error") return new Response("boom", { status: 500 });
    if (u.pathname === "/api/admin") {
      return new Response("no", { status: req.headers.get("authorization") ? 403 : 401 });
    }
    return new Response("ok");
  };
  const app = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const pull = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    const t = await demoTraffic({ app: app.addr.port, pull: pull.addr.port }, 1000, 2);
    for (const want of ["/error", "/api/data?delay=0.5", "/api/admin", "/api/admin (token)"]) {
      assert.ok(seen.includes(want), `${want} requested (saw ${seen.join(", ")})`);
    }
    assert.ok(t.statusCounts["500"] >= 1 && t.statusCounts["401"] >= 1);
    assert.ok(t.statusCounts["403"] >= 1);
    const sum = Object.values(t.statusCounts).reduce((a, b) => a + b, 0);
    assert.equal(t.responses, sum);
    assert.equal(t.responses, seen.length);
  } finally {
    await app.shutdown();
    await pull.shutdown();
  }
});

Deno.test("prometheusDuration: durationFlag's forms become Prometheus durations; bad ones are usage errors", () => {
  assert.equal(prometheusDuration("5"), "5s");
  assert.equal(prometheusDuration("5s"), "5s");
  assert.equal(prometheusDuration("1.5s"), "1500ms");
  assert.equal(prometheusDuration("90s"), "90s");
  assert.equal(prometheusDuration("120s"), "2m");
  assert.equal(prometheusDuration("2h"), "2h");
  assert.equal(prometheusDuration("250ms"), "250ms");
  for (const bad of ["5x", "", "-1s", "0", "0.5ms"]) {
    assert.throws(() => prometheusDuration(bad), UsageError, bad);
  }
  const doc = parse(renderPrometheusConfig(defaultPorts(), { scrapeInterval: "5" }));
  assert.equal(doc.global.scrape_interval, "5s");
  assert.equal(doc.global.evaluation_interval, "5s");
});

Deno.test("stack up --scrape-interval: a bad value is exit 2 before anything starts; '5' is 5s", async () => {
  const state = await Deno.makeTempDir({ prefix: "obskit-stack-si-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", repoPath("scripts", "stack.ts"), "up", "--scrape-interval", "5x"],
      env: { OBSKIT_STATE_DIR: state, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, err);
    assert.equal(err.trim().split("\n").length, 1, err);
    assert.match(err, /--scrape-interval must be a duration/);
    assert.equal(existsSync(join(state, "stack.json")), false, "nothing started");
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test({
  name:
    "state lock: two concurrent ups start one Jaeger; a stale lock is taken over; a live one names its pid",
  ignore: missing("jaeger"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-stack-", async (dir) => {
      const ports = await freePorts();
      const [a, b] = await Promise.all([
        stackUp({ ports, only: ["jaeger"], progress: quiet }),
        stackUp({ ports, only: ["jaeger"], progress: quiet }),
      ]);
      assert.deepEqual([...a.started, ...b.started], ["jaeger"], "exactly one started it");
      assert.deepEqual([...a.alreadyRunning, ...b.alreadyRunning], ["jaeger"]);
      assert.equal(existsSync(lockPath()), false, "lock released");
      const status = await stackStatus();
      assert.equal(status.find((r) => r.component === "jaeger")?.healthy, true);
      await stackDown();

      // A lock left by a process that is gone is stale.
      const dead = new Deno.Command("true").spawn();
      await dead.status;
      Deno.writeTextFileSync(join(dir, "stack.lock"), `${dead.pid}\n`);
      const down = await stackDown({ lockWaitMs: 500 });
      assert.deepEqual(down.stopped, []);

      // A live holder: wait, then fail naming it.
      const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
      try {
        Deno.writeTextFileSync(join(dir, "stack.lock"), `${sleeper.pid}\n`);
        const err = await stackUp({ ports, only: ["jaeger"], progress: quiet, lockWaitMs: 400 })
          .then(() => null, (e: Error) => e);
        assert.ok(err instanceof CheckFailed, `expected CheckFailed, got ${err}`);
        assert.match(
          err.message,
          new RegExp(`another 'stack up' or 'stack down' \\(pid ${sleeper.pid}\\)`),
        );
        assert.equal(readState(), null, "nothing started");
      } finally {
        sleeper.kill("SIGKILL");
        await sleeper.status;
        Deno.removeSync(join(dir, "stack.lock"));
      }
    });
  },
});

Deno.test({
  name: "stack up interrupted (SIGINT): stops what it started, exits 130; status then fails",
  ignore: missing("jaeger", "otelcol-obskit", "prometheus", "prometheus-alertmanager"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-stack-", async (dir) => {
      const ports = await freePorts();
      // Interrupt once the first component is recorded (it is still being waited for).
      const { code, err } = await interruptUp(dir, ports, "jaeger", "SIGINT", 20_000);
      assert.equal(code, 130, err);
      assert.match(err, /interrupted; stopped what this 'up' had started \(jaeger/);
      assert.equal(readState(), null, "no partial stack recorded");
      for (const port of [ports.jaegerQuery, ports.otlpGrpc, ports.prometheus]) {
        assert.equal(await isListening(port), false, `port ${port} closed`);
      }
      const status = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", repoPath("scripts", "stack.ts"), "status"],
        env: { OBSKIT_STATE_DIR: dir, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(status.code, 1);
    });
  },
});

Deno.test({
  name: "collector-local: Ctrl-C (SIGINT) stops the collector and exits 130",
  ignore: missing("otelcol-obskit"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "obskit-collector-local-" });
    const ports = await freePorts();
    const flags = PORT_SPECS.filter((s) => s.component === "collector").flatMap((s) => [
      `--${s.flag}`,
      String(ports[s.key]),
    ]);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", repoPath("scripts", "collector_local.ts"), ...flags],
      env: { NO_COLOR: "1", OBSKIT_STATE_DIR: state },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let text = "";
    const reader = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
    })();
    const deadline = Date.now() + 30_000;
    while (!/collector healthy/.test(text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(text, /collector healthy/);
    child.kill("SIGINT");
    const status = await child.status;
    await reader;
    assert.equal(status.code, 130, text.slice(-2000));
    assert.equal(await isListening(ports.collectorHealth), false, "collector stopped");
    await Deno.remove(state, { recursive: true });
  },
});

/** `deno task stack ...` with the task's deno.json permissions, on a given state folder. */
async function stackTask(state: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "--config", repoPath("deno.json"), "stack", ...args],
    env: { OBSKIT_STATE_DIR: state, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

Deno.test({
  name:
    "stack down with a truncated stack.json: finds what up started (pid files), says so, closes every port",
  ignore: missing("prometheus", "prometheus-alertmanager"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-stack-", async (dir) => {
      const ports = await freePorts();
      const up = await stackUp({ ports, only: ["alertmanager", "prometheus"], progress: quiet });
      const started = Object.values(up.state.components);
      const text = Deno.readTextFileSync(join(dir, "stack.json"));
      Deno.writeTextFileSync(join(dir, "stack.json"), text.slice(0, text.length >> 1));
      const down = await stackTask(dir, "down");
      assert.equal(down.code, 0, down.out + down.err);
      assert.match(down.err, /stack\.json is damaged/);
      assert.match(down.out, /^stopped: prometheus \(pid \d+\), alertmanager \(pid \d+\)$/m);
      for (const c of started) {
        for (const port of c.ports) assert.equal(await isListening(port), false, `${port} closed`);
      }
      assert.equal(existsSync(join(dir, "stack.json")), false, "damaged state removed");
      assert.equal(readState(), null);
    });
  },
});

Deno.test({
  name:
    "stack down with a garbled stack.json and no pid files: exit 1 saying it could not find what runs",
  ignore: missing("prometheus"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-stack-", async (dir) => {
      const ports = await freePorts();
      const up = await stackUp({ ports, only: ["prometheus"], progress: quiet });
      const prom = up.state.components.prometheus;
      try {
        Deno.writeTextFileSync(join(dir, "stack.json"), '{"version": 1, "ports": {"otl');
        Deno.removeSync(join(dir, "pids"), { recursive: true });
        const down = await stackTask(dir, "down");
        assert.equal(down.code, 1, down.out + down.err);
        assert.match(down.err, /stack\.json is damaged/);
        assert.match(down.err, /could not tell what 'stack up' started/);
        assert.doesNotMatch(down.out, /nothing to stop/);
        assert.equal(existsSync(join(dir, "stack.json")), true, "the evidence is kept");
      } finally {
        await stopProcess(prom.pid, prom.startTime);
        Deno.removeSync(join(dir, "stack.json"));
      }
    });
  },
});

Deno.test({
  name: "stack up hung up (SIGHUP): stops what it started like Ctrl-C, exits 129, lock released",
  ignore: missing("jaeger", "otelcol-obskit"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-stack-", async (dir) => {
      const ports = await freePorts();
      // Hang up once the collector is recorded: Jaeger is healthy, the collector starting.
      const { code, err, recorded: pids } = await interruptUp(
        dir,
        ports,
        "collector",
        "SIGHUP",
        60_000,
      );
      assert.equal(code, 129, err);
      assert.match(
        err,
        /interrupted; stopped what this 'up' had started \(jaeger, victorialogs, collector\)/,
      );
      assert.equal(readState(), null, "no partial stack recorded");
      assert.equal(existsSync(lockPath()), false, "lock released");
      for (const c of pids) assert.equal(await isAlive(c.pid, c.startTime), false, c.name);
      for (const port of [ports.jaegerQuery, ports.otlpGrpc, ports.collectorHealth]) {
        assert.equal(await isListening(port), false, `port ${port} closed`);
      }
    });
  },
});
