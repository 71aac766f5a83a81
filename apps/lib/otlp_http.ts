/**
 * OTLP over HTTP with protobuf bodies (the OTLP spec's default protocol):
 * one POST helper for span batches and log lines. Bodies come from
 * apps/lib/otlp_proto.ts.
 */
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";

export const PROTOBUF = "application/x-protobuf";

/** Collector back-pressure, the OTLP spec's retryable answers: keep the data and try again. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** True for an HTTP status the OTLP spec says to retry (429, 502, 503, 504). */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** What one POST gave: ok, or why not (`status` when the collector answered, none on a network error). */
export type PostResult = { ok: true } | { ok: false; status?: number; message: string };

/** POSTs an OTLP body; never throws. The response body is read and dropped. */
export async function postOtlp(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<PostResult> {
  // Not AbortSignal.timeout: its timer keeps the signal, and through it the whole request,
  // alive for `timeoutMs` after the answer came (dozens of exports a second, each held 10 s).
  const abort = new AbortController();
  const timer = setTimeout(
    () => abort.abort(new DOMException("Signal timed out.", "TimeoutError")),
    timeoutMs,
  );
  try {
    const res = await fetch(url, { method: "POST", headers, body, signal: abort.signal });
    await res.body?.cancel();
    if (res.ok) return { ok: true };
    return { ok: false, status: res.status, message: `HTTP ${res.status} from ${url}` };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * postOtlp as an SDK export result: an error carries the HTTP status, so the
 * delivery queue can tell a refusal (4xx) from back-pressure or an outage.
 */
export async function exportOtlp(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  headers: Record<string, string>,
  timeoutMs: number,
  /** Put in front of the error message ("metrics export"), when given. */
  what?: string,
): Promise<ExportResult> {
  const result = await postOtlp(url, body, headers, timeoutMs);
  if (result.ok) return { code: ExportResultCode.SUCCESS };
  return {
    code: ExportResultCode.FAILED,
    error: new HttpExportError(what ? `${what}: ${result.message}` : result.message, result.status),
  };
}

/** An export error that carries the HTTP status, as the SDK's OTLPExporterError does. */
class HttpExportError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
  }
}
