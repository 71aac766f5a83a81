// Verification: asks the running Prometheus and Jaeger whether the chapter works.
// Used by `deno task verify` (phases 11 and 12), `demo`, `doctor` and `view`.
/**
 * Prometheus' HTTP API: every app target up, both apps' request counters
 * scraped, the collector's exported (OTLP-translated) metrics present, and
 * every dashboard query that can have data locally returning data (queries
 * on cluster-only exporters are listed as such, from config/metric-catalog.yaml).
 * Jaeger's API: the push demo's trace with its parent/child structure, and
 * the instrumented app's spans.
 */
import { join } from "node:path";
import { UsageError } from "../cli.ts";
import { repoPath } from "../paths.ts";
import { referencedMetrics, substituteGrafanaVariables } from "../promql.ts";
import { queryLogs } from "../logs/mod.ts";
import { formatTable } from "../tools/mod.ts";
import { type CatalogEntry, loadCatalog, type MetricCatalog } from "../validate/catalog.ts";

export type CheckStatus = "ok" | "fail" | "skip";

export interface CheckResult {
  check: string;
  expected: string;
  found: string;
  status: CheckStatus;
  /** What to do when it failed. */
  fix?: string;
  /** Failed because the service did not answer at all: waiting will not bring its data. */
  unreachable?: boolean;
}

/**
 * A service that did not answer at all (fetch's network error: refused,
 * unknown host). Still a TypeError, as fetch threw it: callers such as the
 * viewer tell an unreachable service from a bad answer by that.
 */
class UnreachableError extends TypeError {}

function isUnreachable(err: unknown): boolean {
  return err instanceof UnreachableError;
}

/** fetch, with its network failure as an UnreachableError (timeouts and HTTP errors stay as they are). */
async function fetchService(url: string, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    if (err instanceof TypeError) throw new UnreachableError(err.message);
    throw err;
  }
}

export interface Endpoints {
  prometheus: string;
  jaeger: string;
}

/**
 * A service base URL from a flag or environment variable: http(s) with a
 * host, trailing slash removed. Anything else is a UsageError naming where
 * it came from (`--prometheus-url` or `PROMETHEUS_URL`), so a typo is exit
 * 2, not "Prometheus is not running".
 */
export function baseUrl(source: string, raw: string): string {
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch { /* below */ }
  if (!url || !/^https?:$/.test(url.protocol) || !url.hostname) {
    throw new UsageError(
      `${source} must be an http(s) URL like http://127.0.0.1:PORT, got '${raw}'`,
    );
  }
  return raw.replace(/\/+$/, "");
}

/** Prometheus jobs the local stack scrapes, and what to do when one is down. */
export const TARGET_FIXES: Record<string, string> = {
  "metrics-pull-app": "is run-pull running? start it: deno task run-pull",
  "otel-collector": "is the collector running? deno task stack up (or deno task stack status)",
  "otel-collector-telemetry":
    "is the collector running? deno task stack up (or deno task stack status)",
  "prometheus": "Prometheus cannot scrape itself: check deno task stack logs prometheus",
  "node-exporter":
    "is node-exporter running? deno task stack up (apt-get install prometheus-node-exporter)",
};

async function getJson<T>(url: string, timeoutMs = 5000): Promise<T> {
  const res = await fetchService(url, timeoutMs);
  if (!res.ok) {
    const body = await res.text();
    throw new Error(`HTTP ${res.status} from ${url}: ${body.slice(0, 200)}`);
  }
  return await res.json() as T;
}

export interface PromTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: "up" | "down" | "unknown";
  lastError: string;
}

export async function promTargets(prometheus: string): Promise<PromTarget[]> {
  const body = await getJson<{ data: { activeTargets: PromTarget[] } }>(
    `${prometheus}/api/v1/targets?state=active`,
  );
  return body.data.activeTargets;
}

