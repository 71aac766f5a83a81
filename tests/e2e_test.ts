/**
 * End to end with the real programs (collector built from our manifest,
 * Jaeger v2, Prometheus, Alertmanager) on free ports and a private state
 * folder, next to whatever else runs on the machine:
 *
 *   stack up -> both apps -> run-push -> Jaeger returns the trace with
 *   process_user_request and both children under it -> Prometheus holds
 *   http_requests_total from both apps (scraped) and the collector's
 *   exported OTLP metrics -> error traffic makes HighErrorRate fire and reach
 *   Alertmanager (test-only overlay rules/test-overlay: 30s window, for: 5s;
 *   the shipped rule is unchanged) -> stack down leaves no process and no
 *   listening port.
 */
import { strict as assert } from "node:assert";
import { runDoctor } from "../scripts/lib/doctor/mod.ts";
import { isListening } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import { isAlive } from "../scripts/lib/process.ts";
import {
  freePorts,
  readState,
  stackDown,
  type StackPorts,
  stackUp,
} from "../scripts/lib/stack/mod.ts";
import { runPush, startApp } from "../scripts/lib/stack/stack_apps.ts";
import { checkTraceShape, jaegerTrace, promQuery, runVerify } from "../scripts/lib/verify/mod.ts";
import { eventually, missing, trafficLoop } from "./support.ts";

