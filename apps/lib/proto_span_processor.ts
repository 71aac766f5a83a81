/**
 * The span processor the apps use for OTLP/HTTP protobuf (the default): a
 * batch processor that keeps bytes, not span objects.
 *
 * The SDK's BatchSpanProcessor holds every finished span (an object graph of
 * attributes, events and times) until a batch of 512 is sent, then its
 * exporter builds a second object tree per span to serialize. Here a
 * finished span waits at most ENCODE_DELAY_MS for a later task (never encoded
 * inside the request that ended it), is then written as protobuf into the
 * open batch's buffer (otlp_proto.ts) and dropped. A batch is sealed at 512
 * spans, 1 MiB, or a second after its first span, and handed to the delivery
 * queue (telemetry_delivery.ts), which sends and retries it off the request
 * path.
 *
 * Bounded: at most `maxQueueSize` spans wait for the encoding task; past
 * that they are dropped and counted (app_telemetry_dropped_total
 * {signal="traces",reason="queue_full"}), as are batches the delivery queue
 * cannot hold.
 */
import { type Context, TraceFlags } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";
import { exportOtlp, PROTOBUF } from "./otlp_http.ts";
import { appendSpan, concatMessages, ProtoWriter, spanRequest } from "./otlp_proto.ts";
import { DeliveryQueue, type QueueOptions } from "./telemetry_delivery.ts";
import { countDropped } from "./telemetry_loss.ts";

export interface ProtoSpanProcessorOptions extends QueueOptions {
  /** The collector's traces URL, e.g. http://localhost:4318/v1/traces. */
  url: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Spans waiting to be encoded (OTEL_BSP_MAX_QUEUE_SIZE). */
  maxQueueSize: number;
  /** Spans per request (OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
  maxExportBatchSize: number;
  /** A batch is sent at the latest this long after its first span (OTEL_BSP_SCHEDULE_DELAY). */
  scheduledDelayMillis: number;
}

/** A sealed batch: the request body and how many spans it carries. */
export interface EncodedBatch {
  body: Uint8Array<ArrayBuffer>;
  spans: number;
}

/** Past this many bytes of span fields a batch is sealed (well under any request limit). */
const MAX_BATCH_BYTES = 1024 * 1024;
/**
 * Waiting batches are sent together up to this size (the collector accepts
 * 20 MiB). Deno's fetch copies and writes a body on the event loop: an 8 MiB
 * body held it for several milliseconds.
 */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

/** Batches as one request: their bodies back to back (protobuf repeated fields append). */
export function mergeBatches(batches: EncodedBatch[]): EncodedBatch {
  return {
    body: concatMessages(batches.map((b) => b.body)),
    spans: batches.reduce((n, b) => n + b.spans, 0),
  };
}
/**
 * An encoding task gives the event loop back after this long, and otherwise
 * takes every waiting span: a fixed count per task fell behind a busy loop
 * (each turn serving more requests than the task encoded) until spans were
 * dropped; tests/otlp_proto_test.ts "a busy event loop loses no span".
 */
const ENCODE_BUDGET_MS = 1;
/**
 * Finished spans wait this long for the encoding task: one timer serves every
 * span that ends meanwhile (a timer per request was the costliest thing a span
 * did after its own creation). A span is in the batch 5 ms later at most.
 */
const ENCODE_DELAY_MS = 5;

export class ProtoSpanProcessor implements SpanProcessor {
  /** Finished spans waiting for the encoding task. */
  private pending: ReadableSpan[] = [];
  private encodeScheduled = false;
  /** The open batch: span fields, their count, and the resource and scope they share. */
  private readonly fields = new ProtoWriter();
  private count = 0;
  private resource?: Resource;
  private scope?: ReadableSpan["instrumentationScope"];
  private sealTimer?: ReturnType<typeof setTimeout>;
  private stopped = false;
  readonly queue: DeliveryQueue<EncodedBatch>;

  constructor(private readonly opts: ProtoSpanProcessorOptions) {
    const headers = { ...opts.headers, "content-type": PROTOBUF };
    this.queue = new DeliveryQueue<EncodedBatch>(
      (batch, done) => {
        exportOtlp(opts.url, batch.body, headers, opts.timeoutMs).then(done);
      },
      (batch) => batch.spans,
      opts,
      // Protobuf messages concatenate: two ExportTraceServiceRequests in a row are one
      // request with both batches' resource_spans, so waiting batches leave together.
      { size: (b) => b.body.byteLength, merge: mergeBatches, maxBytes: MAX_REQUEST_BYTES },
    );
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || !(span.spanContext().traceFlags & TraceFlags.SAMPLED)) return;
    if (this.pending.length >= this.opts.maxQueueSize) {
      countDropped("traces", "queue_full", 1);
      return;
    }
    this.pending.push(span);
    if (!this.encodeScheduled) {
      this.encodeScheduled = true;
      // A later task, never the request's own: span.end() only pushes.
      setTimeout(() => this.encodePending(), ENCODE_DELAY_MS);
    }
  }

  /** Encodes waiting spans into the open batch, for at most ENCODE_BUDGET_MS per task. */
  private encodePending(): void {
    const pending = this.pending;
    const deadline = performance.now() + ENCODE_BUDGET_MS;
    let done = 0;
    while (done < pending.length) {
      this.add(pending[done++]);
      if ((done & 63) === 0 && performance.now() > deadline) break;
    }
    this.pending = done === pending.length ? [] : pending.slice(done);
    if (this.pending.length > 0) setTimeout(() => this.encodePending(), 0);
    else this.encodeScheduled = false;
  }

  private add(span: ReadableSpan): void {
    if (
      this.count > 0 &&
      (span.resource !== this.resource || span.instrumentationScope !== this.scope)
    ) {
      this.seal();
    }
    if (this.count === 0) {
      this.resource = span.resource;
      this.scope = span.instrumentationScope;
      this.sealTimer = setTimeout(() => this.seal(), this.opts.scheduledDelayMillis);
      // A waiting batch must not keep a finished process alive (shutdown seals it).
      Deno.unrefTimer(this.sealTimer as unknown as number);
    }
    appendSpan(this.fields, span);
    this.count++;
    if (this.count >= this.opts.maxExportBatchSize || this.fields.pos >= MAX_BATCH_BYTES) {
      this.seal();
    }
  }

  /** Closes the open batch and hands it to the delivery queue. */
  private seal(): void {
    if (this.sealTimer !== undefined) clearTimeout(this.sealTimer);
    this.sealTimer = undefined;
    if (this.count === 0) return;
    const body = spanRequest(this.resource!, this.scope!, this.fields.finish());
    this.queue.push({ body, spans: this.count });
    this.count = 0;
    this.resource = undefined;
    this.scope = undefined;
  }

  /** Encodes and seals everything now, then waits for the delivery queue to try it. */
  async forceFlush(): Promise<void> {
    const waiting = this.pending.splice(0);
    for (const span of waiting) this.add(span);
    this.seal();
    await this.queue.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
    await this.queue.shutdown();
  }
}