// deno-lint-ignore no-explicit-any
export async function promQuery(prometheus: string, query: string): Promise<any[]> {
  const url = `${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`;
  const body = await getJson<{ status: string; data: { resultType: string; result: unknown } }>(
    url,
  );
  const r = body.data.result;
  if (body.data.resultType === "scalar" || body.data.resultType === "string") return [r];
  return r as unknown[];
}

/** Target health per expected job. */
export async function checkTargets(
  prometheus: string,
  jobs: string[] = Object.keys(TARGET_FIXES),
  targets?: PromTarget[],
): Promise<CheckResult[]> {
  const all = targets ?? await promTargets(prometheus);
  return jobs.map((job) => {
    const ts = all.filter((t) => t.labels.job === job);
    const check = `target ${job} up`;
    if (all.length === 0) {
      // Prometheus applies discovered targets a few seconds after it starts.
      return {
        check,
        expected: "up",
        found: "no targets yet",
        status: "fail",
        fix:
          "Prometheus lists no targets yet (it applies them a few seconds after start): wait (verify --wait 60s)",
      };
    }
    if (ts.length === 0) {
      return {
        check,
        expected: "up",
        found: "not configured",
        status: "fail",
        fix: `Prometheus has no job ${job}: is it running with config/prometheus.yml?`,
      };
    }
    const down = ts.find((t) => t.health === "down");
    if (down) {
      return {
        check,
        expected: "up",
        found: `down${down.lastError ? ` (${down.lastError})` : ""}`,
        status: "fail",
        fix: `${down.scrapeUrl} does not answer: ${TARGET_FIXES[job] ?? "check the target"}`,
      };
    }
    const pending = ts.find((t) => t.health !== "up");
    if (pending) {
      // Health "unknown": Prometheus has not scraped it yet (just started or reloaded).
      return {
        check,
        expected: "up",
        found: "not scraped yet",
        status: "fail",
        fix:
          `Prometheus has not scraped ${pending.scrapeUrl} yet: wait a scrape interval (verify --wait 60s)`,
      };
    }
    return { check, expected: "up", found: "up", status: "ok" };
  });
}

