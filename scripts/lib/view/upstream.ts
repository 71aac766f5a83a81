/**
 * The viewer's only way out: GET requests to Prometheus, Jaeger and
 * Alertmanager, and VictoriaLogs' query API through scripts/lib/logs/mod.ts
 * (it never writes to them; there is no other method here).
 * A connection that fails or times out is an Unreachable naming the service,
 * so a page can say which one is down; it is asked again on the next load.
 */
import { parse as parseYaml } from "yaml";
import { redactUrl } from "../redact.ts";
import type { Json } from "./dashboard.ts";
import type { Exemplar } from "./panels.ts";

export type ServiceName = "Prometheus" | "Jaeger" | "Alertmanager";

export interface Upstreams {
  prometheus: string;
  jaeger: string;
  alertmanager: string;
  /** VictoriaLogs (a trace's log lines); none: the trace page says logs are not configured. */
  victorialogs?: string;
}

/** A service did not answer (refused, timed out, or not the API we expect). */
export class Unreachable extends Error {
  override name = "Unreachable";
  constructor(readonly service: ServiceName, readonly base: string, why: string) {
    super(`${service} is unreachable at ${redactUrl(base)}: ${why}`);
  }
}

/** A query the service answered with an error (a bad PromQL, say): shown on the panel. */
export class QueryError extends Error {
  override name = "QueryError";
}

export async function getJson(
  service: ServiceName,
  base: string,
  path: string,
  timeoutMs = 5000,
): Promise<Json> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { method: "GET", signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error;
    const why = e.name === "TimeoutError"
      ? `no answer within ${timeoutMs / 1000} s`
      : e.message.replace(/^.*?(Connection refused|connection refused).*$/s, "connection refused");
    throw new Unreachable(service, base, why.split("\n")[0].slice(0, 160));
  }
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Unreachable(
      service,
      base,
      `HTTP ${res.status} that is not ${service}'s JSON API`,
    );
  }
  if (!res.ok) {
    if (res.status === 404 && service !== "Jaeger") {
      throw new Unreachable(service, base, `HTTP 404 for ${path.split("?")[0]}`);
    }
    throw new QueryError(String(body?.error ?? body?.errors?.[0]?.msg ?? `HTTP ${res.status}`));
  }
  return body;
}

export interface Sample {
  metric: Record<string, string>;
  /** [unix seconds, value] pairs; an instant query gives one. */
  values: [number, number][];
}

function num(v: string): number {
  return v === "NaN" ? NaN : v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v);
}

export async function promRange(
  base: string,
  query: string,
  start: number,
  end: number,
  stepMs: number,
): Promise<Sample[]> {
  const q = new URLSearchParams({
    query,
    start: (start / 1000).toFixed(3),
    end: (end / 1000).toFixed(3),
    step: `${stepMs / 1000}s`,
  });
  const body = await getJson("Prometheus", base, `/api/v1/query_range?${q}`, 10_000);
  return (body.data?.result ?? []).map((r: Json) => ({
    metric: r.metric ?? {},
    values: (r.values ?? []).map(([t, v]: [number, string]) => [t, num(v)]),
  }));
}

export async function promInstant(base: string, query: string, time: number): Promise<Sample[]> {
  const q = new URLSearchParams({ query, time: (time / 1000).toFixed(3) });
  const body = await getJson("Prometheus", base, `/api/v1/query?${q}`, 10_000);
  const data = body.data ?? {};
  if (data.resultType === "scalar") {
    return [{ metric: {}, values: [[data.result[0], num(data.result[1])]] }];
  }
  return (data.result ?? []).map((r: Json) => ({
    metric: r.metric ?? {},
    values: r.value ? [[r.value[0], num(r.value[1])]] : [],
  }));
}

export async function promLabelValues(
  base: string,
  label: string,
  match: string | null,
  start: number,
  end: number,
): Promise<string[]> {
  const q = new URLSearchParams({
    start: (start / 1000).toFixed(0),
    end: (end / 1000).toFixed(0),
  });
  if (match) q.append("match[]", match);
  const body = await getJson(
    "Prometheus",
    base,
    `/api/v1/label/${encodeURIComponent(label)}/values?${q}`,
  );
  return (body.data ?? []).map(String);
}

/** The global scrape interval of the Prometheus we read (Grafana's default minimum step). */
export async function promScrapeIntervalMs(base: string): Promise<number> {
  const body = await getJson("Prometheus", base, "/api/v1/status/config");
  try {
    const cfg = parseYaml(String(body.data?.yaml ?? "")) as Json;
    const m = /^(\d+)(ms|s|m)$/.exec(String(cfg?.global?.scrape_interval ?? ""));
    if (m) return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[m[2]];
  } catch { /* default below */ }
  return 15_000;
}

/**
 * The exemplars Prometheus stored for the series `query` selects, in
 * [start, end] (ms). Exemplars are an extra: a Prometheus without exemplar
 * storage (empty answer), an old one (404) or any error gives none.
 */
export async function promExemplars(
  base: string,
  query: string,
  start: number,
  end: number,
): Promise<Exemplar[]> {
  const q = new URLSearchParams({
    query,
    start: (start / 1000).toFixed(3),
    end: (end / 1000).toFixed(3),
  });
  let body: Json;
  try {
    body = await getJson("Prometheus", base, `/api/v1/query_exemplars?${q}`, 5000);
  } catch {
    return [];
  }
  const out: Exemplar[] = [];
  for (const s of Array.isArray(body?.data) ? body.data : []) {
    for (const e of Array.isArray(s?.exemplars) ? s.exemplars : []) {
      const traceId = String(e?.labels?.trace_id ?? "");
      const value = num(String(e?.value));
      // Only exemplars that lead somewhere: a trace id the trace page accepts.
      if (!/^[0-9a-f]{16,32}$/i.test(traceId) || !Number.isFinite(value)) continue;
      out.push({
        traceId: traceId.toLowerCase(),
        spanId: String(e.labels.span_id ?? ""),
        value,
        time: Number(e.timestamp) * 1000,
        series: s.seriesLabels ?? {},
      });
    }
  }
  return out;
}

export async function promRules(base: string): Promise<Json[]> {
  const body = await getJson("Prometheus", base, "/api/v1/rules");
  return body.data?.groups ?? [];
}

export async function alertmanagerAlerts(base: string): Promise<Json[]> {
  return await getJson("Alertmanager", base, "/api/v2/alerts") ?? [];
}
