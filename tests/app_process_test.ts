/**
 * The demo programs as a user runs them: `deno task run-app`, `run-pull`,
 * `run-push` in child processes on free loopback ports.
 */
import { strict as assert } from "node:assert";
import { freePort, waitForHttp } from "../scripts/lib/net.ts";
import { REPO_ROOT } from "../scripts/lib/paths.ts";
import { findTool, missing } from "./support.ts";

const spawning = {
  permissions: { net: true, run: true, env: true, read: true, sys: true },
  sanitizeResources: false,
} as const;

interface Proc {
  child: Deno.ChildProcess;
  stdout: string[];
  stderr: string[];
  done: Promise<Deno.CommandStatus>;
}

function spawnTask(task: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = new Deno.Command("deno", {
    args: ["task", "-q", task, ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) into.push(chunk);
  };
  const pumps = Promise.all([pump(child.stdout, stdout), pump(child.stderr, stderr)]);
  const done = child.status.then(async (s) => {
    await pumps;
    return s;
  });
  return { child, stdout, stderr, done };
}

async function stop(proc: Proc) {
  try {
    proc.child.kill("SIGTERM");
  } catch { /* already gone */ }
  await proc.done;
}

/** An OTLP endpoint that refuses connections: a free port nobody listens on. */
function deadCollector(): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${freePort()}` };
}

Deno.test({
  name: "run-app answers /health within 5 s of starting and serves the chapter's endpoints",
  ...spawning,
  async fn() {
    const port = freePort();
    const t0 = performance.now();
    const app = spawnTask(
      "run-app",
      ["--port", String(port), "--host", "127.0.0.1"],
      deadCollector(),
    );
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`, 5000, 50);
      const startup = performance.now() - t0;
      console.log(`run-app healthy after ${startup.toFixed(0)} ms`);
      assert.ok(startup < 5000);
    } finally {
      await stop(app);
    }
  },
});

Deno.test({
  name: "SIGTERM during a slow request lets it finish, then the app exits 0",
  ...spawning,
  async fn() {
    const port = freePort();
    const app = spawnTask(
      "run-app",
      ["--port", String(port), "--host", "127.0.0.1"],
      deadCollector(),
    );
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`, 10_000);
      const slow = fetch(`http://127.0.0.1:${port}/api/data?delay=1`);
      // Signal only once the server is serving it (the gauge counts it and this scrape).
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        if (/^http_active_connections 2$/m.test(text)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      app.child.kill("SIGTERM");
      const res = await slow;
      assert.equal(res.status, 200);
      assert.equal((await res.json()).delay_seconds, 1);
      const status = await app.done;
      assert.equal(status.code, 0, app.stderr.join(""));
      const out = app.stdout.join("");
      assert.match(out, /shutting down/);
      assert.match(out, /shutdown complete/);
    } finally {
      await stop(app);
    }
  },
});

// Deno wants --allow-all to read another process's /proc entries; ps reads them for us.
async function rssKiB(pid: number): Promise<number> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  })
    .output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** The deno process that runs the app: the task's child. */
async function appPid(taskPid: number): Promise<number> {
  const out = await new Deno.Command("pgrep", { args: ["-P", String(taskPid)], stdout: "piped" })
    .output();
  const child = new TextDecoder().decode(out.stdout).trim().split(/\s+/)[0];
  return Number(child || taskPid);
}