/** A label value as an exact-match regex inside a PromQL string literal. */
function promRegexLiteral(value: string): string {
  const re = value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return re.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

/**
 * A selector for `metric` of `job` limited to the instances Prometheus
 * scrapes now (its active targets) and to samples of the last minute, so
 * series left in a reused data folder by an earlier run on other ports do
 * not count. Null when the job has no active target.
 */
export function currentSeriesQuery(
  metric: string,
  job: string,
  instances: string[],
  extra = "",
): string | null {
  if (instances.length === 0) return null;
  const inst = instances.map(promRegexLiteral).join("|");
  const sel = `${metric}{job="${job}",instance=~"${inst}"${extra ? `,${extra}` : ""}}`;
  return `last_over_time(${sel}[1m])`;
}

/** The jobs of the metric contract: the app's service.name when pushed, its name when scraped. */
export const INSTRUMENTED_APP_JOB = "platform-app";
export const PULL_APP_JOB = "metrics-pull-app";
/** The scrape job of the collector's Prometheus exporter (honor_labels: series keep the app's job). */
export const COLLECTOR_EXPORTER_JOB = "otel-collector";

/**
 * Series an app pushed over OTLP (job = its service.name, kept by
 * honor_labels), as the collector's exporter target shows them now: the
 * exporter target must be scraped, and the series must have a sample of the
 * last minute.
 */
export async function checkPushedSeries(
  prometheus: string,
  targets: PromTarget[],
  check: string,
  job: string,
  metric: string,
  fix: string,
): Promise<CheckResult> {
  const exporters = targets.filter((t) => t.labels.job === COLLECTOR_EXPORTER_JOB);
  if (exporters.length === 0) {
    return {
      check,
      expected: "data",
      found: `no target for job ${COLLECTOR_EXPORTER_JOB}`,
      status: "fail",
      fix:
        `Prometheus does not scrape the collector's exporter: is it running with config/prometheus.yml?`,
    };
  }
  return await checkHasData(prometheus, check, `last_over_time(${metric}{job="${job}"}[1m])`, fix);
}

/** Series of `metric` from `job`'s current targets with a sample in the last minute. */
export async function checkCurrentSeries(
  prometheus: string,
  targets: PromTarget[],
  check: string,
  job: string,
  metric: string,
  fix: string,
  extra = "",
): Promise<CheckResult> {
  const instances = [
    ...new Set(targets.filter((t) => t.labels.job === job).map((t) => t.labels.instance)),
  ];
  const query = currentSeriesQuery(metric, job, instances, extra);
  if (!query) {
    return {
      check,
      expected: "data",
      found: `no target for job ${job}`,
      status: "fail",
      fix: `Prometheus has no job ${job}: is it running with config/prometheus.yml?`,
    };
  }
  return await checkHasData(prometheus, check, query, fix);
}

/** A PromQL query that must return at least one series. */
export async function checkHasData(
  prometheus: string,
  check: string,
  query: string,
  fix: string,
): Promise<CheckResult> {
  try {
    const result = await promQuery(prometheus, query);
    if (result.length > 0) {
      return { check, expected: "data", found: `${result.length} series`, status: "ok" };
    }
    return {
      check,
      expected: "data",
      found: "no data",
      status: "fail",
      fix: `no data for ${query}: ${fix}`,
    };
  } catch (err) {
    return {
      check,
      expected: "data",
      found: `error: ${(err as Error).message}`,
      status: "fail",
      fix,
    };
  }
}

/**
 * The scraped and the collector-exported metrics the chapter promises, from
 * the targets Prometheus scrapes now, with samples of the last minute.
 */
export async function checkCoreMetrics(
  prometheus: string,
  targets?: PromTarget[],
): Promise<CheckResult[]> {
  const ts = targets ?? await promTargets(prometheus);
  return await Promise.all([
    checkPushedSeries(
      prometheus,
      ts,
      "instrumented app requests pushed (job platform-app)",
      INSTRUMENTED_APP_JOB,
      "http_requests_total",
      "is run-app running and pointed at the collector? (deno task run-app; OTEL_EXPORTER_OTLP_ENDPOINT) and has it had traffic? (deno task load)",
    ),
    checkCurrentSeries(
      prometheus,
      ts,
      "metrics-pull app requests scraped",
      PULL_APP_JOB,
      "http_requests_total",
      "is run-pull running? (deno task run-pull) and has it had traffic?",
    ),
    checkPushedSeries(
      prometheus,
      ts,
      "apps' OTel semantic-convention metrics exported by the collector",
      INSTRUMENTED_APP_JOB,
      "http_server_request_duration_seconds_count",
      "do the apps push OTLP to the collector? check OTEL_EXPORTER_OTLP_ENDPOINT and 'deno task doctor'",
    ),
  ]);
}

export interface DashboardQuery {
  dashboard: string;
  file: string;
  panel: string;
  refId: string;
  expr: string;
}

// deno-lint-ignore no-explicit-any
function collectPanels(panels: any[] | undefined, out: any[]): void {
  for (const p of panels ?? []) {
    out.push(p);
    if (Array.isArray(p.panels)) collectPanels(p.panels, out);
  }
}

/** Every PromQL expression of every panel in dashboards/*.json. */
export function dashboardQueries(dir = repoPath("dashboards")): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".json"));
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const file = join(dir, e.name);
    // deno-lint-ignore no-explicit-any
    let doc: any;
    try {
      doc = JSON.parse(Deno.readTextFileSync(file));
    } catch {
      continue;
    }
    const dash = doc.dashboard ?? doc; // tolerate the import wrapper {dashboard: ...}
    // deno-lint-ignore no-explicit-any
    const panels: any[] = [];
    collectPanels(dash.panels, panels);
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr === "string" && t.expr.trim()) {
          out.push({
            dashboard: dash.title ?? e.name,
            file: e.name,
            panel: p.title ?? `panel ${p.id ?? "?"}`,
            refId: t.refId ?? "A",
            expr: t.expr,
          });
        }
      }
    }
  }
  return out;
}

