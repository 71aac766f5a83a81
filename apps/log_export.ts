/**
 * Log lines over OTLP: every line the logger writes to stdout is also handed
 * here and sent to the collector's /v1/logs (which forwards it to the
 * stack's VictoriaLogs), with trace_id/span_id as the record's trace
 * context, so `deno task logs --trace ID` finds a trace's lines.
 *
 * Why in the app and not the collector's filelog receiver tailing
 * .stack/logs: it works for every app wherever it runs (a laptop against a
 * port-forwarded collector, a pod, the one-shot push demo that the stack
 * does not start), and it costs the request path one array push: the line
 * is the string the logger already built; it is parsed and encoded (by the
 * SDK's own OTLP/JSON serializer) once a second in a batch, off the request.
 * That batch work is about 3.5 µs of CPU a line on the bench machine (a
 * hand-written string encoder saved under 1 µs of it and was not kept).
 *
 * Bounded: at most MAX_QUEUE lines wait; beyond that, and for a batch the
 * collector does not take, lines are counted in
 * app_telemetry_dropped_total{signal="logs"} (stdout still has them).
 * OTEL_LOGS_EXPORTER=none turns it off.
 */
import { TraceFlags } from "@opentelemetry/api";
import { millisToHrTime } from "@opentelemetry/core";
import { JsonLogsSerializer } from "@opentelemetry/otlp-transformer";
import type { Resource } from "@opentelemetry/resources";
import { countDropped, countExportFailure } from "./telemetry_loss.ts";

const MAX_QUEUE = 8192;
const MAX_BATCH = 1024;
/** Bounds in characters too: a line can be long (a request path is up to ~64 KB). */
const MAX_QUEUE_CHARS = 8 * 1024 * 1024;
/** Well below the collector's 20 MiB default request limit, however long the lines. */
const MAX_BATCH_CHARS = 1024 * 1024;
/** A body or attribute value is cut here, as span attribute values are. */
const MAX_VALUE_CHARS = 2048;
const INTERVAL_MS = 1000;
/** Collector back-pressure (the OTLP spec's retryable answers): keep the lines and retry. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

function cut(value: unknown): unknown {
  return typeof value === "string" && value.length > MAX_VALUE_CHARS
    ? value.slice(0, MAX_VALUE_CHARS)
    : value;
}

/** OTel severity numbers for our levels. */
const SEVERITY: Record<string, number> = { DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17 };
const SCOPE = { name: "obskit-logger", version: "1" };
const HEADER_FIELDS = new Set(["timestamp", "level", "message", "service", "trace_id", "span_id"]);

export interface LogExportOptions {
  /** The collector's OTLP/HTTP logs URL, e.g. http://localhost:4318/v1/logs. */
  url: string;
  resource: Resource;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Called (rate limited by the caller) when a batch could not be delivered. */
  onFailure?: (message: string) => void;
}

/** The OTLP/JSON request for `lines` (the logger's JSON lines). */
export function encodeLogLines(lines: string[], resource: Resource): Uint8Array {
  const records = [];
  for (const line of lines) {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    const ms = Date.parse(String(rec.timestamp));
    const time = millisToHrTime(Number.isFinite(ms) ? ms : Date.now());
    const attributes: Record<string, unknown> = {};
    for (const k in rec) if (!HEADER_FIELDS.has(k)) attributes[k] = cut(rec[k]);
    const level = String(rec.level ?? "INFO");
    records.push({
      hrTime: time,
      hrTimeObserved: time,
      severityNumber: SEVERITY[level] ?? 0,
      severityText: level,
      body: cut(String(rec.message ?? "")),
      attributes,
      droppedAttributesCount: 0,
      spanContext: typeof rec.trace_id === "string"
        ? {
          traceId: rec.trace_id,
          spanId: String(rec.span_id ?? ""),
          traceFlags: TraceFlags.SAMPLED,
        }
        : undefined,
      resource,
      instrumentationScope: SCOPE,
    });
  }
  // deno-lint-ignore no-explicit-any
  return JsonLogsSerializer.serializeRequest(records as any)!;
}

function unrefTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const t = setTimeout(fn, ms);
  Deno.unrefTimer(t as unknown as number);
  return t;
}

export class LogExporter {
  private pending: string[] = [];
  private pendingChars = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The one flush in flight, if any (a slow collector must not pile flushes up). */
  private sending: Promise<void> | undefined;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: LogExportOptions) {
    this.headers = { ...opts.headers, "content-type": "application/json" };
  }

  /** The request path's part: keep the line (one push), send it later. */
  push(line: string): void {
    if (this.pending.length >= MAX_QUEUE || this.pendingChars + line.length > MAX_QUEUE_CHARS) {
      countDropped("logs", "queue_full", 1);
      return;
    }
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.timer === undefined) {
      // A waiting batch must not keep a finished process alive (shutdown flushes it).
      this.timer = unrefTimeout(() => void this.flush(), INTERVAL_MS);
    }
  }

  /** Sends what is queued now; resolves when it was sent (or given up). */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.sending ??= (async () => {
      try {
        while (this.pending.length > 0) {
          if (!(await this.send(this.takeBatch()))) break;
        }
      } finally {
        this.sending = undefined;
      }
    })();
    return this.sending;
  }

  /** The next batch: at most MAX_BATCH lines and MAX_BATCH_CHARS characters (at least one line). */
  private takeBatch(): string[] {
    let n = 0, chars = 0;
    while (
      n < this.pending.length && n < MAX_BATCH &&
      (n === 0 || chars + this.pending[n].length <= MAX_BATCH_CHARS)
    ) {
      chars += this.pending[n++].length;
    }
    this.pendingChars -= chars;
    return this.pending.splice(0, n);
  }

  /** Puts a batch that could not be sent back at the head, within the queue's bounds. */
  private requeue(lines: string[]): void {
    let kept = 0;
    let chars = 0;
    while (
      kept < lines.length && this.pending.length + kept < MAX_QUEUE &&
      this.pendingChars + chars + lines[kept].length <= MAX_QUEUE_CHARS
    ) {
      chars += lines[kept++].length;
    }
    countDropped("logs", "queue_full", lines.length - kept);
    this.pending.unshift(...lines.slice(0, kept));
    this.pendingChars += chars;
    if (this.pending.length > 0 && this.timer === undefined) {
      this.timer = unrefTimeout(() => void this.flush(), INTERVAL_MS);
    }
  }

  /** false when the collector could not be reached: the lines wait for the next try. */
  private async send(lines: string[]): Promise<boolean> {
    try {
      const res = await fetch(this.opts.url, {
        method: "POST",
        headers: this.headers,
        body: encodeLogLines(lines, this.opts.resource) as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
      await res.body?.cancel();
      if (res.ok) return true;
      if (RETRYABLE_STATUS.has(res.status)) {
        countExportFailure("logs");
        this.requeue(lines);
        this.opts.onFailure?.(`logs export: HTTP ${res.status} (kept and retried)`);
        return false;
      }
      // Refused: sending the same batch again would be refused again.
      countExportFailure("logs");
      countDropped("logs", "rejected", lines.length);
      this.opts.onFailure?.(`logs export: HTTP ${res.status} (${lines.length} lines dropped)`);
      return true;
    } catch (err) {
      countExportFailure("logs");
      this.requeue(lines);
      this.opts.onFailure?.(
        `logs export failed: ${
          err instanceof Error ? err.message : String(err)
        } (kept and retried)`,
      );
      return false;
    }
  }
}
