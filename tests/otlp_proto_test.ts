/**
 * The hand-written OTLP protobuf encoder (apps/lib/otlp_proto.ts) against the
 * reference: the real collector decodes our protobuf and the SDK's own
 * OTLP/JSON of the same spans (and log lines), re-exports both as JSON, and
 * the two must be identical.
 */
import assert from "node:assert/strict";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
} from "@opentelemetry/otlp-transformer";
import { millisToHrTime } from "@opentelemetry/core";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import {
  appendSpan,
  encodeLogEntries,
  encodeMetrics,
  type PointExemplar,
  ProtoWriter,
  spanRequest,
} from "../apps/lib/otlp_proto.ts";
import { PromClientProducer } from "../apps/lib/prom_bridge.ts";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { ValueType } from "@opentelemetry/api";
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import type { Resource } from "@opentelemetry/resources";
import { mergeBatches, ProtoSpanProcessor } from "../apps/lib/proto_span_processor.ts";
import type { SpanProcessor } from "@opentelemetry/sdk-trace";
import {
  buildResource,
  FastIdGenerator,
  initializeObservability,
  samplerFromEnv,
  setupTracing,
  spanLimitsFromEnv,
} from "../apps/otel_setup.ts";
import { LeanTracerProvider } from "../apps/lib/lean_tracer.ts";
import { createInstrumentedApp } from "../apps/lib/platform_app.ts";
import { createLogger, setLogSink } from "../apps/lib/logger.ts";
import { startServer } from "../apps/lib/server.ts";
import { missing, withReexportingCollector } from "./support.ts";
import { droppedCount } from "../apps/lib/telemetry_loss.ts";

Deno.test("hrTime is written as exact fixed64 nanoseconds", () => {
  const cases: [number, number][] = [
    [0, 0],
    [1, 1],
    [1_780_000_000, 999_999_999],
    [4_294_967_295, 999_999_999],
    [65_535, 5],
    [65_536, 123_456_789],
  ];
  for (let i = 0; i < 200; i++) {
    cases.push([Math.floor(Math.random() * 2 ** 32), Math.floor(Math.random() * 1e9)]);
  }
  for (const [sec, ns] of cases) {
    const w = new ProtoWriter();
    w.hrTime([sec, ns]);
    const got = new DataView(w.finish().buffer).getBigUint64(0, true);
    assert.equal(got, BigInt(sec) * 1_000_000_000n + BigInt(ns), `${sec}s ${ns}ns`);
  }
});

Deno.test("a long string widens its length prefix and keeps the bytes after it intact", () => {
  for (const n of [127, 128, 300, 16_383, 16_384, 70_000]) {
    const w = new ProtoWriter();
    w.string("x".repeat(n - 1) + "é");
    w.varint(42);
    const bytes = w.finish();
    let len = 0, shift = 0, i = 0;
    for (;; i++) {
      len += (bytes[i] & 127) * 2 ** shift;
      shift += 7;
      if (bytes[i] < 128) break;
    }
    assert.equal(len, n + 1, "é is two UTF-8 bytes");
    assert.equal(
      new TextDecoder().decode(bytes.subarray(i + 1, i + 1 + len)),
      "x".repeat(n - 1) + "é",
    );
    assert.equal(bytes[i + 1 + len], 42);
  }
});

