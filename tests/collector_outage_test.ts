/**
 * The collector SIGKILLed for 20 s while the instrumented app serves 20
 * requests a second (the measured goal): at least 99 % of the traces
 * arrive in Jaeger once the collector is back, and every trace that does not
 * is counted by the app's app_telemetry_dropped_total. Each request is a
 * GET /health, one span per trace, so missing traces and dropped spans are
 * the same number.
 *
 * Real collector, Jaeger and app (the stack's own start-up), private state
 * folder and free ports; about 45 s.
 */
import { strict as assert } from "node:assert";
import { isAlive } from "../scripts/lib/process.ts";
import { freePorts, readState, stackUp } from "../scripts/lib/stack/mod.ts";
import { startApp } from "../scripts/lib/stack/stack_apps.ts";
import { jaegerTrace } from "../scripts/lib/verify/mod.ts";
import { inPrivateState, missing } from "./support.ts";

const RATE = 20;
const BEFORE_S = 5;
const OUTAGE_S = 20;
const AFTER_S = 5;

const quiet = { write: () => {} };

/** The app's dropped-span count, from its /metrics. */
async function droppedSpans(app: string): Promise<number> {
  const text = await (await fetch(`${app}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^app_telemetry_dropped_total\{signal="traces",[^}]*\} (\S+)$/gm)) {
    total += Number(m[1]);
  }
  return total;
}

Deno.test({
  name: "collector killed for 20 s at 20 req/s: >= 99 % of traces arrive, the rest are counted",
  ignore: missing("otelcol-obskit", "jaeger"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-outage-", async () => {
      const ports = await freePorts();
      await stackUp({ ports, only: ["jaeger", "collector"], timeoutMs: 90_000, progress: quiet });
      await startApp("instrumented-app", ports, {
        env: { SERVICE_NAME: "outage-test", OTEL_BSP_SCHEDULE_DELAY: "200" },
      });
      const app = `http://127.0.0.1:${ports.app}`;
      const jaeger = `http://127.0.0.1:${ports.jaegerQuery}`;

      // Open model: one request every 50 ms whatever the answers do.
      const traceIds: string[] = [];
      const failures: string[] = [];
      const inflight: Promise<void>[] = [];
      const total = RATE * (BEFORE_S + OUTAGE_S + AFTER_S);
      const t0 = performance.now();
      let killedAt = 0;
      let restarted = false;
      for (let i = 0; i < total; i++) {
        const due = t0 + (i * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const elapsed = (performance.now() - t0) / 1000;
        if (!killedAt && elapsed >= BEFORE_S) {
          const c = readState()!.components.collector;
          Deno.kill(c.pid, "SIGKILL");
          killedAt = performance.now();
        }
        if (killedAt && !restarted && elapsed >= BEFORE_S + OUTAGE_S) {
          restarted = true;
          // Restart in the background: requests keep their schedule meanwhile.
          inflight.push(
            stackUp({ ports, only: ["collector"], timeoutMs: 60_000, progress: quiet }).then(
              () => {},
            ),
          );
        }
        inflight.push(
          fetch(`${app}/health`, { signal: AbortSignal.timeout(5000) }).then(async (res) => {
            await res.body?.cancel();
            const tp = res.headers.get("traceparent");
            if (res.status !== 200 || !tp) failures.push(`status ${res.status}`);
            else traceIds.push(tp.split("-")[1]);
          }, (err) => {
            failures.push(String(err));
          }),
        );
      }
      await Promise.all(inflight);
      assert.deepEqual(failures, [], "the app answered every request during the outage");
      const c = readState()!.components.collector;
      assert.ok(await isAlive(c.pid, c.startTime), "the collector is back");

      // Wait for the backlog (retried by the app, queued by the collector) to land.
      const found = new Set<string>();
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && found.size < traceIds.length) {
        for (const id of traceIds) {
          if (!found.has(id) && await jaegerTrace(jaeger, id)) found.add(id);
        }
        if (found.size < traceIds.length) await new Promise((r) => setTimeout(r, 2000));
      }
      const lost = traceIds.length - found.size;
      const dropped = await droppedSpans(app);
      console.log(
        `collector killed ${OUTAGE_S} s at ${RATE} req/s: ${traceIds.length} traces sent, ` +
          `${found.size} arrived (${(found.size / traceIds.length * 100).toFixed(2)} %), ` +
          `${lost} missing, ${dropped} counted by app_telemetry_dropped_total`,
      );
      assert.equal(traceIds.length, total);
      assert.ok(
        found.size >= 0.99 * traceIds.length,
        `${found.size} of ${traceIds.length} arrived`,
      );
      assert.equal(dropped, lost, "every missing trace is counted, and nothing else");
    });
  },
});
