/**
 * Telemetry delivery that survives a collector outage and never loses data
 * without a count.
 *
 * `QueuedSpanExporter` sits between the SDK's batch processor and the OTLP
 * exporter. The batch processor hands it a batch (often inside `span.end()`
 * of the request that filled the batch); it only queues the batch and
 * returns, so no request waits for encoding or the network. One sender
 * drains the queue in order, one batch at a time; a failed batch stays at
 * the head and is retried with exponential backoff until the collector is
 * back. The queue is bounded in spans: a batch that does not fit is dropped
 * and counted, as is a batch the collector refuses for good (a 4xx other
 * than 429) and whatever is still queued when the process shuts down.
 *
 * The counts are process-wide and exposed by the apps on /metrics as
 * `app_telemetry_dropped_total{signal,reason}` (items that will never be
 * delivered) and `app_telemetry_export_failures_total{signal}` (failed
 * export attempts, retried or not).
 */
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { isRetryableStatus } from "./otlp_http.ts";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { Counter, type Registry } from "prom-client";
import {
  countDropped,
  countExportFailure,
  droppedEntries,
  type DropReason,
  exportFailureCount,
  type Signal,
} from "./telemetry_loss.ts";

/** Series shown at 0 from the start, so `rate()` and alerts see them before the first loss. */
const INITIAL: Record<Signal, DropReason[]> = {
  traces: ["queue_full", "rejected", "shutdown"],
  metrics: [],
  logs: ["queue_full", "rejected", "stdout_closed"],
};

/**
 * Registers the loss counters on an app's registry; `signals` are the ones
 * the app produces (the pull app only writes logs).
 */
export function registerTelemetryLossMetrics(registry: Registry, signals: Signal[]): void {
  new Counter({
    name: "app_telemetry_dropped_total",
    help:
      "Telemetry items (spans, log lines) this process will never deliver, by signal and reason.",
    labelNames: ["signal", "reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const signal of signals) {
        for (const reason of INITIAL[signal]) this.inc({ signal, reason }, 0);
      }
      for (const { signal, reason, count } of droppedEntries()) {
        if (signals.includes(signal)) this.inc({ signal, reason }, count);
      }
    },
  });
  const exported = signals.filter((s) => s !== "logs");
  if (exported.length === 0) return;
  new Counter({
    name: "app_telemetry_export_failures_total",
    help: "Failed OTLP export attempts by signal; failed span batches are retried, " +
      "metrics are cumulative and resent whole by the next export.",
    labelNames: ["signal"],
    registers: [registry],
    collect() {
      this.reset();
      for (const signal of exported) this.inc({ signal }, exportFailureCount(signal));
    },
  });
}

export interface QueueOptions {
  /** Most spans held for delivery; a batch that does not fit is dropped and counted. */
  maxQueuedSpans: number;
  /** First retry delay after a failed export; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** An export that has not answered by then counts as failed (and is retried). */
  sendTimeoutMs?: number;
  /** Told about each failed attempt (rate-limited by the caller). */
  onFailure?: (message: string) => void;
}

/**
 * How waiting batches become one request (optional): `merge` joins batches
 * that `size` says fit in `maxBytes` together. One request is in flight at a
 * time, so without it a collector answering in 25 ms takes at most 40
 * batches a second, whatever the backlog; with it, a backlog leaves in as
 * few requests as fit.
 */
export interface Coalescing<B> {
  size(batch: B): number;
  merge(batches: B[]): B;
  maxBytes: number;
}

/**
 * Besides the OTLP spec's retryable answers (otlp_http.ts isRetryableStatus)
 * and no answer at all (a network error, a timeout), an HTTP error status will
 * fail again however often the batch is sent, and would block the queue behind it.
 */
function isPermanent(error: Error | undefined): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" && code >= 400 && !isRetryableStatus(code);
}

/**
 * The delivery queue itself, for any kind of batch: `send` delivers one
 * (resolving with the export result), `count` says how many spans it holds.
 * Batches leave in order, one at a time, off the caller's task.
 */