/** Spans with every kind of field the encoder writes, from the SDK's tracer or the apps' (lean). */
function sampleSpans(extra: SpanProcessor[] = [], tracerKind: "sdk" | "lean" = "sdk") {
  const exporter = new InMemorySpanExporter();
  const config = {
    resource: buildResource({
      serviceName: "proto-test",
      env: { OTEL_RESOURCE_ATTRIBUTES: "k8s.pod.name=p-1" },
    }),
    spanProcessors: [new SimpleSpanProcessor({ exporter }), ...extra],
  };
  const provider = tracerKind === "sdk" ? new TracerProvider(config) : new LeanTracerProvider({
    ...config,
    sampler: samplerFromEnv({}),
    // The SDK's default: no length limit, so the 3,000-character value is written whole.
    spanLimits: spanLimitsFromEnv({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "100000" }),
    idGenerator: new FastIdGenerator(),
  });
  const tracer = provider.getTracer("obskit-test", "1.2.3");
  const root = tracer.startSpan("GET /api/data", {
    kind: SpanKind.SERVER,
    attributes: {
      "http.request.method": "GET",
      "server.port": 8000,
      "negative": -42,
      "ratio": 0.25,
      "flag": true,
      "list": ["a", "b"],
      "numbers": [1, 2, 3],
      "unicode": "héllo ✓ 日本",
      "long": "y".repeat(3000),
    },
  });
  root.addEvent("order.completed", { "app.order.value": 12.5, "app.item.id": 7 });
  root.addEvent("plain");
  root.setStatus({ code: SpanStatusCode.ERROR, message: "went wrong" });
  const child = tracer.startSpan(
    "db.query",
    {
      kind: SpanKind.CLIENT,
      links: [{
        context: {
          traceId: "0af7651916cd43dd8448eb211c80319c",
          spanId: "b7ad6b7169203331",
          traceFlags: TraceFlags.SAMPLED,
        },
        attributes: { reason: "batch" },
      }],
    },
    // A parent from another process (remote), as a traceparent header gives.
    trace.setSpanContext(ROOT_CONTEXT, {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: new TraceState("vendor=abc"),
    }),
  );
  child.setStatus({ code: SpanStatusCode.OK });
  child.end();
  root.end();
  return { spans: exporter.getFinishedSpans(), provider };
}

/** A local OTLP endpoint answering after `delayMs`, and an SDK tracer whose spans go there. */
function spanSink(opts: { delayMs?: number; batch?: number; maxQueuedSpans?: number } = {}) {
  const sizes: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    sizes.push((await req.arrayBuffer()).byteLength);
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    return new Response("{}");
  });
  const processor = new ProtoSpanProcessor({
    url: `http://127.0.0.1:${server.addr.port}/v1/traces`,
    timeoutMs: 5000,
    maxQueueSize: 2048,
    maxExportBatchSize: opts.batch ?? 512,
    scheduledDelayMillis: 60_000,
    maxQueuedSpans: opts.maxQueuedSpans ?? 8192,
  });
  const provider = new TracerProvider({ spanProcessors: [processor] });
  return {
    sizes,
    processor,
    provider,
    tracer: provider.getTracer("t"),
    async close() {
      await provider.shutdown();
      await server.shutdown();
    },
  };
}

Deno.test({
  name: "span.end() never encodes or sends: spans become bytes in a later task, then are sent",
  permissions: { net: true },
  async fn() {
    const { sizes: bodies, processor, provider, tracer, close } = spanSink({ batch: 8 });
    // 20 spans: two full batches of 8 and 4 waiting, all ended in one synchronous run.
    for (let i = 0; i < 20; i++) tracer.startSpan(`s${i}`).end();
    assert.equal(processor.queue.queued, 0, "nothing encoded or sealed inside span.end()");
    await new Promise((r) => setTimeout(r, 50));
    const sent = bodies.length;
    assert.ok(sent === 1 || sent === 2, "the two full batches were sent (apart or joined) later");
    await provider.forceFlush();
    assert.equal(bodies.length, sent + 1, "forceFlush sends the partial batch");
    await close();
  },
});

