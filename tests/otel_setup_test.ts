import { strict as assert } from "node:assert";
import { context, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { LeanContext } from "../apps/lib/lean_context.ts";
import {
  buildResource,
  initializeObservability,
  normalizeOtlpEndpoint,
  samplerFromEnv,
  setupTracing,
  tracesProtocol,
} from "../apps/otel_setup.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;

Deno.test({
  name:
    "the book's OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4317 becomes OTLP/HTTP on 4318, said once",
  ...unit,
  fn() {
    const notices: string[] = [];
    const note = (m: string) => notices.push(m);
    assert.equal(normalizeOtlpEndpoint("localhost:4317", note), "http://localhost:4318");
    assert.equal(normalizeOtlpEndpoint("http://localhost:4317", note), "http://localhost:4318");
    assert.ok(notices.length <= 1, "the normalization notice is given at most once");
    assert.equal(normalizeOtlpEndpoint(undefined, note), "http://localhost:4318");
    assert.equal(normalizeOtlpEndpoint("", note), "http://localhost:4318");
    assert.equal(
      normalizeOtlpEndpoint("https://otel.example:4318/", note),
      "https://otel.example:4318",
    );
    // No scheme: the gRPC host:port, whatever the port (OTLP/HTTP is the next one).
    assert.equal(normalizeOtlpEndpoint("collector:4318", note), "http://collector:4319");
    assert.throws(() => normalizeOtlpEndpoint("ftp://x:1", note), /must be http/);
  },
});

Deno.test({
  name:
    "resource attributes come from OTEL_* and the book's SERVICE_* variables with the spec's precedence",
  ...unit,
  fn() {
    const r1 = buildResource({
      serviceName: "default-name",
      env: { HOSTNAME: "worker-1", DEPLOYMENT_ENV: "production", SERVICE_VERSION: "2.3.4" },
    });
    assert.equal(r1.attributes["service.name"], "default-name");
    assert.equal(r1.attributes["service.version"], "2.3.4");
    assert.equal(r1.attributes["deployment.environment.name"], "production");
    assert.equal(r1.attributes["host.name"], "worker-1");

    const r2 = buildResource({
      serviceName: "default-name",
      env: {
        SERVICE_NAME: "book-name",
        OTEL_RESOURCE_ATTRIBUTES: "team=platform,service.name=attr-name",
      },
    });
    assert.equal(r2.attributes["service.name"], "book-name");
    assert.equal(r2.attributes["team"], "platform");

    const r3 = buildResource({
      serviceName: "default-name",
      env: { SERVICE_NAME: "book-name", OTEL_SERVICE_NAME: "otel-name" },
    });
    assert.equal(r3.attributes["service.name"], "otel-name");
  },
});

Deno.test({
  name: "OTEL_TRACES_SAMPLER selects the sampler",
  ...unit,
  fn() {
    assert.match(samplerFromEnv({}).toString(), /ParentBased/);
    assert.match(samplerFromEnv({ OTEL_TRACES_SAMPLER: "always_off" }).toString(), /AlwaysOff/);
    assert.match(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" })
        .toString(),
      /0\.1/,
    );
  },
});

Deno.test({
  name: "unknown sampler, ratio or protocol settings fall back with a warning, never silently",
  ...unit,
  fn() {
    const warnings: string[] = [];
    const warn = (_key: string, message: string) => warnings.push(message);
    assert.match(samplerFromEnv({ OTEL_TRACES_SAMPLER: "bogus" }, warn).toString(), /ParentBased/);
    assert.match(warnings.at(-1) ?? "", /OTEL_TRACES_SAMPLER 'bogus'/);
    samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" }, warn);
    assert.match(warnings.at(-1) ?? "", /OTEL_TRACES_SAMPLER_ARG '2'/);
    assert.equal(tracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, warn), "http/protobuf");
    assert.match(warnings.at(-1) ?? "", /'grpc' is not supported/);
    const before = warnings.length;
    assert.equal(
      tracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }, warn),
      "http/json",
    );
    assert.equal(tracesProtocol({}, warn), "http/protobuf", "the OTLP spec's default");
    samplerFromEnv({ OTEL_TRACES_SAMPLER: "always_off" }, warn);
    assert.equal(warnings.length, before, "valid settings warn about nothing");
  },
});

