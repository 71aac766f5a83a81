import { strict as assert } from "node:assert";
import { DURATION_BUCKETS } from "../apps/lib/http_observability.ts";
import { createMetricsPullApp } from "../apps/lib/pull_app.ts";
import { setLogSink } from "../apps/lib/logger.ts";

// app.request() runs the Hono app in-process: no socket, no network permission.
const unit = { permissions: { net: false, run: false, write: false } } as const;

Deno.test({
  name: "pull app: /health, /api/items and /metrics with the three contract families",
  ...unit,
  async fn() {
    const prev = setLogSink({ write: () => {} });
    try {
      const { app } = createMetricsPullApp();
      const health = await app.request("/health");
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "healthy");

      const t0 = performance.now();
      const items = await app.request("/api/items");
      assert.equal(items.status, 200);
      const body = await items.json();
      assert.equal(body.count, body.items.length);
      assert.ok(performance.now() - t0 >= 9, "artificial delay applied");

      assert.equal((await app.request("/whatever/123")).status, 404);

      const text = await (await app.request("/metrics")).text();
      assert.match(text, /# TYPE http_requests_total counter/);
      assert.match(text, /# TYPE http_request_duration_seconds histogram/);
      assert.match(text, /# TYPE http_active_connections gauge/);
      assert.match(
        text,
        /http_requests_total\{method="GET",endpoint="\/api\/items",status="200"\} 1/,
      );
      assert.match(
        text,
        /http_requests_total\{method="GET",endpoint="unmatched",status="404"\} 1/,
      );
      // The exact buckets of the metric contract (docs/architecture.md), in order, then +Inf.
      const les = [...text.matchAll(
        /http_request_duration_seconds_bucket\{le="([^"]+)",method="GET",endpoint="\/health"/g,
      )].map((m) => m[1]);
      assert.deepEqual(les, [...DURATION_BUCKETS.map(String), "+Inf"]);
      assert.deepEqual(DURATION_BUCKETS, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
      // prom-client's default process metrics are there too.
      assert.match(text, /process_cpu_user_seconds_total/);
      assert.match(text, /nodejs_heap_size_used_bytes/);
    } finally {
      setLogSink(prev);
    }
  },
});

Deno.test({
  name: "pull app: process metrics are real values or absent, never a made-up 0",
  permissions: { net: false, run: false, write: false, read: ["/proc"], env: true, sys: true },
  async fn() {
    const prev = setLogSink({ write: () => {} });
    try {
      const { registry } = createMetricsPullApp();
      const text = await registry.metrics();
      const rss = /^process_resident_memory_bytes (\d+)/m.exec(text);
      assert.ok(rss, "process_resident_memory_bytes is exposed");
      assert.ok(Number(rss[1]) > 1_000_000, `a real resident size, got ${rss[1]}`);
      // What Deno cannot read from /proc/self is absent, not a constant 0.
      for (const name of ["process_open_fds", "process_max_fds", "process_virtual_memory_bytes"]) {
        assert.ok(!new RegExp(`^${name} `, "m").test(text), `${name} is not exposed`);
      }
    } finally {
      setLogSink(prev);
    }
  },
});

Deno.test({
  name: "pull app: its endpoints are traced (server spans with the route), /metrics is not",
  permissions: { net: false, run: false, write: false, env: true, read: true, sys: true },
  async fn() {
    const { InMemorySpanExporter } = await import("@opentelemetry/sdk-trace");
    const { setupTracing } = await import("../apps/otel_setup.ts");
    const prev = setLogSink({ write: () => {} });
    const spans = new InMemorySpanExporter();
    const tracing = setupTracing({
      serviceName: "pull-traced",
      spanExporter: spans,
      simpleSpanProcessor: true,
    });
    try {
      const { app } = createMetricsPullApp({ defaultMetrics: false, tracer: tracing.tracer });
      await (await app.request("/api/items")).body?.cancel();
      await (await app.request("/health")).body?.cancel();
      await (await app.request("/metrics")).body?.cancel();
      const names = spans.getFinishedSpans().map((s) => s.name).sort();
      assert.deepEqual(names, ["GET /api/items", "GET /health"]);
    } finally {
      await tracing.provider.shutdown();
      setLogSink(prev);
    }
  },
});