/**
 * A dashboard expression made runnable: template variables inside label
 * matchers match anything (`job="$job"` becomes `job=~".*"`), interval
 * variables become durations.
 */
export function runnableQuery(expr: string, rangeInterval = "5m"): string {
  let q = expr.replace(
    /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|=|!=|!~)\s*"([^"]*)"/g,
    (whole, label: string, op: string, value: string) => {
      if (!/\$\{?\w+|\[\[\w+/.test(value)) return whole;
      const v = value.replace(/\$\{\w+(?::[^}]*)?\}|\$\w+|\[\[\w+(?::[^\]]*)?\]\]/g, ".*");
      if (op === "=" || op === "=~") return `${label}=~"${v}"`;
      return `${label}!~"${v === ".*" ? "^$" : v}"`;
    },
  );
  q = q.replace(/\$\{?__rate_interval\}?|\$\{?__interval\}?|\$\{?__range\}?/g, rangeInterval);
  return substituteGrafanaVariables(q);
}

/** Where a metric comes from, per the catalog; "local" when this stack can have it. */
export function metricSource(
  metric: string,
  catalog: MetricCatalog,
): { local: boolean; exporter: string } {
  if (metric.includes(":")) return { local: true, exporter: "recording rule" };
  const family = (e: CatalogEntry) =>
    e.name === metric ||
    ["_bucket", "_sum", "_count", "_created"].some((s) => metric === e.name + s);
  if (catalog.emitted.some(family)) return { local: true, exporter: "our apps" };
  const entry = catalog.metrics.find(family);
  if (!entry) return { local: true, exporter: "unknown (not in the catalog)" };
  const exporter = entry.exporter ?? "?";
  // The collector's own telemetry, Prometheus, Alertmanager and node-exporter run locally too.
  const local = /^(otel-collector|prometheus|alertmanager|node-exporter)/i.test(exporter);
  return { local, exporter };
}

/** Where a dashboard expression's data comes from: what verify and the viewer both need. */
export interface ExprSources {
  /** Metric names the (runnable) expression selects. */
  metrics: string[];
  /** Exporters it needs that only a cluster has ("kube-state-metrics"), empty when all local. */
  clusterOnly: string[];
  /** Only ALERTS series: empty on a healthy system, not a failure. */
  incident: boolean;
}

/** The sources of one dashboard expression (template variables allowed), per the catalog. */
export function exprSources(expr: string, catalog: MetricCatalog): ExprSources {
  let metrics: string[] = [];
  try {
    metrics = referencedMetrics(runnableQuery(expr));
  } catch { /* leave empty */ }
  const clusterOnly = [
    ...new Set(
      metrics.map((m) => metricSource(m, catalog)).filter((s) => !s.local).map((s) => s.exporter),
    ),
  ];
  return { metrics, clusterOnly, incident: metrics.some((m) => m.startsWith("ALERTS")) };
}

