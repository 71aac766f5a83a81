import { strict as assert } from "node:assert";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { setupTracing } from "../apps/otel_setup.ts";
import { processUserRequest, TRACE_DEMO_SERVICE } from "../apps/lib/push_demo.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;

function demoTracing() {
  const exporter = new InMemorySpanExporter();
  const tracing = setupTracing({
    serviceName: TRACE_DEMO_SERVICE,
    spanExporter: exporter,
    simpleSpanProcessor: true,
    env: {},
  });
  return { exporter, tracing };
}

Deno.test({
  name: "push demo: process_user_request with validate_user_action and perform_action as children",
  ...unit,
  async fn() {
    const { exporter, tracing } = demoTracing();
    const { traceId, outcome } = await processUserRequest(tracing.tracer, {
      userId: "user-42",
      action: "update",
    });
    await tracing.provider.forceFlush(); // shutdown() would clear the in-memory exporter
    assert.equal(outcome.success, true);
    const spans = exporter.getFinishedSpans();
    assert.deepEqual(spans.map((s) => s.name).sort(), [
      "perform_action",
      "process_user_request",
      "validate_user_action",
    ]);
    const parent = spans.find((s) => s.name === "process_user_request")!;
    assert.equal(parent.spanContext().traceId, traceId);
    assert.equal(parent.parentSpanContext, undefined);
    assert.equal(parent.resource.attributes["service.name"], TRACE_DEMO_SERVICE);
    assert.equal(parent.attributes["user.id"], "user-42");
    assert.equal(parent.attributes["http.request.method"], "POST");
    assert.deepEqual(parent.events.map((e) => e.name), [
      "user_request_started",
      "user_request_completed",
    ]);
    for (const name of ["validate_user_action", "perform_action"]) {
      const child = spans.find((s) => s.name === name)!;
      assert.equal(child.parentSpanContext?.spanId, parent.spanContext().spanId, name);
      assert.equal(child.spanContext().traceId, traceId);
    }
    const perform = spans.find((s) => s.name === "perform_action")!;
    assert.ok(perform.events.some((e) => e.name === "action_executed"));
  },
});

Deno.test({
  name: "push demo --fail: the exception is recorded and the error status reaches the parent",
  ...unit,
  async fn() {
    const { exporter, tracing } = demoTracing();
    const { outcome } = await processUserRequest(tracing.tracer, {
      userId: "u",
      action: "delete",
      fail: true,
    });
    await tracing.provider.forceFlush(); // shutdown() would clear the in-memory exporter
    assert.equal(outcome.success, false);
    const spans = exporter.getFinishedSpans();
    const perform = spans.find((s) => s.name === "perform_action")!;
    const parent = spans.find((s) => s.name === "process_user_request")!;
    assert.equal(perform.status.code, 2);
    assert.ok(perform.events.some((e) => e.name === "exception"));
    assert.equal(parent.status.code, 2);
    assert.match(parent.status.message ?? "", /failed/);
  },
});