Deno.test({
  name:
    "the span queue is bounded: with the exporter stuck, spans beyond 2,048 are dropped, not kept",
  ...unit,
  async fn() {
    let received = 0;
    const stuck: Array<(r: { code: number }) => void> = [];
    const exporter = {
      export(spans: unknown[], done: (r: { code: number }) => void) {
        received += spans.length;
        stuck.push(done); // a collector that never answers
      },
      shutdown: () => Promise.resolve(),
      forceFlush: () => Promise.resolve(),
    };
    const tracing = setupTracing({
      serviceName: "queue-test",
      spanExporter: exporter as never,
      exportTimeoutMs: 60_000,
      env: { OTEL_BSP_SCHEDULE_DELAY: "1" },
    });
    for (let i = 0; i < 10_000; i++) tracing.tracer.startSpan(`s${i}`).end();
    // Let the first batch reach the (stuck) exporter, then release everything.
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 100 && stuck.length; i++) {
      stuck.splice(0).forEach((done) => done({ code: 0 }));
      await new Promise((r) => setTimeout(r, 5));
    }
    const flushed = tracing.provider.forceFlush();
    for (let i = 0; i < 100; i++) {
      stuck.splice(0).forEach((done) => done({ code: 0 }));
      await new Promise((r) => setTimeout(r, 2));
    }
    await flushed;
    await tracing.provider.shutdown();
    // At most one batch in flight (512) plus a full queue (2,048) survive.
    assert.ok(received > 0, "spans were exported once the exporter answered");
    assert.ok(received <= 2048 + 512, `${received} of 10,000 spans were kept`);
  },
});

Deno.test({
  name:
    "any scheme-less endpoint is read as the OTLP/gRPC host:port and sent to OTLP/HTTP on port+1, said once",
  ...unit,
  fn() {
    const notices: string[] = [];
    const note = (m: string) => notices.push(m);
    // A collector started with gRPC on 28317 has OTLP/HTTP on 28318 (the 4317/4318 convention).
    assert.equal(normalizeOtlpEndpoint("localhost:28317", note), "http://localhost:28318");
    assert.equal(normalizeOtlpEndpoint("collector.obs:4317", note), "http://collector.obs:4318");
    // With a scheme the value is taken as the OTLP/HTTP endpoint it says (only 4317 is moved).
    assert.equal(normalizeOtlpEndpoint("http://localhost:28317", note), "http://localhost:28317");
    assert.ok(notices.length <= 1, `one WARN line at most: ${notices}`);
  },
});

Deno.test({
  name:
    "OTEL_SDK_DISABLED=true: spans record nothing, metrics export nothing, flush and shutdown work",
  ...unit,
  async fn() {
    const obs = initializeObservability({
      serviceName: "disabled",
      logs: false,
      env: { OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" },
    });
    const span = obs.tracer.startSpan("nothing");
    assert.equal(span.isRecording(), false);
    span.end();
    obs.meter.createCounter("c").add(1);
    assert.equal(await obs.flush(), true, "nothing to send, nothing failed");
    await obs.shutdown();
    // And without it, the same setup records.
    const on = initializeObservability({
      serviceName: "enabled",
      logs: false,
      metrics: false,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" },
    });
    const recorded = on.tracer.startSpan("something");
    assert.equal(recorded.isRecording(), true);
    await on.shutdown();
  },
});

Deno.test({
  name: "the SDK setup installs the lean context manager: request contexts are LeanContexts",
  ...unit,
  async fn() {
    const tracing = setupTracing({
      serviceName: "context-test",
      spanExporter: new InMemorySpanExporter(),
    });
    try {
      const span = tracing.tracer.startSpan("request");
      const ctx = trace.setSpan(context.active(), span);
      assert.ok(context.active() instanceof LeanContext);
      assert.ok(ctx instanceof LeanContext);
      context.with(ctx, () => assert.equal(trace.getActiveSpan(), span));
      span.end();
    } finally {
      await tracing.provider.shutdown();
    }
  },
});