/** Runs each dashboard query that can have data locally; lists the cluster-only ones. */
export async function checkDashboards(
  prometheus: string,
  opts: { dir?: string; catalog?: MetricCatalog; rangeInterval?: string } = {},
): Promise<CheckResult[]> {
  const catalog = opts.catalog ?? await loadCatalog();
  const results: CheckResult[] = [];
  for (const q of dashboardQueries(opts.dir)) {
    const check = `${q.dashboard} / ${q.panel}${q.refId !== "A" ? ` [${q.refId}]` : ""}`;
    const query = runnableQuery(q.expr, opts.rangeInterval);
    const { metrics, clusterOnly, incident } = exprSources(q.expr, catalog);
    if (clusterOnly.length > 0) {
      results.push({
        check,
        expected: "cluster only",
        found: `needs ${clusterOnly.join(", ")}`,
        status: "skip",
      });
      continue;
    }
    const r = await checkHasData(
      prometheus,
      check,
      query,
      `generate traffic with 'deno task load' (and /error, /api/admin calls for error and security panels)`,
    );
    // Incident panels (ALERTS) are empty on a healthy system: not a failure.
    if (r.status === "fail" && r.found === "no data" && incident) {
      results.push({
        check,
        expected: "data during an incident",
        found: "no alert firing",
        status: "skip",
      });
      continue;
    }
    if (r.status === "fail" && r.found === "no data") {
      // Name the metric that has no series at all: more useful than "no data".
      const absent: string[] = [];
      for (const m of metrics) {
        try {
          if ((await promQuery(prometheus, `count(${m})`)).length === 0) absent.push(m);
        } catch { /* keep the generic fix */ }
      }
      if (absent.length > 0) {
        const who = absent.map((m) => `${m} (${metricSource(m, catalog).exporter})`).join(", ");
        r.found = `no series of ${absent.join(", ")}`;
        r.fix =
          `Prometheus has no series of ${who}: is the program that emits it running, and does it record it?`;
      }
    }
    results.push(r);
  }
  return results;
}

// --- Jaeger -------------------------------------------------------------

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; traceID: string; spanID: string }[];
  /** Microseconds since the epoch, and microseconds long. */
  startTime: number;
  duration?: number;
  processID: string;
  tags?: JaegerKeyValue[];
  logs?: { timestamp: number; fields: JaegerKeyValue[] }[];
  warnings?: string[] | null;
}

export interface JaegerKeyValue {
  key: string;
  type?: string;
  value: unknown;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags?: JaegerKeyValue[] }>;
}

export async function jaegerServices(jaeger: string): Promise<string[]> {
  const body = await getJson<{ data: string[] | null }>(`${jaeger}/api/services`);
  return body.data ?? [];
}

export async function jaegerTraces(
  jaeger: string,
  service: string,
  opts: { operation?: string; limit?: number; lookback?: string } = {},
): Promise<JaegerTrace[]> {
  const params = new URLSearchParams({
    service,
    limit: String(opts.limit ?? 20),
    lookback: opts.lookback ?? "1h",
  });
  if (opts.operation) params.set("operation", opts.operation);
  const body = await getJson<{ data: JaegerTrace[] | null }>(`${jaeger}/api/traces?${params}`);
  return body.data ?? [];
}

export async function jaegerTrace(jaeger: string, traceId: string): Promise<JaegerTrace | null> {
  const res = await fetchService(`${jaeger}/api/traces/${traceId}`, 5000);
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) throw new Error(`HTTP ${res.status} from Jaeger for trace ${traceId}`);
  const body = await res.json() as { data: JaegerTrace[] | null };
  return body.data?.[0] ?? null;
}

export interface TraceShape {
  ok: boolean;
  /** What is wrong, or a one-line description of the shape found. */
  detail: string;
}

/**
 * The push demo's shape: `process_user_request` is the root (no parent in
 * the trace), `validate_user_action` and `perform_action` are its children
 * (CHILD_OF the root's span id), all from trace-demo-service.
 */