export class DeliveryQueue<B> {
  /** Failed export attempts by this queue (the push demo reports them). */
  failures = 0;
  lastError?: string;
  private readonly batches: B[] = [];
  private queuedSpans = 0;
  private sending = false;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private backoffMs = 0;
  private stopped = false;
  /** Resolved when the queue empties or an attempt fails (forceFlush waits on these). */
  private waiters: Array<() => void> = [];
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly deliver: (batch: B, done: (result: ExportResult) => void) => void,
    private readonly count: (batch: B) => number,
    private readonly opts: QueueOptions,
    private readonly coalescing?: Coalescing<B>,
  ) {
    this.initialBackoffMs = opts.initialBackoffMs ?? 250;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5000;
  }

  /** Spans waiting for delivery. */
  get queued(): number {
    return this.queuedSpans;
  }

  /** Queues a batch (or counts it as dropped when it does not fit); never waits. */
  push(batch: B): void {
    const n = this.count(batch);
    if (this.stopped) {
      countDropped("traces", "shutdown", n);
    } else if (this.queuedSpans + n > this.opts.maxQueuedSpans) {
      countDropped("traces", "queue_full", n);
    } else {
      this.batches.push(batch);
      this.queuedSpans += n;
      // Sent from a later task: the caller (a request's span.end()) returns at once.
      if (!this.sending && this.retryTimer === undefined) {
        this.sending = true;
        setTimeout(() => this.drain(), 0);
      }
    }
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (this.batches.length > 0) {
      this.coalesce();
      const batch = this.batches[0];
      const result = await this.send(batch);
      if (result.code === ExportResultCode.SUCCESS) {
        this.take();
        this.backoffMs = 0;
        continue;
      }
      this.failures++;
      countExportFailure("traces");
      this.lastError = result.error?.message ?? "export failed";
      this.opts.onFailure?.(this.lastError);
      if (isPermanent(result.error)) {
        countDropped("traces", "rejected", this.take());
        continue;
      }
      // Transient (collector down, 429, 5xx, timeout): retry the same batch later.
      this.backoffMs = Math.min(
        this.maxBackoffMs,
        this.backoffMs ? this.backoffMs * 2 : this.initialBackoffMs,
      );
      this.sending = false;
      this.wake();
      if (!this.stopped) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.drain();
        }, this.backoffMs);
      }
      return;
    }
    this.sending = false;
    this.wake();
  }

  /** Joins the batches at the head that fit in one request (a retry resends the joined one). */
  private coalesce(): void {
    const c = this.coalescing;
    if (!c || this.batches.length < 2) return;
    let bytes = c.size(this.batches[0]);
    let k = 1;
    while (k < this.batches.length && bytes + c.size(this.batches[k]) <= c.maxBytes) {
      bytes += c.size(this.batches[k++]);
    }
    if (k > 1) this.batches.splice(0, k, c.merge(this.batches.slice(0, k)));
  }

  private take(): number {
    const batch = this.batches.shift();
    const n = batch === undefined ? 0 : this.count(batch);
    this.queuedSpans -= n;
    return n;
  }

  private send(batch: B): Promise<ExportResult> {
    return new Promise((resolve) => {
      const timeoutMs = this.opts.sendTimeoutMs ?? 30_000;
      const timer = setTimeout(
        () => resolve({ code: ExportResultCode.FAILED, error: new Error("export timed out") }),
        timeoutMs,
      );
      const finish = (result: ExportResult) => {
        clearTimeout(timer);
        resolve(result);
      };
      try {
        this.deliver(batch, finish);
      } catch (err) {
        finish({ code: ExportResultCode.FAILED, error: err as Error });
      }
    });
  }

  private wake(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }

  /**
   * Tries to deliver everything queued now: resolves once the queue is
   * empty, or after the next failed attempt (a flush never waits out a
   * backoff; what failed stays queued and is retried later).
   */
  forceFlush(): Promise<void> {
    if (this.batches.length === 0 && !this.sending) return Promise.resolve();
    const done = new Promise<void>((r) => this.waiters.push(r));
    if (!this.sending) {
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.drain();
    }
    return done;
  }

  /** One last attempt; whatever is still queued after it is counted as dropped. */
  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    countDropped("traces", "shutdown", this.queuedSpans);
    this.batches.length = 0;
    this.queuedSpans = 0;
  }
}

/** The delivery queue as the SDK's SpanExporter, in front of another exporter. */
export class QueuedSpanExporter implements SpanExporter {
  private readonly queue: DeliveryQueue<ReadableSpan[]>;

  constructor(private readonly inner: SpanExporter, opts: QueueOptions) {
    this.queue = new DeliveryQueue<ReadableSpan[]>(
      (batch, done) => inner.export(batch, done),
      (batch) => batch.length,
      opts,
    );
  }

  get failures(): number {
    return this.queue.failures;
  }

  get lastError(): string | undefined {
    return this.queue.lastError;
  }

  /** Spans waiting for delivery. */
  get queued(): number {
    return this.queue.queued;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.queue.push(spans);
    // Accepted (or counted): the batch processor's own queue never waits on the network.
    done({ code: ExportResultCode.SUCCESS });
  }

  forceFlush(): Promise<void> {
    return this.queue.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.queue.shutdown();
    await this.inner.shutdown();
  }
}