Deno.test({
  name:
    "a busy event loop loses no span: each encoding task keeps up with what many requests ended",
  permissions: { net: true },
  async fn() {
    const { sizes, processor, provider, tracer, close } = spanSink({ maxQueuedSpans: 65_536 });
    const before = droppedCount("traces", "queue_full");
    // As under saturation: every turn of the event loop serves many requests (here 300
    // spans' worth, 20 turns), and the encoding task gets one turn in between.
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 300; i++) tracer.startSpan(`s${i}`).end();
      await new Promise((r) => setTimeout(r, 0));
    }
    await provider.forceFlush();
    assert.equal(droppedCount("traces", "queue_full") - before, 0, "no span dropped");
    assert.equal(processor.queue.failures, 0);
    assert.equal(processor.queue.queued, 0, "every span was delivered");
    assert.ok(sizes.length >= 1);
    await close();
  },
});

Deno.test({
  name:
    "a collector answering in 40 ms takes 50,000 spans a second: waiting batches leave together",
  permissions: { net: true },
  async fn() {
    const { sizes, provider, tracer, close } = spanSink({ delayMs: 40 });
    const before = droppedCount("traces", "queue_full");
    for (let turn = 0; turn < 40; turn++) {
      for (let i = 0; i < 512; i++) tracer.startSpan(`s${i}`).end();
      await new Promise((r) => setTimeout(r, 10));
    }
    await provider.forceFlush();
    assert.equal(droppedCount("traces", "queue_full") - before, 0, "no span dropped");
    assert.ok(sizes.length < 40, `40 batches in ${sizes.length} requests`);
    await close();
  },
});

/** A reader that collects on demand (the apps' periodic reader does the same at its interval). */
class OnDemandReader extends MetricReader {
  protected onForceFlush() {
    return Promise.resolve();
  }
  protected onShutdown() {
    return Promise.resolve();
  }
}

