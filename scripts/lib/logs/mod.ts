// Logs by trace: the apps' log lines from the local stack's VictoriaLogs.
// Used by `deno task logs`, and by verify, doctor and view.
/**
 * The log lines of one trace (or one service), through VictoriaLogs' LogsQL HTTP API
 * (`/select/logsql/query`, one JSON object per line). The apps send their
 * lines over OTLP to the collector, which forwards them (protobuf) to
 * VictoriaLogs; trace_id/span_id arrive as fields of each record.
 */
import { UsageError } from "../cli.ts";

export interface LogQuery {
  traceId?: string;
  service?: string;
  /** Seconds back from now. */
  sinceSeconds?: number;
  /** Lowest level shown: DEBUG, INFO, WARN or ERROR. */
  level?: string;
  limit?: number;
}

export interface LogLine {
  time: string;
  level: string;
  service: string;
  message: string;
  traceId: string;
  spanId: string;
  /** Every other field of the record (the app's fields, e.g. endpoint, status). */
  fields: Record<string, string>;
}

export const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;

/** VictoriaLogs' own and resource fields that a log line does not repeat. */
const HIDDEN = new Set([
  "_msg",
  "_time",
  "_stream",
  "_stream_id",
  "trace_id",
  "span_id",
  "severity_text",
  "severity_number",
  "service.name",
  "service.version",
  "service.instance.id",
  "host.name",
  "os.type",
  "deployment.environment.name",
  "scope.name",
  "scope.version",
]);

/** `--url`: an http(s) base URL with a host (trailing slash removed), else a UsageError. */
export function logsBaseUrl(raw: string): string {
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch { /* below */ }
  if (!url || !/^https?:$/.test(url.protocol) || !url.hostname) {
    throw new UsageError(`--url must be an http(s) URL like http://127.0.0.1:9428, got '${raw}'`);
  }
  // The task may only reach this machine (deno.json): say so, instead of a permission error.
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    throw new UsageError(
      `--url must be on this machine (127.0.0.1 or localhost), got '${url.hostname}': ` +
        "for a remote VictoriaLogs, port-forward it (kubectl port-forward ... 9428:9428)",
    );
  }
  return raw.replace(/\/+$/, "");
}

/** A LogsQL string literal (quotes and backslashes escaped). */
function quoted(value: string): string {
  return JSON.stringify(value);
}

/** The LogsQL query for `q`, newest last. Bad values are UsageErrors. */
export function logsQuery(q: LogQuery): string {
  const filters: string[] = [];
  if (q.traceId !== undefined) {
    if (!/^[0-9a-f]{32}$/i.test(q.traceId)) {
      throw new UsageError(`--trace must be a trace id of 32 hex digits, got '${q.traceId}'`);
    }
    filters.push(`trace_id:=${quoted(q.traceId.toLowerCase())}`);
  }
  if (q.service !== undefined) {
    // Control characters cannot be part of a service.name (and would garble the query line).
    if (!q.service || [...q.service].some((c) => c.charCodeAt(0) < 32)) {
      throw new UsageError(`--service must be a service name, got '${q.service}'`);
    }
    filters.push(`"service.name":=${quoted(q.service)}`);
  }
  if (q.sinceSeconds !== undefined) {
    filters.push(`_time:${Math.max(1, Math.round(q.sinceSeconds))}s`);
  }
  if (q.level !== undefined) {
    const level = q.level.toUpperCase();
    const i = (LEVELS as readonly string[]).indexOf(level);
    if (i < 0) {
      throw new UsageError(`--level must be one of ${LEVELS.join(", ")}, got '${q.level}'`);
    }
    filters.push(`severity_text:in(${LEVELS.slice(i).map(quoted).join(",")})`);
  }
  if (filters.length === 0) filters.push("*");
  return `${filters.join(" ")} | sort by (_time)`;
}

/** The records VictoriaLogs returns for `q` (throws on an unreachable or failing backend). */
export async function queryLogs(baseUrl: string, q: LogQuery): Promise<LogLine[]> {
  const url = new URL("/select/logsql/query", baseUrl);
  url.searchParams.set("query", logsQuery(q));
  url.searchParams.set("limit", String(q.limit ?? 1000));
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(
      `VictoriaLogs answered ${res.status}: ${text.trim().split("\n")[0].slice(0, 200)}`,
    );
  }
  const lines: LogLine[] = [];
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    const r = JSON.parse(raw) as Record<string, string>;
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) if (!HIDDEN.has(k)) fields[k] = v;
    lines.push({
      time: r._time ?? "",
      level: r.severity_text ?? "",
      service: r["service.name"] ?? "",
      message: r._msg ?? "",
      traceId: r.trace_id ?? "",
      spanId: r.span_id ?? "",
      fields,
    });
  }
  // `sort by` orders each answer; keep the order stable when it is cut by the limit.
  lines.sort((a, b) => a.time.localeCompare(b.time));
  return lines;
}

/** One readable line per record: time, level, service, span, message, fields. */
export function formatLogLine(l: LogLine): string {
  const extra = Object.entries(l.fields).map(([k, v]) => `${k}=${v}`).join(" ");
  return [
    l.time,
    l.level.padEnd(5),
    l.service,
    l.spanId ? `span=${l.spanId}` : "",
    l.message,
    extra,
  ]
    .filter(Boolean).join("  ");
}
