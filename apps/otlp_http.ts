/**
 * OTLP over HTTP with protobuf bodies (the OTLP spec's default protocol):
 * one POST helper for spans and log lines, and the span exporter the apps
 * use by default. Bodies come from apps/otlp_proto.ts.
 */
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { encodeSpansInSlices } from "./otlp_proto.ts";

export const PROTOBUF = "application/x-protobuf";

/** What one POST gave: ok, an HTTP status the collector answered, or a network error. */
export type PostResult =
  | { ok: true }
  | { ok: false; status: number; message: string }
  | { ok: false; status?: undefined; message: string };

/** POSTs an OTLP body; never throws. The response body is read and dropped. */
export async function postOtlp(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<PostResult> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    if (res.ok) return { ok: true };
    return { ok: false, status: res.status, message: `HTTP ${res.status} from ${url}` };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

/** A turn of the event loop (a macrotask: pending requests are served before it resolves). */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** An export error that carries the HTTP status, as the SDK's OTLPExporterError does. */
class HttpExportError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
  }
}

export interface ProtoSpanExporterOptions {
  /** The collector's traces URL, e.g. http://localhost:4318/v1/traces. */
  url: string;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** Spans as OTLP/HTTP protobuf, encoded by apps/otlp_proto.ts. */
export class ProtoSpanExporter implements SpanExporter {
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: ProtoSpanExporterOptions) {
    this.headers = { ...opts.headers, "content-type": PROTOBUF };
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.send(spans).then(done, (err) => done({ code: ExportResultCode.FAILED, error: err }));
  }

  private async send(spans: ReadableSpan[]): Promise<ExportResult> {
    // Encoded in slices with a macrotask between them: requests keep being served meanwhile.
    const body = await encodeSpansInSlices(spans, nextTask);
    const result = await postOtlp(this.opts.url, body, this.headers, this.opts.timeoutMs);
    if (result.ok) return { code: ExportResultCode.SUCCESS };
    return {
      code: ExportResultCode.FAILED,
      error: new HttpExportError(result.message, result.status),
    };
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
