/**
 * Log lines over OTLP: every line the logger writes to stdout is also handed
 * here and sent to the collector's /v1/logs (which forwards it to the
 * stack's VictoriaLogs), with trace_id/span_id as the record's trace
 * context, so `deno task logs --trace ID` finds a trace's lines.
 *
 * Why in the app and not the collector's filelog receiver tailing
 * .stack/logs: it works for every app wherever it runs (a laptop against a
 * port-forwarded collector, a pod, the one-shot push demo that the stack
 * does not start), and it costs the request path one array push: the
 * logger hands over the record's parts (no JSON round trip), and they are
 * written as OTLP protobuf (apps/lib/otlp_proto.ts) once a second in a batch,
 * off the request. Not the SDK's LoggerProvider: it builds and validates a
 * LogRecord object per line on the request path, for the same bytes.
 *
 * Bounded: at most MAX_QUEUE lines wait; beyond that, and for a batch the
 * collector does not take, lines are counted in
 * app_telemetry_dropped_total{signal="logs"} (stdout still has them).
 * OTEL_LOGS_EXPORTER=none turns it off.
 */
import type { Resource } from "@opentelemetry/resources";
import { isRetryableStatus, postOtlp, PROTOBUF } from "./otlp_http.ts";
import { concatMessages, encodeLogEntries, type LogEntry } from "./otlp_proto.ts";
import { countDropped, countExportFailure } from "./telemetry_loss.ts";

export type { LogEntry } from "./otlp_proto.ts";

const MAX_QUEUE = 8192;
/**
 * A full batch: this many waiting lines are sent at once rather than at the
 * next timer tick. One request is in flight at a time, so this also sets the
 * rate a slow collector can take: 256 lines per 20 ms answer fell behind 15,000
 * lines a second (tests/logs_test.ts) and dropped them.
 */
const MAX_BATCH = 1024;
/**
 * Lines encoded in one task (about 0.3 ms): a request's lines are encoded in
 * such slices, one task apart, so the event loop is never held longer; a
 * whole 1,024-line batch in one task was one of the app's longest stalls.
 */
const ENCODE_SLICE = 256;
/** Slices one request carries when a backlog waits (8,192 lines, 8 MiB of characters at most). */
const MAX_SLICES_PER_REQUEST = 32;
/** Bounds in characters too: a line can be long (a request path is up to ~64 KB). */
const MAX_QUEUE_CHARS = 8 * 1024 * 1024;
/** A slice's characters: 32 slices stay well below the collector's 20 MiB request limit. */
const MAX_SLICE_CHARS = 256 * 1024;
/** A body or attribute value is cut here, as span attribute values are. */
const MAX_VALUE_CHARS = 2048;
const INTERVAL_MS = 1000;
const SCOPE = { name: "obskit-logger", version: "1" };

export interface LogExportOptions {
  /** The collector's OTLP/HTTP logs URL, e.g. http://localhost:4318/v1/logs. */
  url: string;
  resource: Resource;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Called (rate limited by the caller) when a batch could not be delivered. */
  onFailure?: (message: string) => void;
}

/** The OTLP/protobuf request for `entries`, values cut at MAX_VALUE_CHARS. */
export function encodeLogRequest(entries: readonly LogEntry[], resource: Resource) {
  return encodeLogEntries(entries, resource, SCOPE, MAX_VALUE_CHARS);
}

function unrefTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const t = setTimeout(fn, ms);
  Deno.unrefTimer(t as unknown as number);
  return t;
}

