/**
 * The semantic-convention request histogram kept outside the SDK
 * (apps/lib/http_observability.ts DurationHistogram) exports the same data
 * points as the SDK's own Histogram fed the same values.
 */
import { strict as assert } from "node:assert";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { DURATION_BUCKETS, DurationHistogram } from "../apps/lib/http_observability.ts";

Deno.test("DurationHistogram: the same points as the SDK's Histogram for the same values", async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const sdk = provider.getMeter("m").createHistogram("h", {
    unit: "s",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const ours = new DurationHistogram({ name: "m" }, "h", "", DURATION_BUCKETS);
  // Values on and around the boundaries (buckets are upper-inclusive), below and above all.
  const values = [0, 0.001, 0.005, 0.0050001, 0.01, 0.3, 1, 2.5, 5, 5.0001, 99];
  const sets = [
    { key: "a", attrs: { "http.route": "/a", "http.response.status_code": 200 } },
    { key: "b", attrs: { "http.route": "/b", "http.response.status_code": 500 } },
  ];
  for (const [i, v] of values.entries()) {
    const set = sets[i % 2];
    sdk.record(v, set.attrs);
    ours.record(set.key, () => set.attrs, v);
  }
  await reader.forceFlush();
  const expected = exporter.getMetrics()[0].scopeMetrics[0].metrics[0].dataPoints;
  const got = ours.collect([0, 0], [0, 0])[0].dataPoints;
  const shape = (points: typeof got) =>
    points.map((p) => ({ attributes: p.attributes, value: p.value }))
      .sort((x, y) =>
        String(x.attributes["http.route"]).localeCompare(String(y.attributes["http.route"]))
      );
  assert.deepEqual(shape(got), shape(expected as typeof got));
  await provider.shutdown();
});

Deno.test("DurationHistogram: past 2,000 attribute sets, one overflow set", () => {
  const h = new DurationHistogram({ name: "m" }, "h", "", DURATION_BUCKETS);
  for (let i = 0; i < 2_100; i++) h.record(`k${i}`, () => ({ "http.route": `/r${i}` }), 0.01);
  const points = h.collect([0, 0], [0, 0])[0].dataPoints;
  assert.equal(points.length, 2_001);
  const overflow = points.find((p) => p.attributes["otel.metric.overflow"] === true);
  assert.equal((overflow?.value as { count: number }).count, 100);
});
