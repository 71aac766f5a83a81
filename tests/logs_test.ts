/**
 * Logs that arrive somewhere, by trace, against the real programs: the push
 * demo's and the instrumented app's log lines go over OTLP to the
 * collector, whose local logs pipeline exports them (protobuf) to the
 * stack's VictoriaLogs; `deno task logs --trace ID` prints them, verify's
 * correlation rows pass; bad input is one line and exit 2.
 */
import { strict as assert } from "node:assert";
import { encodeLogRequest, type LogEntry, LogExporter } from "../apps/lib/log_export.ts";
import { createLogger, isoTime, setLogForwarder, setLogSink } from "../apps/lib/logger.ts";
import { trace, TraceFlags } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import { buildResource } from "../apps/otel_setup.ts";
import { runDoctor } from "../scripts/lib/doctor/mod.ts";
import { logsQuery, queryLogs } from "../scripts/lib/logs/mod.ts";
import { freePorts, stackUp } from "../scripts/lib/stack/mod.ts";
import { runPush, startApp } from "../scripts/lib/stack/stack_apps.ts";
import { checkCorrelation } from "../scripts/lib/verify/mod.ts";
import { eventually, inPrivateState, missing } from "./support.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import { droppedCount } from "../apps/lib/telemetry_loss.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

async function logsTask(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "logs", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("logs: the LogsQL query per flag; bad values are usage errors", () => {
  assert.equal(
    logsQuery({ traceId: TRACE.toUpperCase() }),
    `trace_id:="${TRACE}" | sort by (_time)`,
  );
  assert.equal(
    logsQuery({ service: "platform-app", sinceSeconds: 900, level: "warn" }),
    `"service.name":="platform-app" _time:900s severity_text:in("WARN","ERROR") | sort by (_time)`,
  );
  // A quote in a service name stays inside the literal.
  assert.match(logsQuery({ service: 'a" or *' }), /^"service\.name":="a\\" or \*" /);
  assert.throws(() => logsQuery({ traceId: "xyz" }), /--trace must be a trace id of 32 hex/);
  assert.throws(() => logsQuery({ level: "loud" }), /--level must be one of DEBUG, INFO/);
});

Deno.test("logs: a line's timestamp is exactly toISOString, across seconds, days and years", () => {
  const times = [0, 1, 9, 10, 99, 100, 999, 1000, 59_999, 86_399_999, 951_782_400_000];
  for (let t = Date.UTC(2026, 11, 31, 23, 59, 59, 990); times.length < 60; t += 1) times.push(t);
  for (let i = 0; i < 2000; i++) times.push(Math.floor(Math.random() * 4_102_444_800_000));
  for (const ms of times) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
});

Deno.test("logs: the logger hands the export its record, trace context included", () => {
  const entries: { entry: LogEntry; chars: number }[] = [];
  const lines: string[] = [];
  const previousSink = setLogSink({ write: (l) => lines.push(l) });
  const previous = setLogForwarder((entry, chars) => entries.push({ entry, chars }));
  try {
    const logger = createLogger("platform-app");
    const span = trace.wrapSpanContext({
      traceId: TRACE,
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.SAMPLED,
    });
    logger.logWithSpan!("WARN", "slow", span.spanContext(), { endpoint: "/api/data", status: 200 });
  } finally {
    setLogForwarder(previous);
    setLogSink(previousSink);
  }
  assert.equal(entries.length, 1);
  const { entry, chars } = entries[0];
  const line = JSON.parse(lines[0]);
  assert.equal(chars, lines[0].length - 1, "the stdout line's length, without its newline");
  assert.equal(entry.timeMs, Date.parse(line.timestamp), "the stdout line's own timestamp");
  assert.deepEqual(
    { ...entry, timeMs: 0 },
    {
      timeMs: 0,
      level: "WARN",
      message: "slow",
      traceId: TRACE,
      spanId: "00f067aa0ba902b7",
      fields: { endpoint: "/api/data", status: 200 },
    },
  );
});

Deno.test({
  name: "logs: bad input is one line and exit 2; an unreachable backend is exit 2",
  async fn() {
    for (
      const [args, message] of [
        [[], /give --trace ID or --service NAME/],
        [["--trace", "nothex"], /--trace must be a trace id of 32 hex digits/],
        [["--trace", TRACE, "--level", "loud"], /--level must be one of/],
        [["--trace", TRACE, "--since", "yesterday"], /--since/],
        [["--trace", TRACE, "--url", "ftp://x"], /--url must be an http\(s\) URL/],
        [["--trace", TRACE, "--url", "http://logs.example:9428"], /--url must be on this machine/],
        [["--trace", TRACE, "--url", "http://127.0.0.1:9"], /logs backend at .* did not answer/],
      ] as const
    ) {
      const r = await logsTask([...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
  },
});

Deno.test({
  name:
    "logs end to end: the push demo's and the app's lines reach VictoriaLogs through the collector; logs --trace prints them; verify's correlation rows pass",
  ignore: missing("otelcol-obskit", "jaeger", "prometheus", "victoria-logs"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-logs-", async (state) => {
      const ports = await freePorts();
      await stackUp({
        ports,
        only: ["jaeger", "victorialogs", "collector", "prometheus"],
        scrapeInterval: "1s",
        timeoutMs: 90_000,
      });
      const vl = `http://127.0.0.1:${ports.victorialogs}`;
      const push = await runPush(ports);
      assert.equal(push.code, 0, push.output);
      const traceId = push.traceId!;
      const lines = await eventually(
        "the push demo's log lines in VictoriaLogs",
        30_000,
        async () => {
          const l = await queryLogs(vl, { traceId });
          return l.length >= 4 ? l : undefined;
        },
      );
      assert.deepEqual(
        lines.map((l) => l.message).sort(),
        [
          "action performed",
          "user action validated",
          "user request completed",
          "user request started",
        ],
      );
      for (const l of lines) {
        assert.equal(l.traceId, traceId);
        assert.match(l.spanId, /^[0-9a-f]{16}$/);
        assert.equal(l.service, "trace-demo-service");
        assert.equal(l.level, "INFO");
      }

      // The task, reading the stack's port from its state.
      const env = { OBSKIT_STATE_DIR: state };
      const printed = await logsTask(["--trace", traceId], env);
      assert.equal(printed.code, 0, printed.stderr);
      assert.equal(printed.stdout.trim().split("\n").length, 4, printed.stdout);
      assert.match(
        printed.stdout,
        /INFO\s+trace-demo-service\s+span=[0-9a-f]{16}\s+user request started/,
      );
      const none = await logsTask(["--trace", TRACE], env);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no log lines for trace/);

      // The instrumented app's request lines carry the request's trace id.
      await startApp("instrumented-app", ports, { env: { OTEL_METRIC_EXPORT_INTERVAL: "1000" } });
      const res = await fetch(`http://127.0.0.1:${ports.app}/api/data?delay=0.2`);
      await res.body?.cancel();
      const appTrace = res.headers.get("traceparent")!.split("-")[1];
      const appLines = await eventually("the app's request lines", 30_000, async () => {
        const l = await queryLogs(vl, { traceId: appTrace });
        return l.some((x) => x.message === "data served") ? l : undefined;
      });
      assert.ok(appLines.every((l) => l.service === "platform-app"));
      const warn = await logsTask(["--service", "platform-app", "--level", "ERROR"], env);
      assert.equal(warn.code, 1, warn.stdout);

      // verify's rows: an exemplar's trace in Jaeger, the push demo's lines in VictoriaLogs.
      const rows = await eventually("verify's correlation rows", 60_000, async () => {
        const again = await fetch(`http://127.0.0.1:${ports!.app}/api/data?delay=0.1`);
        await again.body?.cancel();
        const r = await checkCorrelation({
          prometheus: `http://127.0.0.1:${ports!.prometheus}`,
          jaeger: `http://127.0.0.1:${ports!.jaegerQuery}`,
          victorialogs: vl,
          metrics: true,
          traceId,
        });
        return r.every((x) => x.status === "ok") ? r : undefined;
      });
      assert.equal(rows.length, 2);

      // doctor knows the backend: healthy, with lines from both services.
      const doctor = await runDoctor({
        ports,
        prometheus: `http://127.0.0.1:${ports.prometheus}`,
        jaeger: `http://127.0.0.1:${ports.jaegerQuery}`,
      });
      const line = doctor.find((l) => l.check === `victorialogs :${ports!.victorialogs}`);
      assert.equal(line?.status, "ok", JSON.stringify(line));
      assert.match(line!.detail, /platform-app, trace-demo-service/);
    });
  },
});

/** A local /v1/logs that records request sizes (answering after `delayMs`), and an exporter to it. */
function logSink(resource: Resource, delayMs = 0) {
  const sizes: number[] = [];
  const srv = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const size = (await req.arrayBuffer()).byteLength;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs)); // a busy collector's answer
    sizes.push(size);
    return new Response("{}");
  });
  const exporter = new LogExporter({ url: `http://127.0.0.1:${srv.addr.port}/v1/logs`, resource });
  return { sizes, exporter, close: () => srv.shutdown() };
}

