/**
 * OTLP over HTTP with protobuf bodies (the OTLP spec's default protocol):
 * one POST helper for span batches and log lines. Bodies come from
 * apps/lib/otlp_proto.ts.
 */

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

/** An export error that carries the HTTP status, as the SDK's OTLPExporterError does. */
export class HttpExportError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
  }
}
