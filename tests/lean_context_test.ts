/**
 * apps/lib/lean_context.ts: the same Context semantics as the API's
 * BaseContext, as the manager's root, and what it is for: a context made per
 * request no longer survives young-generation garbage collection.
 */
import assert from "node:assert/strict";
import { createContextKey, propagation, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import {
  CompositePropagator,
  isTracingSuppressed,
  suppressTracing,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import { LeanContext, LeanContextManager } from "../apps/lib/lean_context.ts";

const A = createContextKey("lean-context-test a");
const B = createContextKey("lean-context-test b");

Deno.test("a LeanContext sets, reads and deletes values like the API's context, never in place", () => {
  for (const root of [ROOT_CONTEXT, LeanContext.ROOT]) {
    const one = root.setValue(A, 1);
    const two = one.setValue(B, "two");
    const replaced = two.setValue(A, 3);
    const without = replaced.deleteValue(A);
    assert.equal(root.getValue(A), undefined);
    assert.equal(one.getValue(A), 1);
    assert.equal(one.getValue(B), undefined);
    assert.deepEqual([two.getValue(A), two.getValue(B)], [1, "two"]);
    assert.deepEqual([replaced.getValue(A), replaced.getValue(B)], [3, "two"]);
    assert.deepEqual([without.getValue(A), without.getValue(B)], [undefined, "two"]);
    // The context a value was deleted from keeps it.
    assert.equal(replaced.getValue(A), 3);
    assert.equal(without.deleteValue(A).getValue(B), "two");
  }
});

Deno.test("spans, suppression, traceparent and baggage go through a LeanContext as through the API's", () => {
  const propagator = new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  });
  const carrier = {
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    baggage: "tenant=blue",
  };
  const getter = {
    get: (c: Record<string, string>, k: string) => c[k],
    keys: (c: Record<string, string>) => Object.keys(c),
  };
  const seen = [ROOT_CONTEXT, LeanContext.ROOT].map((root) => {
    const extracted = propagator.extract(root, carrier, getter);
    const out: Record<string, string> = {};
    propagator.inject(extracted, out, { set: (c, k, v) => (c[k] = v) });
    const span = trace.wrapSpanContext({
      traceId: "1".repeat(32),
      spanId: "2".repeat(16),
      traceFlags: TraceFlags.SAMPLED,
    });
    const withSpan = trace.setSpan(extracted, span);
    return {
      parent: trace.getSpanContext(extracted),
      baggage: propagation.getBaggage(extracted)?.getEntry("tenant")?.value,
      injected: out,
      active: trace.getSpan(withSpan) === span,
      withoutSpan: trace.getSpan(trace.deleteSpan(withSpan)),
      suppressed: [isTracingSuppressed(extracted), isTracingSuppressed(suppressTracing(extracted))],
    };
  });
  assert.deepEqual(seen[1], seen[0]);
  assert.equal(seen[0].parent?.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(seen[0].baggage, "blue");
  assert.deepEqual(seen[0].suppressed, [false, true]);
});

Deno.test("the manager's root is a LeanContext; with, and a return to the API's root, work as before", async () => {
  const manager = new LeanContextManager().enable();
  assert.ok(manager.active() instanceof LeanContext);
  const ctx = manager.active().setValue(A, "request");
  assert.ok(ctx instanceof LeanContext);
  const seen = await manager.with(ctx, async () => {
    await new Promise((r) => setTimeout(r, 1));
    const inner = manager.with(ROOT_CONTEXT, () => manager.active());
    return [manager.active().getValue(A), inner.getValue(A), inner instanceof LeanContext];
  });
  assert.deepEqual(seen, ["request", undefined, true]);
  assert.equal(manager.active().getValue(A), undefined);
});

/**
 * Runs a loop of "requests", each making a context from `root` that holds a
 * span and dropping it after an await, under --trace-gc-nvp; returns the
 * bytes that survived the average scavenge.
 */
async function survivedPerScavenge(root: "lean" | "api"): Promise<number> {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  const leanContext = new URL("../apps/lib/lean_context.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { LeanContext } from ${JSON.stringify(leanContext)};
const root = ${root === "lean" ? "LeanContext.ROOT" : "ROOT_CONTEXT"};
let sink = 0;
async function request(i) {
  const span = trace.wrapSpanContext({ traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: TraceFlags.NONE });
  const ctx = trace.setSpan(root, span);
  await null;
  const work = new Array(100).fill(i);
  sink += work.length + (trace.getSpan(ctx) ? 1 : 0);
}
for (let batch = 0; batch < 20000; batch++) {
  const all = [];
  for (let j = 0; j < 10; j++) all.push(request(j));
  await Promise.all(all);
  if (batch % 10 === 0) await new Promise((r) => setTimeout(r, 0));
}
`,
  );
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "--no-lock",
        `--config=${new URL("../deno.json", import.meta.url).pathname}`,
        "--v8-flags=--trace-gc-nvp",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const survived = [...text.matchAll(/"gc":"s".*?"new_space_survived":(\d+)/g)]
      .map((m) => Number(m[1]))
      .slice(3); // start-up scavenges
    assert.ok(survived.length >= 10, `only ${survived.length} scavenges:\n${text.slice(0, 500)}`);
    return survived.reduce((a, b) => a + b, 0) / survived.length;
  } finally {
    await Deno.remove(script);
  }
}

Deno.test("a context made per request and dropped does not survive young-generation GC", async () => {
  const lean = await survivedPerScavenge("lean");
  const api = await survivedPerScavenge("api");
  // The API's BaseContext is the control: the loop must be able to show the problem.
  assert.ok(api > 30_000, `control: API contexts survived only ${Math.round(api)} B/scavenge`);
  assert.ok(lean < 15_000, `LeanContext: ${Math.round(lean)} B survived each scavenge`);
});