/** One collection with every kind of point the apps export. */
async function sampleMetrics(resource: Resource): Promise<ResourceMetrics> {
  const registry = new Registry();
  const registers = [registry];
  new Counter({ name: "c_total", help: "a counter", labelNames: ["k"], registers }).inc(
    { k: "a" },
    3,
  );
  new Gauge({ name: "g", help: "a gauge", registers }).set(-2.5);
  const h = new Histogram({
    name: "http_request_duration_seconds",
    help: "latency",
    labelNames: ["method"],
    buckets: [0.01, 0.1, 1],
    registers,
  });
  for (const v of [0.005, 0.05, 0.5, 5]) h.observe({ method: "GET" }, v);
  const bridge = new PromClientProducer();
  bridge.add(registry);
  const reader = new OnDemandReader({
    aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
    metricProducers: [bridge],
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter("obskit-test", "2");
  meter.createCounter("ints", { valueType: ValueType.INT }).add(7, { "http.route": "/x" });
  meter.createUpDownCounter("updown", { valueType: ValueType.INT }).add(-4);
  meter.createHistogram("sdk.histogram", { unit: "s" }).record(0.3, { ok: true });
  meter.createObservableGauge("temp", { unit: "Cel" }).addCallback((r) => r.observe(21.5));
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return resourceMetrics;
}

Deno.test({
  name: "real collector: our protobuf decodes to what the SDK's own JSON decodes to",
  ignore: missing("otelcol-obskit"),
  permissions: { net: true, run: true, read: true, env: true, write: true },
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withReexportingCollector(async (endpoint, received) => {
      const post = async (path: string, type: string, body: Uint8Array<ArrayBuffer>) => {
        const before = received.length;
        const res = await fetch(`${endpoint}${path}`, {
          method: "POST",
          headers: { "content-type": type },
          body,
        });
        assert.equal(res.status, 200, `${path} ${type}: ${await res.text()}`);
        for (let i = 0; i < 100 && received.length === before; i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(received.length, before + 1, `the collector re-exported ${path}`);
        return JSON.parse(received[before].body);
      };

      // The same spans two ways: the app's processor (protobuf, to the collector) and the
      // SDK's own OTLP/JSON serializer; made by the SDK's tracer, then by the apps' own.
      for (const tracerKind of ["sdk", "lean"] as const) {
        const before = received.length;
        const processor = new ProtoSpanProcessor({
          url: `${endpoint}/v1/traces`,
          timeoutMs: 5000,
          maxQueueSize: 2048,
          maxExportBatchSize: 512,
          scheduledDelayMillis: 60_000,
          maxQueuedSpans: 8192,
        });
        const { spans, provider } = sampleSpans([processor], tracerKind);
        await provider.forceFlush();
        for (let i = 0; i < 100 && received.length === before; i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(received.length, before + 1, `${tracerKind}: the batch was re-exported`);
        const viaProto = JSON.parse(received[before].body);
        const viaJson = await post(
          "/v1/traces",
          "application/json",
          JsonTraceSerializer.serializeRequest(spans) as Uint8Array<ArrayBuffer>,
        );
        assert.deepEqual(viaProto, viaJson, tracerKind);
        assert.equal(viaProto.resourceSpans[0].scopeSpans[0].spans.length, 2);
      }

      // Batches the delivery queue joins are their bodies back to back: the collector
      // reads one request carrying both.
      const one = (name: string) => {
        const w = new ProtoWriter();
        const { spans } = sampleSpans();
        appendSpan(w, { ...spans[0], name, spanContext: () => spans[0].spanContext() });
        return {
          body: spanRequest(spans[0].resource, spans[0].instrumentationScope, w.finish()),
          spans: 1,
        };
      };
      const merged = mergeBatches([one("first"), one("second")]);
      assert.equal(merged.spans, 2);
      const joined = await post("/v1/traces", "application/x-protobuf", merged.body);
      assert.deepEqual(
        joined.resourceSpans.flatMap((rs: { scopeSpans: { spans: { name: string }[] }[] }) =>
          rs.scopeSpans.flatMap((ss) => ss.spans.map((sp) => sp.name))
        ),
        ["first", "second"],
      );

      const resource = buildResource({ serviceName: "proto-test", env: {} });
      const line = {
        timeMs: 1_780_000_000_123,
        level: "WARN",
        message: "admin access denied",
        traceId: "0af7651916cd43dd8448eb211c80319c",
        spanId: "b7ad6b7169203331",
        fields: { reason: "not an admin token", status: 403, ratio: 0.5, ok: false },
      };
      // The SDK's JSON of the record the logger means (what log_export sent before).
      const time = millisToHrTime(line.timeMs);
      const reference = JsonLogsSerializer.serializeRequest([{
        hrTime: time,
        hrTimeObserved: time,
        severityNumber: 13,
        severityText: "WARN",
        body: line.message,
        attributes: line.fields,
        droppedAttributesCount: 0,
        spanContext: {
          traceId: line.traceId,
          spanId: line.spanId,
          traceFlags: TraceFlags.SAMPLED,
        },
        resource,
        instrumentationScope: { name: "obskit-logger", version: "1" },
        // deno-lint-ignore no-explicit-any
      } as any])!;
      const logsViaJson = await post(
        "/v1/logs",
        "application/json",
        reference as Uint8Array<ArrayBuffer>,
      );
      const logsViaProto = await post(
        "/v1/logs",
        "application/x-protobuf",
        encodeLogEntries([line], resource, { name: "obskit-logger", version: "1" }, 2048),
      );
      assert.deepEqual(logsViaProto, logsViaJson);
      // A backlog leaves as batches back to back in one body (log_export.ts takeRequest).
      const scope = { name: "obskit-logger", version: "1" };
      const twoBatches = new Uint8Array([
        ...encodeLogEntries([line], resource, scope, 2048),
        ...encodeLogEntries([{ ...line, message: "second" }], resource, scope, 2048),
      ]);
      const joinedLogs = await post("/v1/logs", "application/x-protobuf", twoBatches);
      assert.deepEqual(
        joinedLogs.resourceLogs.flatMap((
          rl: { scopeLogs: { logRecords: { body: { stringValue: string } }[] }[] },
        ) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => r.body.stringValue))),
        ["admin access denied", "second"],
      );

      // Metrics: the SDK's own instruments and the prom-client bridge's families in one
      // collection, as the apps' reader gathers them.
      const rm = await sampleMetrics(resource);
      const metricsViaJson = await post(
        "/v1/metrics",
        "application/json",
        JsonMetricsSerializer.serializeRequest(rm) as Uint8Array<ArrayBuffer>,
      );
      const metricsViaProto = await post(
        "/v1/metrics",
        "application/x-protobuf",
        encodeMetrics(rm),
      );
      assert.deepEqual(metricsViaProto, metricsViaJson);
      // Exemplars (the SDK's JSON has none): a bucket's trace id comes through.
      const histogram = rm.scopeMetrics.flatMap((sm) => sm.metrics).find((m) =>
        m.descriptor.name === "http_request_duration_seconds"
      )!;
      (histogram.dataPoints[0] as { exemplars?: PointExemplar[] }).exemplars = [{
        timeMs: 1_780_000_000_250,
        value: 0.042,
        traceId: "0af7651916cd43dd8448eb211c80319c",
        spanId: "b7ad6b7169203331",
      }];
      const withExemplar = await post("/v1/metrics", "application/x-protobuf", encodeMetrics(rm));
      const points = withExemplar.resourceMetrics[0].scopeMetrics.flatMap((
        sm: { metrics: { name: string; histogram?: { dataPoints: unknown[] } }[] },
      ) => sm.metrics).find((m: { name: string }) => m.name === "http_request_duration_seconds")
        .histogram.dataPoints;
      assert.deepEqual(points[0].exemplars, [{
        timeUnixNano: "1780000000250000000",
        asDouble: 0.042,
        spanId: "b7ad6b7169203331",
        traceId: "0af7651916cd43dd8448eb211c80319c",
      }]);
    });
  },
});

Deno.test({
  name: "OTEL_EXPORTER_OTLP_PROTOCOL=http/json: spans leave as the SDK's OTLP/JSON (loaded on use)",
  permissions: { net: true, env: true, read: true, sys: true },
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const seen: { type: string | null; body: string }[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      seen.push({ type: req.headers.get("content-type"), body: await req.text() });
      return new Response("{}", { headers: { "content-type": "application/json" } });
    });
    const tracing = setupTracing({
      serviceName: "json-path",
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      },
    });
    tracing.tracer.startSpan("json span").end();
    await tracing.provider.forceFlush();
    await tracing.exporter.forceFlush();
    await tracing.provider.shutdown();
    await server.shutdown();
    assert.equal(seen.length, 1);
    assert.match(seen[0].type ?? "", /application\/json/);
    const name = JSON.parse(seen[0].body).resourceSpans[0].scopeSpans[0].spans[0].name;
    assert.equal(name, "json span");
  },
});

Deno.test({
  name: "http/json under load: every request's spans reach the collector (exporter built at setup)",
  permissions: { net: true, env: true, read: true, sys: true },
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    let spans = 0;
    const collector = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = JSON.parse(await req.text());
      for (const rs of body.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          spans += ss.spans.filter((s: { kind: number }) => s.kind === 2).length;
        }
      }
      return new Response("{}", { headers: { "content-type": "application/json" } });
    });
    const obs = initializeObservability({
      serviceName: "json-load",
      logs: false,
      metrics: false,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "64",
      },
    });
    const prev = setLogSink({ write() {} });
    const { app } = createInstrumentedApp({
      observability: obs,
      logger: createLogger("json-load"),
    });
    const server = startServer(app, { port: 0, hostname: "127.0.0.1" });
    const total = 2000;
    try {
      let next = 0;
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (next < total) {
          next++;
          await (await fetch(`${server.url}/api/data`)).body?.cancel();
        }
      }));
      await obs.flush();
      for (let i = 0; i < 100 && spans < total; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(spans, total, "one server span per request arrived");
    } finally {
      await server.stop();
      await obs.shutdown();
      setLogSink(prev);
      await collector.shutdown();
    }
  },
});
