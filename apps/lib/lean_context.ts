/**
 * OTel contexts that the young-generation GC can free.
 *
 * @opentelemetry/api's BaseContext (what ROOT_CONTEXT.setValue makes) gives
 * every context three closures over itself (getValue, setValue, deleteValue)
 * and a Map. V8's scavenger does not free such an object with the rest of its
 * request: measured with --trace-gc-nvp, a context made per request and
 * dropped at once survives young-generation collections and is promoted
 * (~60 KB a scavenge in the bare loop of tests/lean_context_test.ts, against
 * ~3 KB for the same context with prototype methods). In the instrumented app
 * every request makes two or three contexts, and with them the span and
 * everything else they reach was copied on each scavenge and promoted to the
 * old generation: scavenge pauses of 1.5-3 ms every ~150 ms at 3,000
 * requests/s, which was the app's p99.
 *
 * LeanContext is the same immutable, copy-on-write map of values with
 * prototype methods. The manager hands it out as the root, so every context
 * derived from `context.active()` (trace.setSpan, propagation.extract,
 * suppressTracing, baggage) is one too; a context built from the API's own
 * ROOT_CONTEXT keeps working as before.
 */
import { type Context, ROOT_CONTEXT } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";

export class LeanContext implements Context {
  private constructor(private readonly values: ReadonlyMap<symbol, unknown>) {}

  static readonly ROOT: Context = new LeanContext(new Map());

  getValue(key: symbol): unknown {
    return this.values.get(key);
  }

  setValue(key: symbol, value: unknown): Context {
    const values = new Map(this.values);
    values.set(key, value);
    return new LeanContext(values);
  }

  deleteValue(key: symbol): Context {
    if (!this.values.has(key)) return this;
    const values = new Map(this.values);
    values.delete(key);
    return new LeanContext(values);
  }
}

/**
 * The SDK's AsyncLocalStorage context manager, whose root context is a
 * LeanContext (its with/bind/attach are unchanged).
 */
export class LeanContextManager extends AsyncLocalStorageContextManager {
  override active(): Context {
    const active = super.active();
    return active === ROOT_CONTEXT ? LeanContext.ROOT : active;
  }
}