Deno.test({
  name: "log export is bounded: values cut at 2,048 characters, queue and batches in characters",
  permissions: { net: true, env: true, read: true },
  async fn() {
    const resource = buildResource({ serviceName: "bounds", env: {} });
    const huge = "x".repeat(60_000);
    const entry: LogEntry = {
      timeMs: Date.now(),
      level: "INFO",
      message: huge,
      fields: { path: huge },
    };
    const chars = huge.length * 2 + 100;
    // Body and attribute cut at 2,048 characters each (exact bytes: otlp_proto_test.ts).
    const encoded = encodeLogRequest([entry], resource).byteLength;
    assert.ok(encoded > 2 * 2048 && encoded < 2 * 2048 + 1024, `${encoded} bytes`);

    // A collector that records request sizes: no batch near its 20 MiB limit.
    const { sizes, exporter, close } = logSink(resource);
    try {
      const before = droppedCount("logs", "queue_full");
      for (let i = 0; i < 200; i++) exporter.push(entry, chars); // 24 MB of lines: over 8 MiB
      const dropped = droppedCount("logs", "queue_full") - before;
      assert.ok(dropped > 0 && dropped < 200, `${dropped} of 200 lines counted as dropped`);
      await exporter.flush();
      assert.equal(sizes.length > 1, true, "sent in several batches");
      assert.ok(
        Math.max(...sizes) < 4 * 1024 * 1024,
        `largest request ${Math.max(...sizes)} bytes`,
      );
    } finally {
      await close();
    }
  },
});