export function checkTraceShape(trace: JaegerTrace): TraceShape {
  const root = trace.spans.find((s) => s.operationName === "process_user_request");
  if (!root) return { ok: false, detail: "no process_user_request span" };
  const parentOf = (s: JaegerSpan) =>
    (s.references ?? []).find((r) => r.refType === "CHILD_OF")?.spanID ?? null;
  const rootParent = parentOf(root);
  if (rootParent && trace.spans.some((s) => s.spanID === rootParent)) {
    return { ok: false, detail: "process_user_request has a parent span in the trace" };
  }
  const problems: string[] = [];
  for (const name of ["validate_user_action", "perform_action"]) {
    const child = trace.spans.find((s) => s.operationName === name);
    if (!child) problems.push(`no ${name} span`);
    else if (parentOf(child) !== root.spanID) {
      problems.push(`${name}'s parent is ${parentOf(child) ?? "none"}, not ${root.spanID}`);
    }
  }
  const service = trace.processes?.[root.processID]?.serviceName;
  if (service !== "trace-demo-service") {
    problems.push(`service is ${service}, not trace-demo-service`);
  }
  if (problems.length) return { ok: false, detail: problems.join("; ") };
  return {
    ok: true,
    detail: `trace ${trace.traceID}: process_user_request -> validate_user_action, perform_action`,
  };
}

/** The push demo's trace: the one with `traceId`, else the newest; null when Jaeger has none. */
export async function pushDemoTrace(jaeger: string, traceId?: string): Promise<JaegerTrace | null> {
  if (traceId) return await jaegerTrace(jaeger, traceId);
  const traces = await jaegerTraces(jaeger, "trace-demo-service", {
    operation: "process_user_request",
  });
  // Newest first: by the root span's start time.
  traces.sort((a, b) =>
    Math.max(...b.spans.map((s) => s.startTime)) - Math.max(...a.spans.map((s) => s.startTime))
  );
  return traces[0] ?? null;
}

