/**
 * The apps' tracer (apps/lib/lean_tracer.ts) against the SDK's: the same
 * calls on both must give the same finished spans (what every exporter
 * reads), and the same sampling, limits and misuse handling. The wire format
 * of lean spans is checked against the real collector in otlp_proto_test.ts.
 */
import assert from "node:assert/strict";
import {
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AlwaysOffSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { type FullSpanLimits, LeanTracerProvider } from "../apps/lib/lean_tracer.ts";
import { buildResource, samplerFromEnv, spanLimitsFromEnv } from "../apps/otel_setup.ts";

/** Ids counted up from 1, so both tracers hand out the same ones. */
function countingIds() {
  let trace = 0, span = 0;
  return {
    generateTraceId: () => (++trace).toString(16).padStart(32, "0"),
    generateSpanId: () => (++span).toString(16).padStart(16, "0"),
  };
}

const T0 = 1_780_000_000_123.5; // epoch ms: later than performance.now(), so read as epoch time

function both(limits: FullSpanLimits, env: Record<string, string> = {}) {
  const make = (lean: boolean) => {
    const exporter = new InMemorySpanExporter();
    const config = {
      resource: buildResource({ serviceName: "lean-test", env: {} }),
      sampler: samplerFromEnv(env),
      spanLimits: limits,
      idGenerator: countingIds(),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    };
    const provider = lean ? new LeanTracerProvider(config) : new TracerProvider(config);
    return { tracer: provider.getTracer("obskit-test", "1.0.0"), exporter };
  };
  return { sdk: make(false), lean: make(true) };
}

/** What an exporter reads of a finished span, as plain data. */
function view(s: ReadableSpan) {
  return {
    name: s.name,
    kind: s.kind,
    context: s.spanContext(),
    parent: s.parentSpanContext,
    startTime: s.startTime,
    endTime: s.endTime,
    duration: s.duration,
    ended: s.ended,
    status: s.status,
    attributes: s.attributes,
    events: s.events.map((e) => ({
      name: e.name,
      time: e.time,
      attributes: e.attributes,
      droppedAttributesCount: e.droppedAttributesCount,
    })),
    links: s.links,
    dropped: [s.droppedAttributesCount, s.droppedEventsCount, s.droppedLinksCount],
    scope: s.instrumentationScope,
    service: s.resource.attributes["service.name"],
  };
}

/** Runs `scenario` on both tracers and checks their finished spans are the same. */
function assertSame(
  scenario: (tracer: Tracer) => void,
  limits = spanLimitsFromEnv({}),
  env: Record<string, string> = {},
): ReadableSpan[] {
  const { sdk, lean } = both(limits, env);
  scenario(sdk.tracer);
  scenario(lean.tracer);
  const want = sdk.exporter.getFinishedSpans();
  const got = lean.exporter.getFinishedSpans();
  assert.deepEqual(got.map(view), want.map(view));
  return got;
}

Deno.test("a server span with children, events, links and status is what the SDK records", () => {
  const badRow = new TypeError("bad row"); // one error, so both spans record the same stack
  const spans = assertSame((tracer) => {
    const server = tracer.startSpan("GET", {
      kind: SpanKind.SERVER,
      startTime: T0,
      attributes: {
        "http.request.method": "GET",
        "server.port": 8000,
        "flag": true,
        "list": ["a", "b"],
        "nested": { a: 1, b: ["x"] },
        "skipped": undefined,
      },
    });
    server.updateName("GET /api/data");
    server.setAttribute("http.route", "/api/data");
    server.setAttributes({ "http.response.status_code": 200, "ratio": 0.25 });
    server.addEvent("order.completed", { "app.order.value": 12.5 }, T0 + 1);
    server.addEvent("at a time", T0 + 2);
    server.addEvent("arrays and maps", { tags: ["a", "b"], map: { k: 1 } as never }, T0 + 2.5);
    const ctx = trace.setSpan(ROOT_CONTEXT, server);
    const child = tracer.startSpan("db.query", {
      kind: SpanKind.CLIENT,
      startTime: T0 + 0.25,
      links: [{
        context: {
          traceId: "0af7651916cd43dd8448eb211c80319c",
          spanId: "b7ad6b7169203331",
          traceFlags: TraceFlags.SAMPLED,
        },
        attributes: { reason: "batch" },
      }],
    }, ctx);
    child.recordException(badRow, T0 + 0.5);
    child.setStatus({ code: SpanStatusCode.ERROR, message: "went wrong" });
    child.end(T0 + 0.75);
    server.setStatus({ code: SpanStatusCode.OK });
    server.setStatus({ code: SpanStatusCode.ERROR, message: "too late: OK is final" });
    server.end(T0 + 3);
  });
  assert.equal(spans.length, 2);
  assert.equal(spans[0].parentSpanContext?.spanId, spans[1].spanContext().spanId);
});

Deno.test("limits: attribute count and length, event and link counts, as the SDK applies them", () => {
  const limits: FullSpanLimits = {
    attributeCountLimit: 3,
    attributeValueLengthLimit: 5,
    eventCountLimit: 2,
    linkCountLimit: 1,
    attributePerEventCountLimit: 1,
    attributePerLinkCountLimit: 1,
  };
  const link = (n: number) => ({
    context: {
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: `b7ad6b716920333${n}`,
      traceFlags: TraceFlags.SAMPLED,
    },
    attributes: { a: 1, b: 2 },
  });
  const [span] = assertSame((tracer) => {
    const s = tracer.startSpan("limited", {
      startTime: T0,
      attributes: { a: "0123456789", b: ["0123456789", "x"] },
      links: [link(1), link(2)],
    });
    s.setAttribute("c", 3);
    s.setAttribute("d", 4); // over the count: dropped
    s.setAttribute("a", "replaced-and-cut"); // an existing key is always updated
    for (let i = 0; i < 4; i++) s.addEvent(`e${i}`, { x: i, y: i }, T0 + i);
    s.addLink(link(3));
    s.end(T0 + 10);
  }, limits);
  assert.equal(span.attributes.a, "repla");
  assert.deepEqual(span.events.map((e) => e.name), ["e2", "e3"], "the oldest events give way");
  assert.equal(span.droppedAttributesCount, 1);
});

Deno.test("misuse: changes after end, a second end, an end before the start, invalid values", () => {
  assertSame((tracer) => {
    const s = tracer.startSpan("once", { startTime: T0 });
    s.setAttribute("", "empty key");
    s.setAttribute("fn", (() => 1) as unknown as string);
    s.end(T0 - 5); // before the start: the duration becomes 0
    s.setAttribute("late", 1);
    s.addEvent("late");
    s.updateName("renamed");
    s.setStatus({ code: SpanStatusCode.ERROR });
    s.end(T0 + 5);
    assert.equal(s.isRecording(), false);
  });
});

Deno.test("sampling: the configured sampler decides, and an unsampled span still carries the ids", () => {
  for (const sampler of ["always_off", "parentbased_always_on", "traceidratio"]) {
    const env = { OTEL_TRACES_SAMPLER: sampler, OTEL_TRACES_SAMPLER_ARG: "0.5" };
    assertSame(
      (tracer) => {
        for (let i = 0; i < 20; i++) tracer.startSpan(`s${i}`, { startTime: T0 }).end(T0 + 1);
      },
      spanLimitsFromEnv({}),
      env,
    );
  }
  const { lean } = both(spanLimitsFromEnv({}), { OTEL_TRACES_SAMPLER: "always_on" });
  // A remote parent that was not sampled: parent-based sampling keeps it unsampled.
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    traceFlags: TraceFlags.NONE,
    isRemote: true,
  });
  const sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() });
  const provider = new LeanTracerProvider({
    resource: buildResource({ serviceName: "lean-test", env: {} }),
    sampler,
    spanLimits: spanLimitsFromEnv({}),
    idGenerator: countingIds(),
    spanProcessors: [new SimpleSpanProcessor({ exporter: lean.exporter })],
  });
  const child = provider.getTracer("t").startSpan("child", {}, parent);
  assert.equal(child.isRecording(), false);
  assert.equal(child.spanContext().traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(child.spanContext().traceFlags, TraceFlags.NONE);
  const suppressed = provider.getTracer("t").startSpan("quiet", {}, suppressTracing(ROOT_CONTEXT));
  assert.equal(trace.isSpanContextValid(suppressed.spanContext()), false);
  assert.equal(lean.exporter.getFinishedSpans().length, 0);
});

Deno.test("startActiveSpan: every overload makes the span active and returns what fn returns", () => {
  // The apps' context manager (otel_setup.ts installs the same).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const { lean } = both(spanLimitsFromEnv({}));
  const parent = lean.tracer.startSpan("parent");
  const parentCtx = trace.setSpan(context.active(), parent);
  const seen: (Span | undefined)[] = [];
  const fn = (span: Span) => {
    seen.push(trace.getActiveSpan());
    span.end();
    return span.spanContext().spanId;
  };
  const ids = [
    lean.tracer.startActiveSpan("a", fn),
    lean.tracer.startActiveSpan("b", { kind: SpanKind.INTERNAL }, fn),
    lean.tracer.startActiveSpan("c", {}, parentCtx, fn),
  ];
  parent.end();
  const finished = lean.exporter.getFinishedSpans();
  assert.deepEqual(seen.map((s) => s?.spanContext().spanId), ids);
  assert.equal(
    finished.find((s) => s.name === "c")?.parentSpanContext?.spanId,
    parent.spanContext().spanId,
  );
  assert.equal(finished.find((s) => s.name === "a")?.parentSpanContext, undefined);
});