Deno.test({
  name:
    "log export: 50,000 lines a second reach a collector that takes 40 ms per request, none dropped",
  permissions: { net: true, env: true, read: true },
  async fn() {
    const { sizes, exporter, close } = logSink(buildResource({ serviceName: "busy", env: {} }), 40);
    const before = droppedCount("logs", "queue_full");
    try {
      for (let tick = 0; tick < 150; tick++) {
        for (let i = 0; i < 500; i++) {
          exporter.push({ timeMs: Date.now(), level: "INFO", message: `line ${tick}.${i}` }, 60);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await exporter.flush();
      assert.equal(droppedCount("logs", "queue_full") - before, 0, "no line dropped");
      assert.ok(sizes.length > 0);
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "log export: a flush with nothing to send (the idle timer) does not stop later sends",
  permissions: { net: true, env: true, read: true },
  async fn() {
    const { sizes: posts, exporter, close } = logSink(
      buildResource({ serviceName: "idle", env: {} }),
    );
    try {
      exporter.push({ timeMs: Date.now(), level: "INFO", message: "before" }, 60);
      await exporter.flush();
      await exporter.flush(); // what the one-second timer does while the app is idle
      for (let i = 0; i < 2500; i++) {
        exporter.push({ timeMs: Date.now(), level: "INFO", message: `after ${i}` }, 60);
      }
      await new Promise((r) => setTimeout(r, 300));
      // "before", then the two full batches (2,048 lines) in one request; the rest waits.
      assert.ok(
        posts.length >= 2,
        `${posts.length} requests: full batches leave after an idle flush`,
      );
      await exporter.flush();
    } finally {
      await close();
    }
  },
});

Deno.test({
  name:
    "log export: a full batch leaves at once, not at the next second (no overflow at high rates)",
  permissions: { net: true, env: true, read: true },
  async fn() {
    const { sizes: posts, exporter, close } = logSink(
      buildResource({ serviceName: "early", env: {} }),
    );
    try {
      for (let i = 0; i < 2500; i++) {
        exporter.push({ timeMs: Date.now(), level: "INFO", message: `line ${i}` }, 60);
      }
      await new Promise((r) => setTimeout(r, 300));
      // Two full batches leave together in one request; the 452 lines after them wait.
      assert.ok(posts.length >= 1, `${posts.length} requests within 300 ms (the timer is 1 s)`);
      await exporter.flush();
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "log export: a steady stream leaves in full batches, not one small request per round trip",
  permissions: { net: true, env: true, read: true },
  async fn() {
    const { sizes: posts, exporter, close } = logSink(
      buildResource({ serviceName: "steady", env: {} }),
      5,
    );
    try {
      // 8,000 lines a second for a second, against a collector answering in 5 ms.
      for (let tick = 0; tick < 100; tick++) {
        for (let i = 0; i < 80; i++) {
          exporter.push({ timeMs: Date.now(), level: "INFO", message: `line ${tick}.${i}` }, 60);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      const during = posts.length;
      await exporter.flush();
      // 8,000 lines are 8 batches of 1,024; each round trip used to send whatever had
      // arrived meanwhile (about 100 requests of 80 lines, each costing the app a fetch).
      assert.ok(
        during >= 5,
        `${during} requests: full batches leave without waiting for the timer`,
      );
      assert.ok(posts.length <= 12, `${posts.length} requests for 8,000 lines`);
    } finally {
      await close();
    }
  },
});

Deno.test({
  name:
    "logger: loading it reads no variable, so a script granted only its own never prompts in a terminal",
  ignore: missing("script"),
  permissions: { run: true, read: true, env: true },
  async fn() {
    const deno = Deno.execPath();
    // doctor and the bench's floor server load the OTLP endpoint rule, which loads the logger;
    // `script` gives them a terminal, where Deno asks for a permission instead of failing.
    for (
      const command of [
        `${deno} task doctor --help`,
        `${deno} run --allow-net --allow-env=OTEL_EXPORTER_OTLP_ENDPOINT scripts/lib/bench/floor_app.ts --port x`,
      ]
    ) {
      // A prompt is answered "n" (and a command that never asks ends on its own); `timeout`
      // bounds either way.
      const child = new Deno.Command("script", {
        args: ["-qec", `timeout 15 ${command}`, "/dev/null"],
        cwd: repoPath(),
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const input = child.stdin.getWriter();
      await input.write(new TextEncoder().encode("n\nn\nn\n"));
      await input.close();
      const out = await child.output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.doesNotMatch(text, /Deno requests/, `${command}:\n${text}`);
    }
  },
});
