/**
 * Where the apps send OTLP, from OTEL_EXPORTER_OTLP_ENDPOINT: one rule, shared
 * by the apps and `doctor` (which reports what the apps will do), and free
 * of the SDK so a script can load it cheaply.
 */
import { redactUrl } from "../../scripts/lib/redact.ts";
import { logWarning } from "./logger.ts";

export const DEFAULT_OTLP_HTTP = "http://localhost:4318";

let endpointNoticeGiven = false;

/**
 * Normalizes OTEL_EXPORTER_OTLP_ENDPOINT for the OTLP/HTTP exporters, one
 * rule for every value, said once in a WARN line:
 *
 *   - with a scheme (`http://host:4318`) it is the OTLP/HTTP endpoint, as the
 *     spec says; only the gRPC port 4317 is moved to 4318 (a common slip);
 *   - without one (the book's `localhost:4317`) it is the collector's OTLP/gRPC
 *     `host:port`, the form gRPC exporters take; this app speaks OTLP/HTTP,
 *     which a collector serves on the next port (4317/4318, 28317/28318).
 */
export function normalizeOtlpEndpoint(
  raw: string | undefined,
  notice: (msg: string) => void = (m) => logWarning(m),
): string {
  const value = (raw ?? "").trim();
  if (!value) return DEFAULT_OTLP_HTTP;
  let url: URL;
  const hadScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
  try {
    url = new URL(hadScheme ? value : `http://${value}`);
  } catch {
    throw new Error(`OTEL_EXPORTER_OTLP_ENDPOINT is not a valid URL: '${value}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`OTEL_EXPORTER_OTLP_ENDPOINT must be http(s), got '${url.protocol}'`);
  }
  const changes: string[] = [];
  if (!hadScheme) {
    const grpcPort = Number(url.port || 4317);
    url.port = String(grpcPort + 1);
    changes.push(
      `no scheme: read as the collector's OTLP/gRPC host:port; this app exports OTLP/HTTP, ` +
        `served on the next port (give an http:// URL to choose it exactly)`,
    );
  } else if (url.port === "4317") {
    url.port = "4318";
    changes.push("4317 is OTLP/gRPC; this app exports OTLP/HTTP on 4318");
  }
  const normalized = url.toString().replace(/\/$/, "");
  if (changes.length && !endpointNoticeGiven) {
    endpointNoticeGiven = true;
    // Userinfo in the endpoint is a credential: the notice never repeats it.
    notice(
      `OTEL_EXPORTER_OTLP_ENDPOINT '${redactUrl(value)}' normalized to '${
        redactUrl(normalized)
      }' (${changes.join("; ")})`,
    );
  }
  return normalized;
}
