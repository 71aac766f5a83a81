/**
 * Exemplars: from a slow bucket to its trace.
 *
 *   - in process: the instrumented app's latency histogram carries the trace
 *     and span id of sampled requests only; `/metrics` serves OpenMetrics
 *     (with exemplars) when asked for it and the 0.0.4 text format otherwise,
 *     with the contract's names in both; the OTLP bridge carries them.
 *   - real programs: the app pushes them through the collector's prometheus
 *     exporter, Prometheus (exemplar storage) returns one from
 *     /api/v1/query_exemplars, and its trace id is a trace in Jaeger.
 */
import { strict as assert } from "node:assert";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { createInstrumentedApp } from "../apps/lib/platform_app.ts";
import { createLogger, setLogSink } from "../apps/lib/logger.ts";
import { initializeObservability } from "../apps/otel_setup.ts";
import { PromClientProducer } from "../apps/lib/prom_bridge.ts";
import type { PointExemplar } from "../apps/lib/otlp_proto.ts";
import { startServer } from "../apps/lib/server.ts";
import { freePorts, stackUp } from "../scripts/lib/stack/mod.ts";
import { startApp } from "../scripts/lib/stack/stack_apps.ts";
import { checkExemplarTrace } from "../scripts/lib/verify/mod.ts";
import { eventually, inPrivateState, missing } from "./support.ts";

const integration = { permissions: { net: true, env: true, read: true, sys: true } } as const;
const OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async function withApp(fn: (base: string, spans: InMemorySpanExporter) => Promise<void>) {
  const spans = new InMemorySpanExporter();
  const prevSink = setLogSink({ write: () => {} });
  const observability = initializeObservability({
    serviceName: "test-app",
    spanExporter: spans,
    simpleSpanProcessor: true,
    metrics: false,
  });
  const { app, registry } = createInstrumentedApp({
    serviceName: "test-app",
    observability,
    logger: createLogger("test-app"),
  });
  const server = startServer(app, { port: 0, hostname: "127.0.0.1" });
  try {
    await fn(server.url, spans);
    // The bridge reads the same registry: its histogram points carry the exemplars.
    const producer = new PromClientProducer();
    producer.add(registry);
    const { resourceMetrics } = await producer.collect();
    const metric = resourceMetrics.scopeMetrics[0].metrics.find((m) =>
      m.descriptor.name === "http_request_duration_seconds"
    )!;
    const exemplars = metric.dataPoints.flatMap((p) =>
      (p as { exemplars?: PointExemplar[] }).exemplars ?? []
    );
    assert.ok(exemplars.length > 0, "OTLP histogram points carry exemplars");
    const e = exemplars[0];
    assert.match(e.traceId, /^[0-9a-f]{32}$/);
    assert.match(e.spanId, /^[0-9a-f]{16}$/);
    assert.equal(typeof e.value, "number");
    assert.ok(Math.abs(e.timeMs - Date.now()) < 60_000, `exemplar time ${e.timeMs}`);
  } finally {
    await server.stop();
    await observability.shutdown();
    setLogSink(prevSink);
  }
}

Deno.test({
  name:
    "exemplars: sampled requests put their trace id on the latency bucket (OpenMetrics when asked; 0.0.4 otherwise; OTLP too)",
  ...integration,
  async fn() {
    await withApp(async (base, spans) => {
      const sampled = await fetch(`${base}/api/data?delay=0.3`);
      await sampled.body?.cancel();
      const traceparent = sampled.headers.get("traceparent")!;
      const [, traceId, spanId] = traceparent.split("-");
      // A caller that did not sample: parent-based sampling records nothing, so no exemplar.
      const unsampledTrace = "0af7651916cd43dd8448eb211c80319c";
      const unsampled = await fetch(`${base}/api/data`, {
        headers: { traceparent: `00-${unsampledTrace}-b7ad6b7169203331-00` },
      });
      await unsampled.body?.cancel();
      assert.ok(spans.getFinishedSpans().length > 0);

      const om = await fetch(`${base}/metrics`, {
        headers: { accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5" },
      });
      assert.equal(om.headers.get("content-type"), OPENMETRICS);
      const omText = await om.text();
      assert.ok(omText.endsWith("# EOF\n"), "OpenMetrics ends with # EOF");
      const bucket = omText.split("\n").find((l) =>
        l.startsWith(
          'http_request_duration_seconds_bucket{le="0.5",method="GET",endpoint="/api/data"',
        )
      );
      assert.ok(bucket, omText);
      assert.match(
        bucket,
        new RegExp(`# \\{trace_id="${traceId}",span_id="${spanId}"\\} 0\\.3\\d* \\d+\\.\\d+$`),
      );
      assert.ok(!omText.includes(unsampledTrace), "no exemplar for an unsampled request");
      // Counters keep their contract name (OpenMetrics writes the _total suffix once).
      assert.match(omText, /^# TYPE http_requests counter$/m);
      assert.match(omText, /^http_requests_total\{method="GET",endpoint="\/api\/data"/m);
      assert.ok(!omText.includes("_total_total"));

      // The default scrape: the 0.0.4 text format, no exemplars, names unchanged afterwards.
      const plain = await fetch(`${base}/metrics`);
      assert.match(plain.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      const text = await plain.text();
      assert.ok(!text.includes("trace_id"));
      assert.match(text, /^# TYPE http_requests_total counter$/m);
      assert.match(text, /^http_requests_total\{method="GET",endpoint="\/api\/data"/m);
    });
  },
});

Deno.test({
  name:
    "exemplars end to end: app -> collector (OpenMetrics) -> Prometheus exemplar storage -> the trace in Jaeger",
  ignore: missing("otelcol-obskit", "jaeger", "prometheus", "victoria-logs"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-exemplars-", async () => {
      const ports = await freePorts();
      await stackUp({
        ports,
        only: ["jaeger", "victorialogs", "collector", "prometheus"],
        scrapeInterval: "1s",
        timeoutMs: 90_000,
      });
      await startApp("instrumented-app", ports, {
        env: { OTEL_METRIC_EXPORT_INTERVAL: "1000" },
      });
      const app = `http://127.0.0.1:${ports.app}`;
      const prom = `http://127.0.0.1:${ports.prometheus}`;
      const jaeger = `http://127.0.0.1:${ports.jaegerQuery}`;
      const result = await eventually("an exemplar whose trace is in Jaeger", 60_000, async () => {
        const r = await fetch(`${app}/api/data?delay=0.2`);
        await r.body?.cancel();
        const check = await checkExemplarTrace(prom, jaeger, "platform-app");
        return check.ok ? check : undefined;
      });
      assert.match(result.traceId!, /^[0-9a-f]{32}$/);
    });
  },
});
