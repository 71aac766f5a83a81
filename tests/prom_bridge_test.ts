/**
 * The metric contract in both worlds: what the instrumented app shows on
 * /metrics is what the real collector's Prometheus exporter shows after the
 * app pushed it over OTLP, with the same names and labels, under
 * job = the app's service.name.
 */
import { strict as assert } from "node:assert";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { DURATION_BUCKETS } from "../apps/lib/http_observability.ts";
import { setupMetrics } from "../apps/otel_setup.ts";
import { convert, PromClientProducer } from "../apps/lib/prom_bridge.ts";
import { freePort } from "../scripts/lib/net.ts";
import { missing, withCollector } from "./support.ts";
import type { HistogramMetricData, SumMetricData } from "@opentelemetry/sdk-metrics";

const unit = { permissions: { net: false, run: false, write: false } } as const;

function contractRegistry(): Registry {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: "http_requests_total",
    help: "requests",
    labelNames: ["method", "endpoint", "status"],
    registers,
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "duration",
    labelNames: ["method", "endpoint", "status"],
    buckets: DURATION_BUCKETS,
    registers,
  });
  new Gauge({ name: "http_active_connections", help: "active", registers }).set(2);
  const labels = { method: "GET", endpoint: "/api/data", status: "200" };
  requests.inc(labels, 3);
  for (const s of [0.001, 0.02, 0.3, 7]) duration.observe(labels, s);
  return registry;
}

Deno.test({
  name: "bridge: counters, gauges and histograms keep their names, labels and values",
  ...unit,
  async fn() {
    const producer = new PromClientProducer();
    producer.add(contractRegistry());
    const { scopeMetrics } = (await producer.collect()).resourceMetrics;
    const byName = new Map(scopeMetrics[0].metrics.map((m) => [m.descriptor.name, m]));
    const requests = byName.get("http_requests_total") as SumMetricData;
    assert.equal(requests.isMonotonic, true);
    assert.equal(requests.dataPoints[0].value, 3);
    assert.deepEqual(requests.dataPoints[0].attributes, {
      method: "GET",
      endpoint: "/api/data",
      status: "200",
    });
    const duration = byName.get("http_request_duration_seconds") as HistogramMetricData;
    const point = duration.dataPoints[0].value;
    assert.deepEqual(point.buckets.boundaries, DURATION_BUCKETS);
    // 0.001 -> first bucket, 0.02 -> <=0.025, 0.3 -> <=0.5, 7 -> above 5.
    assert.deepEqual(point.buckets.counts, [1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.equal(point.count, 4);
    assert.ok(Math.abs(point.sum! - 7.321) < 1e-9);
    assert.equal(byName.get("http_active_connections")?.dataPointType, 2 /* GAUGE */);
    assert.equal(byName.get("http_active_connections")?.descriptor.unit, "");
  },
});

Deno.test({
  name: "bridge: a summary (no OTLP equivalent) is left out, not mistranslated",
  ...unit,
  fn() {
    const family = { name: "s", help: "h", type: "summary", values: [], aggregator: "sum" };
    assert.equal(convert(family as never, [0, 0], [0, 0]), undefined);
  },
});

Deno.test({
  name: "real collector: the pushed families appear on its Prometheus exporter as on /metrics",
  ignore: missing("otelcol-obskit"),
  permissions: { net: true, run: true, read: true, env: true, write: true },
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [otlp, exporter, telemetry] = [freePort(), freePort(), freePort()];
    // The shipped exporter settings that matter here (prometheus exporter, no suffix options).
    const config = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
exporters:
  prometheus:
    endpoint: 127.0.0.1:${exporter}
    send_timestamps: false
    metric_expiration: 5m
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${telemetry}
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
`;
    await withCollector(config, async () => {
      const metrics = setupMetrics({
        serviceName: "bridge-test",
        metricExportIntervalMs: 60_000,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp}` },
      });
      metrics.exportRegistry(contractRegistry());
      await metrics.provider.forceFlush();
      let text = "";
      for (let i = 0; i < 50 && !text.includes("http_requests_total"); i++) {
        text = await (await fetch(`http://127.0.0.1:${exporter}/metrics`)).text();
        if (!text.includes("http_requests_total")) await new Promise((r) => setTimeout(r, 200));
      }
      await metrics.provider.shutdown();
      const lines = text.split("\n");
      const find = (prefix: string) => lines.find((l) => l.startsWith(prefix));
      const req = find("http_requests_total{");
      assert.ok(req, `http_requests_total on the exporter:\n${text}`);
      for (
        const label of ['job="bridge-test"', 'method="GET"', 'endpoint="/api/data"', 'status="200"']
      ) {
        assert.ok(req.includes(label), `${label} in ${req}`);
      }
      assert.match(req, / 3$/);
      assert.ok(!text.includes("http_requests_total_total"), "no doubled suffix");
      assert.match(text, /^http_request_duration_seconds_bucket\{.*le="0\.025".*\} 2$/m);
      assert.match(text, /^http_request_duration_seconds_count\{.*\} 4$/m);
      assert.match(text, /^http_active_connections\{.*job="bridge-test".*\} 2$/m);
    });
  },
});