export class LogExporter {
  private pending: LogEntry[] = [];
  /** Characters of each pending entry's line (the bounds are in characters). */
  private pendingSizes: number[] = [];
  private pendingChars = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** A flush scheduled because a batch filled up. */
  private early: ReturnType<typeof setTimeout> | undefined;
  /** False after a failed send, until one succeeds (then full batches wait for the timer). */
  private delivering = true;
  /** The one flush in flight, if any (a slow collector must not pile flushes up). */
  private sending: Promise<void> | undefined;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: LogExportOptions) {
    this.headers = { ...opts.headers, "content-type": PROTOBUF };
  }

  /** The request path's part: keep the record (one push), encode and send it later. */
  push(entry: LogEntry, chars: number): void {
    if (this.pending.length >= MAX_QUEUE || this.pendingChars + chars > MAX_QUEUE_CHARS) {
      countDropped("logs", "queue_full", 1);
      return;
    }
    this.pending.push(entry);
    this.pendingSizes.push(chars);
    this.pendingChars += chars;
    if (this.pending.length >= MAX_BATCH && this.delivering && !this.sending && !this.early) {
      // A full batch leaves now (from a later task), not at the next tick of the timer: at
      // thousands of lines a second a timer alone lets the queue overflow. Not while the
      // collector is failing: then the timer paces the retries.
      this.early = setTimeout(() => {
        this.early = undefined;
        void this.flush(false);
      }, 0);
    }
    if (this.timer === undefined) {
      // A waiting batch must not keep a finished process alive (shutdown flushes it).
      this.timer = unrefTimeout(() => void this.flush(false), INTERVAL_MS);
    }
  }

  /**
   * Sends what is queued now; resolves when it was sent (or given up).
   * `drain` false (the timer and full batches): one request, then more only
   * while full batches wait. Sending whatever arrived during each round trip
   * made a request of a few dozen lines every few milliseconds under load, and
   * each request costs the app's event loop a fetch (~0.2-0.6 ms).
   */
  flush(drain = true): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending) {
      // A drain asked for while a partial flush is in flight continues after it.
      return drain
        ? this.sending.then(() => this.pending.length > 0 ? this.flush() : undefined)
        : this.sending;
    }
    if (this.pending.length === 0) return Promise.resolve();
    // `sending` is cleared by a callback that runs after it is assigned: a loop that clears
    // it itself can finish before the assignment (nothing to send) and leave it set for
    // good, after which nothing was ever sent again (the idle timer did exactly that).
    const sending = (async () => {
      do {
        if (!(await this.send(await this.takeRequest()))) break;
      } while (drain ? this.pending.length > 0 : this.pending.length >= MAX_BATCH);
    })().finally(() => {
      if (this.sending === sending) this.sending = undefined;
    });
    this.sending = sending;
    return sending;
  }

  /**
   * The next request: what waits, up to a full batch, and while full batches
   * still wait, more, up to MAX_SLICES_PER_REQUEST slices, encoded one task
   * apart and sent as one body (protobuf messages concatenate). One request is
   * in flight at a time, so a backlog must leave in bigger requests, not more
   * of them.
   */
  private async takeRequest(): Promise<Batch> {
    const parts: Uint8Array<ArrayBuffer>[] = [];
    const entries: LogEntry[] = [];
    const sizes: number[] = [];
    do {
      if (parts.length > 0) await new Promise((r) => setTimeout(r, 0));
      const slice = this.takeSlice();
      parts.push(encodeLogRequest(slice.entries, this.opts.resource) as Uint8Array<ArrayBuffer>);
      entries.push(...slice.entries);
      sizes.push(...slice.sizes);
    } while (
      this.pending.length > 0 && parts.length < MAX_SLICES_PER_REQUEST &&
      (entries.length < MAX_BATCH || this.pending.length >= MAX_BATCH)
    );
    return { entries, sizes, body: parts.length === 1 ? parts[0] : concatMessages(parts) };
  }

  /** The next slice: at most ENCODE_SLICE lines and MAX_SLICE_CHARS characters (at least one line). */
  private takeSlice(): Batch {
    let n = 0, chars = 0;
    while (
      n < this.pending.length && n < ENCODE_SLICE &&
      (n === 0 || chars + this.pendingSizes[n] <= MAX_SLICE_CHARS)
    ) {
      chars += this.pendingSizes[n++];
    }
    this.pendingChars -= chars;
    return { entries: this.pending.splice(0, n), sizes: this.pendingSizes.splice(0, n) };
  }

  /** Puts a batch that could not be sent back at the head, within the queue's bounds. */
  private requeue(batch: Batch): void {
    let kept = 0;
    let chars = 0;
    while (
      kept < batch.entries.length && this.pending.length + kept < MAX_QUEUE &&
      this.pendingChars + chars + batch.sizes[kept] <= MAX_QUEUE_CHARS
    ) {
      chars += batch.sizes[kept++];
    }
    countDropped("logs", "queue_full", batch.entries.length - kept);
    this.pending.unshift(...batch.entries.slice(0, kept));
    this.pendingSizes.unshift(...batch.sizes.slice(0, kept));
    this.pendingChars += chars;
    if (this.pending.length > 0 && this.timer === undefined) {
      this.timer = unrefTimeout(() => void this.flush(false), INTERVAL_MS);
    }
  }

  /** false when the collector could not be reached: the lines wait for the next try. */
  private async send(batch: Batch): Promise<boolean> {
    const count = batch.entries.length;
    const result = await postOtlp(
      this.opts.url,
      batch.body ?? encodeLogRequest(batch.entries, this.opts.resource),
      this.headers,
      this.opts.timeoutMs ?? 10_000,
    );
    this.delivering = result.ok;
    if (result.ok) return true;
    countExportFailure("logs");
    if (result.status === undefined || isRetryableStatus(result.status)) {
      this.requeue(batch);
      this.opts.onFailure?.(`logs export failed: ${result.message} (kept and retried)`);
      return false;
    }
    // Refused: sending the same batch again would be refused again.
    countDropped("logs", "rejected", count);
    this.opts.onFailure?.(`logs export: HTTP ${result.status} (${count} lines dropped)`);
    return true;
  }
}

interface Batch {
  entries: LogEntry[];
  sizes: number[];
  /** The encoded request, once made (a requeued batch is encoded again). */
  body?: Uint8Array<ArrayBuffer>;
}