Deno.test({
  name:
    "e2e: stack up -> run-push trace in Jaeger -> metrics in Prometheus -> HighErrorRate in Alertmanager -> stack down",
  ignore: missing("otelcol-obskit", "jaeger", "prometheus", "prometheus-alertmanager"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const state = await Deno.makeTempDir({ prefix: "obskit-e2e-" });
    const before = Deno.env.get("OBSKIT_STATE_DIR");
    Deno.env.set("OBSKIT_STATE_DIR", state);
    const traffic = new AbortController();
    const loops: Promise<void>[] = [];
    let ports: StackPorts | undefined;
    let pids: { pid: number; startTime: number; name: string }[] = [];
    try {
      ports = await freePorts();
      const up = await stackUp({
        ports,
        scrapeInterval: "1s",
        rulesOverlay: [repoPath("rules", "test-overlay")],
        timeoutMs: 90_000,
      });
      assert.deepEqual(up.started, [
        "jaeger",
        "victorialogs",
        "collector",
        "alertmanager",
        "node-exporter",
        "prometheus",
        "viewer",
      ]);
      const p = ports;
      const prom = `http://127.0.0.1:${p.prometheus}`;
      const jaeger = `http://127.0.0.1:${p.jaegerQuery}`;
      await startApp("instrumented-app", p, { env: { OTEL_METRIC_EXPORT_INTERVAL: "2000" } });
      await startApp("metrics-pull", p, { env: { OTEL_METRIC_EXPORT_INTERVAL: "2000" } });
      pids = Object.values(readState()!.components).map((c) => ({
        pid: c.pid,
        startTime: c.startTime,
        name: c.name,
      }));
      assert.equal(pids.length, 9);

      await t.step(
        "run-push: Jaeger returns the trace with both children under process_user_request",
        async () => {
          const push = await runPush(p);
          assert.equal(push.code, 0, push.output);
          assert.ok(push.traceId, `a trace id in:\n${push.output}`);
          const trace = await eventually(
            "the pushed trace in Jaeger",
            30_000,
            () => jaegerTrace(jaeger, push.traceId!),
          );
          const shape = checkTraceShape(trace);
          assert.ok(shape.ok, shape.detail);
          const root = trace.spans.find((s) => s.operationName === "process_user_request")!;
          for (const child of ["validate_user_action", "perform_action"]) {
            const s = trace.spans.find((x) => x.operationName === child)!;
            assert.equal(s.references?.find((r) => r.refType === "CHILD_OF")?.spanID, root.spanID);
          }
        },
      );

      // Ordinary traffic on both apps while the rest runs.
      loops.push(
        trafficLoop(
          `http://127.0.0.1:${p.app}`,
          ["/api/data?delay=0", "/health"],
          10,
          traffic.signal,
        ),
      );
      loops.push(trafficLoop(`http://127.0.0.1:${p.pull}`, ["/api/items"], 5, traffic.signal));

      await t.step(
        "Prometheus: both apps scraped, the collector's exported metrics present",
        async () => {
          // platform-app pushes (through the collector), metrics-pull-app is scraped.
          for (const job of ["platform-app", "metrics-pull-app"]) {
            const r = await eventually(`http_requests_total{job="${job}"}`, 30_000, async () => {
              const res = await promQuery(prom, `sum(http_requests_total{job="${job}"}) > 0`);
              return res.length > 0 ? res : null;
            });
            assert.ok(Number(r[0].value[1]) > 0);
          }
          await eventually(
            "the apps' OTLP metrics via the collector's exporter",
            45_000,
            async () => {
              const res = await promQuery(
                prom,
                'http_server_request_duration_seconds_count{job="platform-app"}',
              );
              return res.length > 0;
            },
          );
          await eventually("the collector's own telemetry scraped", 30_000, async () => {
            const res = await promQuery(prom, 'up{job="otel-collector-telemetry"} == 1');
            return res.length > 0;
          });
          // verify (phases 11/12) agrees: every target up, core metrics, both traces checks.
          const results = await eventually("verify to pass its core checks", 30_000, async () => {
            const r = await runVerify({ prometheus: prom, jaeger, dashboards: false });
            return r.every((x) => x.status === "ok") ? r : null;
          });
          assert.ok(results.length >= 8);
          // doctor agrees (once the recording rules have been evaluated): nothing broken,
          // both services known to Jaeger.
          const lines = await eventually("doctor without failures", 60_000, async () => {
            const ls = await runDoctor({ ports: p, prometheus: prom, jaeger });
            return ls.some((l) => l.status === "fail") ? null : ls;
          });
          const services = lines.find((l) => l.check === "jaeger services");
          assert.equal(services?.status, "ok", services?.detail ?? "");
          assert.match(services!.detail, /platform-app/);
          assert.match(services!.detail, /trace-demo-service/);
        },
      );

      await t.step(
        "error traffic: HighErrorRate fires in Prometheus and reaches Alertmanager",
        async () => {
          loops.push(
            trafficLoop(
              `http://127.0.0.1:${p.app}`,
              ["/error", "/error", "/api/data?delay=0"],
              15,
              traffic.signal,
            ),
          );
          await eventually("HighErrorRate firing in Prometheus", 60_000, async () => {
            const res = await promQuery(
              prom,
              'ALERTS{alertname="HighErrorRate", alertstate="firing", job="platform-app"}',
            );
            return res.length > 0;
          });
          const alert = await eventually("HighErrorRate in Alertmanager", 30_000, async () => {
            const res = await fetch(
              `http://127.0.0.1:${p.alertmanager}/api/v2/alerts?filter=alertname%3D%22HighErrorRate%22`,
            );
            const alerts = await res.json() as {
              labels: Record<string, string>;
              status: { state: string };
              receivers: { name: string }[];
            }[];
            return alerts.find((a) =>
              a.labels.job === "platform-app" && a.status.state === "active"
            );
          });
          assert.equal(alert.labels.severity, "critical");
          assert.equal(alert.labels.team, "platform");
          assert.deepEqual(
            alert.receivers.map((r) => r.name),
            ["platform"],
            "routed to the platform team",
          );
        },
      );

      traffic.abort();
      await Promise.all(loops);

      await t.step("stack down: no process of ours, no listening port", async () => {
        const listening = Object.values(readState()!.components).flatMap((c) => c.ports);
        const res = await stackDown();
        assert.equal(res.stopped.length, pids.length, "every process up and startApp started");
        assert.deepEqual(res.stillListening, []);
        for (const x of pids) {
          assert.equal(
            await isAlive(x.pid, x.startTime),
            false,
            `${x.name} (pid ${x.pid}) stopped`,
          );
        }
        for (const port of listening) {
          assert.equal(await isListening(port), false, `port ${port} closed`);
        }
        assert.equal(readState(), null);
      });
    } finally {
      traffic.abort();
      await Promise.all(loops);
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "deno task demo: exits 0 on free ports and leaves no process or listening port behind",
  ignore: missing("otelcol-obskit", "jaeger", "prometheus", "prometheus-alertmanager"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "obskit-demo-" });
    const ports = await freePorts();
    const { PORT_SPECS } = await import("../scripts/lib/stack/mod.ts");
    const portArgs = PORT_SPECS.flatMap((s) => [`--${s.flag}`, String(ports[s.key])]);
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        // Through `deno task demo`, so its deno.json permissions are what runs; the tools
        // step is included (already installed: it only checks its stamps).
        args: [
          "task",
          "--quiet",
          "--config",
          repoPath("deno.json"),
          "demo",
          "--duration",
          "10s",
          "--verify-wait",
          "60s",
          ...portArgs,
        ],
        env: { OBSKIT_STATE_DIR: state, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `${text}\n${err}`);
      assert.match(text, /all checks passed|demo passed/);
      assert.match(text, new RegExp(`Prometheus\\s+http://localhost:${ports.prometheus}`));
      assert.match(text, new RegExp(`Jaeger\\s+http://localhost:${ports.jaegerQuery}`));
      const statePresent = await Deno.stat(`${state}/stack.json`).then(() => true, () => false);
      assert.equal(statePresent, false, "no stack recorded after the demo");
      const dataLeft = await Deno.stat(`${state}/data`).then(() => true, () => false);
      assert.equal(dataLeft, false, "no Prometheus/Alertmanager data left behind");
      for (const s of PORT_SPECS) {
        assert.equal(await isListening(ports[s.key]), false, `${s.flag} ${ports[s.key]} closed`);
      }
    } finally {
      const before = Deno.env.get("OBSKIT_STATE_DIR");
      Deno.env.set("OBSKIT_STATE_DIR", state);
      await stackDown(); // only if the demo failed to clean up
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "demo: Ctrl-C during the traffic stops everything it started and exits 130",
  ignore: missing("otelcol-obskit", "jaeger", "prometheus", "prometheus-alertmanager"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "obskit-demo-int-" });
    const ports = await freePorts();
    const { PORT_SPECS } = await import("../scripts/lib/stack/mod.ts");
    const portArgs = PORT_SPECS.flatMap((s) => [`--${s.flag}`, String(ports[s.key])]);
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          repoPath("scripts", "demo.ts"),
          "--skip-tools",
          "--duration",
          "2m",
          ...portArgs,
        ],
        env: { OBSKIT_STATE_DIR: state, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      let out = "";
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const deadline = Date.now() + 90_000;
      while (!out.includes("== 5. traffic") && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      assert.match(out, /== 5\. traffic/, `the demo reached the traffic step:\n${out}`);
      assert.equal(
        await isListening(ports.prometheus),
        true,
        "the stack runs before the interrupt",
      );
      child.kill("SIGINT");
      (async () => {
        while (true) {
          const { done } = await reader.read();
          if (done) break;
        }
      })();
      const status = await child.status;
      assert.equal(status.code, 130, await stderr);
      for (const s of PORT_SPECS) {
        assert.equal(await isListening(ports[s.key]), false, `${s.flag} ${ports[s.key]} closed`);
      }
      const statePresent = await Deno.stat(`${state}/stack.json`).then(() => true, () => false);
      assert.equal(statePresent, false);
    } finally {
      const before = Deno.env.get("OBSKIT_STATE_DIR");
      Deno.env.set("OBSKIT_STATE_DIR", state);
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
});