Deno.test({
  name: "with no collector the app keeps serving, warns at most once, and its memory stays flat",
  ...spawning,
  async fn() {
    const port = freePort();
    const app = spawnTask("run-app", ["--port", String(port), "--host", "127.0.0.1"], {
      ...deadCollector(),
      OTEL_BSP_SCHEDULE_DELAY: "50",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
      OTEL_EXPORTER_OTLP_TIMEOUT: "500",
      LOG_LEVEL: "WARN",
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitForHttp(`${base}/health`, 10_000);
      const burst = async (n: number) => {
        const t0 = performance.now();
        for (let i = 0; i < n; i += 50) {
          await Promise.all(
            Array.from(
              { length: 50 },
              () => fetch(`${base}/api/data`).then((r) => r.body?.cancel()),
            ),
          );
        }
        return n / ((performance.now() - t0) / 1000);
      };
      await burst(2000); // warm-up: JIT, caches, heap growth, first export failures
      const pid = await appPid(app.child.pid);
      await burst(4000);
      const rssMid = await rssKiB(pid);
      const rps = await burst(4000);
      const rssAfter = await rssKiB(pid);
      console.log(`no collector: ${rps.toFixed(0)} req/s, RSS ${rssMid} -> ${rssAfter} KiB`);
      assert.ok(rps > 200, `still serving at speed (${rps.toFixed(0)} req/s)`);
      // A smoke check on the whole process (V8 grows its heap lazily, so RSS is
      // noisy); the exact bound, 2,048 queued spans, is asserted in
      // otel_setup_test.ts with an exporter that never answers.
      assert.ok(rssAfter - rssMid < 40_000, `RSS grew ${rssAfter - rssMid} KiB`);
      await stop(app);
      const warnings = app.stdout.join("").split("\n").filter((l) =>
        l.includes('"level":"WARN"') && l.includes("telemetry export problem")
      );
      assert.equal(warnings.length, 1, `expected one export warning, got:\n${warnings.join("\n")}`);
    } finally {
      await stop(app);
    }
  },
});

Deno.test({
  name: "run-push with no collector exits non-zero with a one-line reason in under 10 s",
  ...spawning,
  async fn() {
    const t0 = performance.now();
    const push = spawnTask("run-push", [], deadCollector());
    const status = await push.done;
    const seconds = (performance.now() - t0) / 1000;
    assert.notEqual(status.code, 0);
    assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`);
    const errLines = push.stderr.join("").trim().split("\n").filter((l) => l.trim());
    assert.equal(errLines.length, 1, push.stderr.join(""));
    assert.match(
      errLines[0],
      /^error: spans were not delivered to http:\/\/127\.0\.0\.1:\d+\/v1\/traces/,
    );
    assert.match(errLines[0], /collector/);
    assert.match(push.stdout.join(""), /Trace ID: [0-9a-f]{32}/);
  },
});

Deno.test({
  name: "bad flags exit 2 with a one-line error",
  ...spawning,
  async fn() {
    for (
      const [task, args] of [
        ["run-app", ["--port", "abc"]],
        ["run-pull", ["--nope"]],
        ["run-app", ["--instrumentation", "maybe"]],
        ["run-push", ["--action", "explode"]],
        ["run-push", ["--timeout", "-1"]],
      ] as const
    ) {
      const p = spawnTask(task, [...args]);
      const status = await p.done;
      assert.equal(status.code, 2, `${task} ${args.join(" ")}`);
      const lines = p.stderr.join("").trim().split("\n");
      assert.equal(lines.length, 1, p.stderr.join(""));
      assert.match(lines[0], /^error: /);
    }
  },
});

Deno.test({
  name: "/metrics of both servers passes promtool check metrics",
  ignore: missing("promtool"),
  ...spawning,
  async fn() {
    const appPort = freePort();
    const pullPort = freePort();
    const app = spawnTask(
      "run-app",
      ["--port", String(appPort), "--host", "127.0.0.1"],
      deadCollector(),
    );
    const pull = spawnTask("run-pull", ["--port", String(pullPort), "--host", "127.0.0.1"]);
    try {
      for (
        const [port, paths] of [[appPort, ["/api/data", "/error", "/nope", "/api/admin"]], [
          pullPort,
          ["/api/items", "/health", "/nope"],
        ]] as const
      ) {
        const base = `http://127.0.0.1:${port}`;
        await waitForHttp(`${base}/health`, 10_000);
        for (const p of paths) await (await fetch(base + p)).body?.cancel();
        const text = await (await fetch(`${base}/metrics`)).text();
        const check = new Deno.Command(findTool("promtool")!, {
          args: ["check", "metrics"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const writer = check.stdin.getWriter();
        await writer.write(new TextEncoder().encode(text));
        await writer.close();
        const out = await check.output();
        const problems = new TextDecoder().decode(out.stdout) +
          new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, `promtool on :${port}: ${problems}`);
      }
    } finally {
      await stop(app);
      await stop(pull);
    }
  },
});

Deno.test({
  name: "a port already in use is named in one line, with the flag that changes it",
  ...spawning,
  async fn() {
    const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (holder.addr as Deno.NetAddr).port;
    try {
      const p = spawnTask("run-pull", ["--port", String(port), "--host", "127.0.0.1"]);
      const status = await p.done;
      assert.equal(status.code, 1);
      const lines = p.stderr.join("").trim().split("\n");
      assert.equal(lines.length, 1, p.stderr.join(""));
      assert.match(
        lines[0],
        new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is already in use`),
      );
      assert.match(lines[0], /--port/);
    } finally {
      holder.close();
    }
  },
});

Deno.test({
  name: "a password in OTEL_EXPORTER_OTLP_ENDPOINT never reaches the apps' output",
  ...spawning,
  async fn() {
    const secret = "pw-" + crypto.randomUUID();
    // The book's scheme-less gRPC form too: it is normalised, and the notice must not echo it.
    // Dead endpoints (nothing listens): every export fails and is warned about. The
    // scheme-less form is a gRPC host:port whose OTLP/HTTP port is the next one.
    const dead = freePort();
    for (
      const endpoint of [
        `http://user:${secret}@127.0.0.1:${dead}`,
        `user:${secret}@127.0.0.1:${dead - 1}`,
      ]
    ) {
      const env = {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_EXPORTER_OTLP_TIMEOUT: "500",
        OTEL_METRIC_EXPORT_INTERVAL: "500",
      };
      const port = freePort();
      const app = spawnTask("run-app", ["--port", String(port)], env);
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`, 15_000);
        await (await fetch(`http://127.0.0.1:${port}/api/data`)).body?.cancel();
        // Until the failed exports have been warned about: those lines could carry the URL.
        const deadline = Date.now() + 15_000;
        while (!app.stdout.join("").includes("telemetry export problem")) {
          assert.ok(Date.now() < deadline, `no export warning:\n${app.stdout.join("")}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await stop(app);
      }
      const push = spawnTask("run-push", [], env);
      await push.done;
      for (const [name, proc] of [["run-app", app], ["run-push", push]] as const) {
        const output = proc.stdout.join("") + proc.stderr.join("");
        assert.ok(output.length > 0, `${name} printed something`);
        assert.ok(!output.includes(secret), `${name} printed the password:\n${output}`);
        assert.ok(!output.includes(secret.slice(0, 6)), `${name} printed part of the password`);
      }
    }
  },
});

/** Connections that send half a request and hold it (a slow-header client). */
async function halfOpen(port: number, count: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i++) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHost: x\r\n"));
      conns.push(c);
    } catch {
      // The server stopped accepting: that is the point.
    }
  }
  return conns;
}

Deno.test({
  name: "out of file descriptors, the apps keep running and serve again once descriptors free up",
  ...spawning,
  async fn() {
    for (const task of ["run-pull", "run-app"]) {
      const port = freePort();
      const child = new Deno.Command("bash", {
        // 256 descriptors: 400 half-open connections exhaust them.
        args: ["-c", `ulimit -n 256 && exec deno task -q ${task} --port ${port}`],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1", ...deadCollector() },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      let exited: Deno.CommandStatus | undefined;
      child.status.then((s) => (exited = s));
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`, 15_000);
        const conns = await halfOpen(port, 400);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(exited, undefined, `${task} is still running with its descriptors exhausted`);
        for (const c of conns) c.close();
        await waitForHttp(`http://127.0.0.1:${port}/health`, 10_000);
        assert.equal(exited, undefined, `${task} is still running`);
      } finally {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        await child.status;
      }
      const [out, err] = await output;
      assert.ok(!/Uncaught/.test(err), `${task}: no uncaught error:\n${err}`);
      const warnings = out.split("\n").filter((l) => l.includes("listener on"));
      assert.ok(warnings.length >= 1 && warnings.length <= 3, `${task}: said once:\n${warnings}`);
    }
  },
});

Deno.test({
  name: "SERVICE_NAME names the service everywhere: /health, log lines (run-app and run-pull)",
  ...spawning,
  async fn() {
    for (const task of ["run-app", "run-pull"]) {
      const port = freePort();
      const app = spawnTask(task, ["--port", String(port)], {
        ...deadCollector(),
        SERVICE_NAME: "checkout-svc",
      });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`, 10_000);
        const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
        assert.equal(health.service, "checkout-svc", `${task} /health`);
      } finally {
        await stop(app);
      }
      const lines = app.stdout.join("").split("\n").filter((l) => l.startsWith("{"));
      const services = new Set(
        lines.map((l) => JSON.parse(l).service).filter((s) => s !== "obskit"),
      );
      assert.deepEqual([...services], ["checkout-svc"], `${task} log lines`);
    }
  },
});
