/**
 * Span delivery off the request path, through outages, bounded, and never
 * lossy without a count; and the standard span limit variables.
 */
import { strict as assert } from "node:assert";
import { ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { createInstrumentedApp } from "../apps/lib/platform_app.ts";
import { createLogger, setLogSink } from "../apps/lib/logger.ts";
import {
  DEFAULT_ATTRIBUTE_VALUE_LENGTH,
  initializeObservability,
  setupTracing,
  spanLimitsFromEnv,
} from "../apps/otel_setup.ts";
import { startServer } from "../apps/lib/server.ts";
import { QueuedSpanExporter } from "../apps/lib/telemetry_delivery.ts";
import { droppedCount } from "../apps/lib/telemetry_loss.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
const integration = { permissions: { net: true, env: true, read: true, sys: true } } as const;

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** An exporter whose answer the test decides: ok, a transient error, or a permanent one. */
class ScriptedExporter implements SpanExporter {
  received: ReadableSpan[][] = [];
  attempts = 0;
  answer: "ok" | "down" | "refused" | "stuck" = "ok";
  export(spans: ReadableSpan[], done: (r: { code: number; error?: Error }) => void): void {
    this.attempts++;
    if (this.answer === "stuck") return;
    if (this.answer === "ok") {
      this.received.push(spans);
      done({ code: ExportResultCode.SUCCESS });
    } else if (this.answer === "down") {
      done({
        code: ExportResultCode.FAILED,
        error: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      });
    } else {
      done({
        code: ExportResultCode.FAILED,
        error: Object.assign(new Error("400"), { code: 400 }),
      });
    }
  }
  shutdown = () => Promise.resolve();
  forceFlush = () => Promise.resolve();
  get delivered(): number {
    return this.received.reduce((n, b) => n + b.length, 0);
  }
}

function fakeSpans(n: number): ReadableSpan[] {
  return Array.from({ length: n }, () => ({}) as ReadableSpan);
}

Deno.test({
  name: "span.end() never exports: the batch that fills the queue is sent from a later task",
  ...unit,
  async fn() {
    const inner = new ScriptedExporter();
    const tracing = setupTracing({
      serviceName: "no-export-in-request",
      spanExporter: inner,
      env: { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "8", OTEL_BSP_SCHEDULE_DELAY: "60000" },
    });
    // The 8th span fills a batch: before, the batch processor exported inside this end().
    for (let i = 0; i < 8; i++) tracing.tracer.startSpan(`s${i}`).end();
    assert.equal(inner.attempts, 0, "no export ran synchronously inside span.end()");
    await tick(10);
    assert.equal(inner.delivered, 8, "the batch was delivered right after");
    await tracing.provider.shutdown();
  },
});

Deno.test({
  name: "a collector outage loses nothing: failed batches stay queued and are retried in order",
  ...unit,
  async fn() {
    const inner = new ScriptedExporter();
    const failures: string[] = [];
    const queue = new QueuedSpanExporter(inner, {
      maxQueuedSpans: 1000,
      initialBackoffMs: 5,
      maxBackoffMs: 20,
      onFailure: (m) => failures.push(m),
    });
    const droppedBefore = droppedCount("traces");
    inner.answer = "down";
    const batches = Array.from({ length: 10 }, () => fakeSpans(50));
    for (const b of batches) queue.export(b, (r) => assert.equal(r.code, ExportResultCode.SUCCESS));
    await tick(100);
    assert.equal(inner.delivered, 0);
    assert.ok(inner.attempts >= 3, `retried while down (${inner.attempts} attempts)`);
    assert.equal(queue.queued, 500, "everything is still queued");
    inner.answer = "ok";
    await tick(60);
    assert.equal(inner.delivered, 500, "all spans delivered once the collector is back");
    assert.deepEqual(inner.received, batches, "in order, each batch once");
    assert.equal(droppedCount("traces") - droppedBefore, 0, "nothing dropped");
    assert.ok(failures.length >= 3 && queue.failures === failures.length);
    await queue.shutdown();
  },
});

Deno.test({
  name: "the delivery queue is bounded and every span it cannot keep is counted exactly",
  ...unit,
  async fn() {
    const inner = new ScriptedExporter();
    inner.answer = "down";
    const queue = new QueuedSpanExporter(inner, { maxQueuedSpans: 1000, initialBackoffMs: 5 });
    const full0 = droppedCount("traces", "queue_full");
    const shut0 = droppedCount("traces", "shutdown");
    for (let i = 0; i < 50; i++) queue.export(fakeSpans(100), () => {});
    assert.equal(queue.queued, 1000);
    assert.equal(droppedCount("traces", "queue_full") - full0, 4000);
    await queue.shutdown();
    assert.equal(droppedCount("traces", "shutdown") - shut0, 1000, "what shutdown could not send");
    assert.equal(inner.delivered, 0);
  },
});

Deno.test({
  name: "a batch the collector refuses for good (4xx) is dropped as rejected, not retried forever",
  ...unit,
  async fn() {
    const inner = new ScriptedExporter();
    inner.answer = "refused";
    const queue = new QueuedSpanExporter(inner, { maxQueuedSpans: 1000, initialBackoffMs: 5 });
    const rejected0 = droppedCount("traces", "rejected");
    queue.export(fakeSpans(7), () => {});
    await queue.forceFlush();
    assert.equal(droppedCount("traces", "rejected") - rejected0, 7);
    assert.equal(inner.attempts, 1);
    assert.equal(queue.queued, 0);
    await queue.shutdown();
  },
});

Deno.test({
  name: "a stuck exporter times out and the batch is retried; 10,000 spans: delivered + dropped",
  ...unit,
  async fn() {
    const inner = new ScriptedExporter();
    inner.answer = "stuck";
    const dropped0 = droppedCount("traces");
    const tracing = setupTracing({
      serviceName: "stuck",
      spanExporter: inner,
      exportTimeoutMs: 20,
      env: { OTEL_BSP_SCHEDULE_DELAY: "1", OBSKIT_EXPORT_QUEUE_SPANS: "3000" },
    });
    for (let i = 0; i < 10_000; i++) tracing.tracer.startSpan(`s${i}`).end();
    await tick(50);
    assert.ok(tracing.exporter.queued <= 3000, `queue bounded (${tracing.exporter.queued})`);
    inner.answer = "ok";
    await tracing.provider.forceFlush();
    await tick(1200);
    await tracing.provider.shutdown();
    const dropped = droppedCount("traces") - dropped0;
    assert.ok(inner.delivered > 0, "delivered after the exporter recovered");
    assert.equal(inner.delivered + dropped, 10_000, `${inner.delivered} + ${dropped} dropped`);
  },
});

Deno.test({
  name: "span limits: OTEL_*_LIMIT variables are honoured, 2,048 characters by default",
  ...unit,
  fn() {
    const warnings: string[] = [];
    const warn = (_k: string, m: string) => warnings.push(m);
    assert.equal(spanLimitsFromEnv({}, warn).attributeValueLengthLimit, 2048);
    assert.equal(DEFAULT_ATTRIBUTE_VALUE_LENGTH, 2048);
    assert.equal(
      spanLimitsFromEnv({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "1024" }, warn)
        .attributeValueLengthLimit,
      1024,
    );
    const both = spanLimitsFromEnv({
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "1024",
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "300",
      OTEL_ATTRIBUTE_COUNT_LIMIT: "20",
      OTEL_SPAN_EVENT_COUNT_LIMIT: "5",
    }, warn);
    assert.equal(both.attributeValueLengthLimit, 300, "the span-specific variable wins");
    assert.equal(both.attributeCountLimit, 20);
    assert.equal(both.eventCountLimit, 5);
    assert.equal(warnings.length, 0);
    const bad = spanLimitsFromEnv({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "lots" }, warn);
    assert.equal(bad.attributeValueLengthLimit, 2048);
    assert.match(warnings[0], /OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT 'lots' must be a whole number/);
  },
});

Deno.test({
  name: "a 30 KB query and User-Agent make a span of bounded size (default and env limit)",
  ...integration,
  async fn() {
    for (
      const [env, limit] of [[{}, 2048], [
        { OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "1024" },
        1024,
      ]] as const
    ) {
      const spans = new InMemorySpanExporter();
      const prev = setLogSink({ write: () => {} });
      const obs = initializeObservability({
        serviceName: "limits",
        spanExporter: spans,
        simpleSpanProcessor: true,
        metrics: false,
        env,
      });
      const { app } = createInstrumentedApp({ observability: obs, logger: createLogger("limits") });
      const server = startServer(app, { port: 0, hostname: "127.0.0.1" });
      try {
        const big = "x".repeat(30_000);
        const res = await fetch(`${server.url}/health?q=${big}`, {
          headers: { "user-agent": big },
        });
        await res.body?.cancel();
        const [span] = spans.getFinishedSpans();
        for (const name of ["url.query", "user_agent.original"]) {
          const v = String(span.attributes[name]);
          assert.equal(v.length, limit, `${name} cut to ${limit}`);
        }
      } finally {
        await server.stop();
        await obs.shutdown();
        setLogSink(prev);
      }
    }
  },
});

Deno.test({
  name: "/metrics shows app_telemetry_dropped_total by signal and reason from the start",
  ...integration,
  async fn() {
    const prev = setLogSink({ write: () => {} });
    const obs = initializeObservability({
      serviceName: "loss",
      spanExporter: new InMemorySpanExporter(),
      metrics: false,
    });
    try {
      const { registry } = createInstrumentedApp({ observability: obs, logger: createLogger("x") });
      const text = await registry.metrics();
      for (const reason of ["queue_full", "rejected", "shutdown"]) {
        assert.match(
          text,
          new RegExp(`app_telemetry_dropped_total\\{signal="traces",reason="${reason}"\\} \\d+`),
        );
      }
      assert.match(text, /app_telemetry_dropped_total\{signal="logs",reason="stdout_closed"\} \d+/);
      assert.match(text, /app_telemetry_export_failures_total\{signal="traces"\} \d+/);
    } finally {
      await obs.shutdown();
      setLogSink(prev);
    }
  },
});