/** The push demo's trace (a given id, or the newest one) and the instrumented app's spans. */
export async function checkTraces(
  jaeger: string,
  opts: { traceId?: string; appService?: string } = {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const pushCheck = "push demo trace in Jaeger";
  const expected = "process_user_request + 2 children";
  try {
    const trace = await pushDemoTrace(jaeger, opts.traceId);
    if (!trace) {
      results.push({
        check: pushCheck,
        expected,
        found: opts.traceId ? `trace ${opts.traceId} not found` : "no trace",
        status: "fail",
        fix:
          "run 'deno task run-push' (it prints the trace id); is the collector forwarding to Jaeger? see 'deno task doctor'",
      });
    } else {
      const shape = checkTraceShape(trace);
      results.push({
        check: pushCheck,
        expected,
        found: shape.detail,
        status: shape.ok ? "ok" : "fail",
        fix: shape.ok ? undefined : "the trace's structure is wrong: see apps/lib/push_demo.ts",
      });
    }
  } catch (err) {
    results.push({
      check: pushCheck,
      expected,
      found: `error: ${(err as Error).message}`,
      status: "fail",
      fix: "is Jaeger running? deno task stack status",
      unreachable: isUnreachable(err),
    });
  }
  const appService = opts.appService ?? "platform-app";
  try {
    const traces = await jaegerTraces(jaeger, appService, { limit: 5 });
    const spans = traces.reduce((n, t) => n + t.spans.length, 0);
    results.push({
      check: `${appService} spans in Jaeger`,
      expected: "spans",
      found: traces.length ? `${traces.length} traces, ${spans} spans` : "none",
      status: traces.length ? "ok" : "fail",
      fix: traces.length
        ? undefined
        : "is run-app running with OTEL_EXPORTER_OTLP_ENDPOINT at the collector, and has it had traffic?",
    });
  } catch (err) {
    results.push({
      check: `${appService} spans in Jaeger`,
      expected: "spans",
      found: `error: ${(err as Error).message}`,
      status: "fail",
      fix: "is Jaeger running? deno task stack status",
      unreachable: isUnreachable(err),
    });
  }
  return results;
}

/** An exemplar of `job`'s latency histogram, and whether Jaeger has its trace. */
export interface ExemplarCheck {
  ok: boolean;
  traceId?: string;
  detail: string;
}

/**
 * Metrics -> traces: the newest exemplar Prometheus stored for `job`'s
 * http_request_duration_seconds buckets (the last 15 minutes), looked up
 * in Jaeger by its trace id.
 */
export async function checkExemplarTrace(
  prometheus: string,
  jaeger: string,
  job = INSTRUMENTED_APP_JOB,
): Promise<ExemplarCheck> {
  const url = new URL("/api/v1/query_exemplars", prometheus);
  url.searchParams.set("query", `http_request_duration_seconds_bucket{job="${job}"}`);
  const now = Date.now() / 1000;
  url.searchParams.set("start", String(now - 900));
  url.searchParams.set("end", String(now));
  // deno-lint-ignore no-explicit-any
  const body = await getJson<any>(url.toString());
  const exemplars: { labels: Record<string, string>; timestamp: number }[] = (body?.data ?? [])
    .flatMap((s: { exemplars?: unknown[] }) => s.exemplars ?? []);
  const withTrace = exemplars.filter((e) => /^[0-9a-f]{32}$/.test(e.labels?.trace_id ?? ""))
    .sort((a, b) => b.timestamp - a.timestamp);
  if (withTrace.length === 0) return { ok: false, detail: "no exemplar with a trace_id" };
  // The newest first; a trace Jaeger has not stored yet (batching) may be behind a few.
  for (const e of withTrace.slice(0, 5)) {
    const trace = await jaegerTrace(jaeger, e.labels.trace_id);
    if (trace) {
      return {
        ok: true,
        traceId: e.labels.trace_id,
        detail: `${e.labels.trace_id}: ${trace.spans.length} spans`,
      };
    }
  }
  return {
    ok: false,
    traceId: withTrace[0].labels.trace_id,
    detail: `${withTrace.length} exemplars; trace ${withTrace[0].labels.trace_id} not in Jaeger`,
  };
}

/** Metrics -> traces and traces -> logs, as verify rows. */
/**
 * One correlation row: `measure` says what it found; a thrown error is a
 * failing row whose fix is `whenUnreachable`.
 */
async function correlationRow(
  check: string,
  expected: string,
  whenUnreachable: string,
  measure: () => Promise<{ found: string; ok: boolean; fix: string }>,
): Promise<CheckResult> {
  try {
    const r = await measure();
    return {
      check,
      expected,
      found: r.found,
      status: r.ok ? "ok" : "fail",
      fix: r.ok ? undefined : r.fix,
    };
  } catch (err) {
    return {
      check,
      expected,
      found: `error: ${(err as Error).message}`,
      status: "fail",
      fix: whenUnreachable,
    };
  }
}

export async function checkCorrelation(
  opts: Endpoints & { victorialogs?: string; metrics: boolean; traceId?: string },
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  if (opts.metrics) {
    results.push(
      await correlationRow(
        "exemplar -> trace in Jaeger",
        "a latency exemplar's trace",
        "is Prometheus running? deno task stack status",
        async () => {
          const r = await checkExemplarTrace(opts.prometheus, opts.jaeger);
          return {
            found: r.detail,
            ok: r.ok,
            fix:
              "has platform-app had traffic (deno task load)? is Prometheus started with --enable-feature=exemplar-storage (deno task stack up does)?",
          };
        },
      ),
    );
  }
  const victorialogs = opts.victorialogs;
  if (victorialogs) {
    results.push(
      await correlationRow(
        "push demo trace's logs in VictoriaLogs",
        "log lines with its trace_id",
        "is VictoriaLogs running? deno task stack status",
        async () => {
          const trace = await pushDemoTrace(opts.jaeger, opts.traceId);
          if (!trace) {
            return { found: "no push demo trace", ok: false, fix: "run 'deno task run-push'" };
          }
          const lines = await queryLogs(victorialogs, {
            traceId: trace.traceID,
            sinceSeconds: 86_400,
          });
          return {
            found: `${lines.length} lines for ${trace.traceID}`,
            ok: lines.length > 0,
            fix:
              "does the collector's logs pipeline export to VictoriaLogs (config/otel-collector-local.yaml)? see 'deno task stack logs collector'",
          };
        },
      ),
    );
  }
  return results;
}

export interface VerifyOptions extends Endpoints {
  /**
   * Also check the pillars are joined: an exemplar's trace in Jaeger (with
   * metrics and traces), and, given VictoriaLogs' URL, the push demo's log lines.
   */
  correlation?: { victorialogs?: string };
  metrics?: boolean;
  traces?: boolean;
  dashboards?: boolean;
  traceId?: string;
  dashboardsDir?: string;
  rangeInterval?: string;
}

/** Everything verify checks; Prometheus unreachable is one failing row, not an exception. */
export async function runVerify(opts: VerifyOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  if (opts.metrics !== false) {
    try {
      const targets = await promTargets(opts.prometheus);
      results.push(...await checkTargets(opts.prometheus, undefined, targets));
      results.push(...await checkCoreMetrics(opts.prometheus, targets));
      if (opts.dashboards !== false) {
        results.push(
          ...await checkDashboards(opts.prometheus, {
            dir: opts.dashboardsDir,
            rangeInterval: opts.rangeInterval,
          }),
        );
      }
    } catch (err) {
      results.push({
        check: "Prometheus API",
        expected: "answers",
        found: `error: ${(err as Error).message}`,
        status: "fail",
        fix: `is Prometheus running at ${opts.prometheus}? deno task stack up`,
        unreachable: isUnreachable(err),
      });
    }
  }
  if (opts.traces !== false) {
    results.push(...await checkTraces(opts.jaeger, { traceId: opts.traceId }));
    if (opts.correlation) {
      results.push(
        ...await checkCorrelation({
          ...opts,
          victorialogs: opts.correlation.victorialogs,
          metrics: opts.metrics !== false,
        }),
      );
    }
  }
  return results;
}

/**
 * Runs verify until everything passes or `waitMs` is over (data arrives a
 * scrape interval or a batch timeout after the traffic), or a service does
 * not answer at all.
 */
export async function verifyUntil(
  opts: VerifyOptions,
  waitMs: number,
  onAttempt?: (failing: number) => void,
  signal?: AbortSignal,
): Promise<CheckResult[]> {
  const deadline = Date.now() + waitMs;
  while (true) {
    const results = await runVerify(opts);
    const failed = results.filter((r) => r.status === "fail");
    // A service that does not answer is the user's to start: waiting would only delay the fix.
    if (
      failed.length === 0 || Date.now() >= deadline || signal?.aborted ||
      failed.some((r) => r.unreachable)
    ) return results;
    onAttempt?.(failed.length);
    await new Promise((r) => setTimeout(r, Math.min(3000, Math.max(0, deadline - Date.now()))));
  }
}

/**
 * The "N check(s) not passing yet" line for retries, at most once per
 * `everyMs` (the first attempt prints at once), so a log of `verify --wait`
 * off a terminal is not one line per retry.
 */
export function retryReporter(
  write: (line: string) => void,
  everyMs = 10_000,
  now: () => number = Date.now,
): (failing: number) => void {
  let last = -Infinity;
  return (failing) => {
    if (now() - last < everyMs) return;
    last = now();
    write(`… ${failing} check(s) not passing yet; retrying`);
  };
}

export function verifyTable(results: CheckResult[]): string {
  const mark = { ok: "ok", fail: "FAIL", skip: "-" } as const;
  return formatTable(
    ["", "check", "expected", "found"],
    results.map((r) => [mark[r.status], r.check, r.expected, r.found]),
  );
}

export function verifyFixes(results: CheckResult[]): string[] {
  return results.filter((r) => r.status === "fail" && r.fix).map((r) => `- ${r.check}: ${r.fix}`);
}
