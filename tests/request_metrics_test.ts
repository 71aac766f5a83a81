/**
 * The request metrics table (apps/lib/request_metrics.ts) against the
 * libraries it stands in for on the request path: the same requests fed to
 * prom-client's own Counter and Histogram render the same /metrics text (both
 * formats, exemplars included), and fed to the SDK's Histogram give the same
 * OTLP data points.
 */
import { strict as assert } from "node:assert";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { Counter, Histogram, type LabelValues, Registry } from "prom-client";
import {
  createHttpMetrics,
  DURATION_BUCKETS,
  DurationSource,
  RequestMetricsTable,
  type RequestRecord,
  SIZE_BUCKETS,
} from "../apps/lib/request_metrics.ts";
import { openMetricsText } from "../apps/lib/prom_bridge.ts";

const TRACE = "0af7651916cd43dd8448eb211c80319c";

/** Requests on and around the bucket boundaries (upper-inclusive), some sampled, some sized. */
function requests(): RequestRecord[] {
  const seconds = [0, 0.001, 0.005, 0.0050001, 0.01, 0.3, 1, 2.5, 5, 5.0001, 99, 0.02];
  const series = [
    { method: "GET", endpoint: "/api/data", status: 200 },
    { method: "POST", endpoint: "unmatched", status: 404 },
    { method: "_OTHER", endpoint: "/api/data", status: 500 },
  ];
  return seconds.map((s, i) => ({
    ...series[i % 3],
    scheme: "http",
    seconds: s,
    size: i % 4 === 3 ? undefined : 40 + i * 999,
    traceId: i % 2 === 0 ? TRACE : undefined,
    spanId: i % 2 === 0 ? `b7ad6b71692033${String(i).padStart(2, "0")}` : undefined,
  }));
}

/** Exemplar timestamps are the moment of each observation: the two sides differ in the ms. */
const withoutExemplarTimes = (text: string) => text.replace(/(# \{[^}]*\} \S+) \S+/g, "$1");

Deno.test("prom-client renders the table exactly as it renders its own metrics fed the same requests", async () => {
  for (const format of ["text 0.0.4", "OpenMetrics"]) {
    const render = (r: Registry) => format === "OpenMetrics" ? openMetricsText(r) : r.metrics();
    const ours = new Registry();
    const { table } = createHttpMetrics(ours, { responseSize: true, exemplars: true });
    const theirs = new Registry();
    const labelNames = ["method", "endpoint", "status"];
    const counter = new Counter({
      name: "http_requests_total",
      help: "Total HTTP requests by method, route template and status code.",
      labelNames,
      registers: [theirs],
    });
    const duration = new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration in seconds by method, route template and status code.",
      labelNames,
      buckets: DURATION_BUCKETS,
      enableExemplars: true,
      registers: [],
    });
    theirs.registerMetric(duration);
    const size = new Histogram({
      name: "http_response_size_bytes",
      help: "HTTP response body size in bytes by method, route template and status code.",
      labelNames,
      buckets: SIZE_BUCKETS,
      registers: [theirs],
    });
    for (const r of requests()) {
      table.record(r);
      const labels = { method: r.method, endpoint: r.endpoint, status: String(r.status) };
      counter.inc(labels);
      duration.observe({
        labels,
        value: r.seconds,
        exemplarLabels: r.traceId
          ? { trace_id: r.traceId, span_id: r.spanId } as LabelValues<string>
          : {},
      });
      if (r.size !== undefined) size.observe(labels, r.size);
    }
    // Our registry also has http_active_connections; compare the families both have.
    const families = (text: string) =>
      withoutExemplarTimes(text).split(/\n(?=# HELP)/).filter((f) =>
        !f.includes("http_active_connections") && !f.startsWith("# EOF")
      ).map((f) => f.replace(/\n# EOF\n?$/, "").trimEnd());
    const got = families(await render(ours));
    const want = families(await render(theirs));
    assert.deepEqual(got, want, format);
    assert.match(
      got.join("\n"),
      format === "OpenMetrics" ? /trace_id="0af7/ : /_bucket/,
    );
    // The bridge reads the JSON form: the same as prom-client's too (no exemplar = none given).
    const json = async (r: Registry) =>
      (await r.getMetricsAsJSON()).filter((m) => m.name !== "http_active_connections").map((m) => ({
        ...m,
        values: m.values.map((v) => {
          const { exemplar, ...rest } = v as typeof v & { exemplar?: { timestamp?: number } };
          return exemplar ? { ...rest, exemplar: { ...exemplar, timestamp: 0 } } : rest;
        }),
      }));
    assert.deepEqual(await json(ours), await json(theirs));
  }
});

Deno.test("http.server.request.duration: the same points as the SDK's Histogram for the same requests", async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const sdk = provider.getMeter("m").createHistogram("http.server.request.duration", {
    unit: "s",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const table = new RequestMetricsTable();
  for (const r of requests()) {
    table.record(r);
    sdk.record(r.seconds, {
      "http.request.method": r.method,
      "http.route": r.endpoint,
      "http.response.status_code": r.status,
      "url.scheme": r.scheme,
    });
  }
  await reader.forceFlush();
  const expected = exporter.getMetrics()[0].scopeMetrics[0].metrics[0].dataPoints;
  const got = new DurationSource({ name: "m" }, table).collect([0, 0], [0, 0])[0].dataPoints;
  const shape = (points: typeof got) =>
    points.map((p) => ({ attributes: p.attributes, value: p.value }))
      .sort((x, y) => JSON.stringify(x.attributes).localeCompare(JSON.stringify(y.attributes)));
  assert.deepEqual(shape(got), shape(expected as typeof got));
  await provider.shutdown();
});

Deno.test("past 2,000 series, requests count into one overflow series", async () => {
  const registry = new Registry();
  const { table } = createHttpMetrics(registry);
  for (let i = 0; i < 2_100; i++) {
    table.record({ method: "GET", endpoint: `/r${i}`, status: 200, scheme: "http", seconds: 0.01 });
  }
  const points = new DurationSource({ name: "m" }, table).collect([0, 0], [0, 0])[0].dataPoints;
  assert.equal(points.length, 2_001);
  const overflow = points.find((p) => p.attributes["otel.metric.overflow"] === true);
  assert.equal((overflow?.value as { count: number }).count, 100);
  assert.match(
    await registry.metrics(),
    /http_requests_total\{method="_OTHER",endpoint="overflow",status="overflow"\} 100/,
  );
});

Deno.test("in-flight requests: the gauge and the OTel up-down counter follow starts and ends", async () => {
  const registry = new Registry();
  const { table } = createHttpMetrics(registry);
  table.addActive("GET", "http", 1);
  table.addActive("GET", "http", 1);
  table.addActive("POST", "http", 1);
  table.addActive("GET", "http", -1);
  assert.match(await registry.metrics(), /^http_active_connections 2$/m);
  assert.deepEqual([...table.activeEntries()].map((e) => e.value), [1, 1]);
});
