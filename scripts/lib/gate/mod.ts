// The deployment gate: pass, fail or inconclusive from Prometheus over a window.
// Used by `deno task gate` (scripts/gate.ts).
/**
 * An observability-driven deployment gate, in the spirit of Argo Rollouts'
 * analysis runs and Flagger's canary checks: ask Prometheus how a service
 * (or its canary, compared with the baseline) behaved over a window, compare
 * with thresholds, and answer pass (0), fail (1) or inconclusive (2: no data,
 * too little traffic, Prometheus unreachable). Inconclusive is never a pass.
 */
import { parse as parseYaml } from "yaml";
import { MissingPrerequisite, UsageError } from "../cli.ts";

export const EXIT_PASS = 0;
export const EXIT_FAIL = 1;
export const EXIT_INCONCLUSIVE = 2;

export interface Matcher {
  name: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}

export interface CanarySpec {
  /** The label that marks canary series, e.g. {name: "track", value: "canary"}. */
  canary: Matcher;
  /** How baseline series are selected; default: the canary label != its value. */
  baseline: Matcher;
  /** Canary error rate may exceed the baseline's by at most this much (absolute, 0..1). */
  maxErrorRateIncrease?: number;
  /** Canary p95/p99 may be at most this multiple of the baseline's. */
  maxLatencyRatio?: number;
}

export interface GatePolicy {
  /** Label matchers choosing the service, e.g. job="platform-app". */
  selector: Matcher[];
  /** A Prometheus duration, e.g. 5m. */
  window: string;
  /** Fewer requests than this in the window is inconclusive. */
  minRequests: number;
  /** Absolute thresholds (for the canary when one is set). */
  maxErrorRate?: number;
  maxP95Seconds?: number;
  maxP99Seconds?: number;
  canary?: CanarySpec;
  requestsMetric: string;
  durationMetric: string;
  /** The label holding the HTTP status code. */
  statusLabel: string;
}

export const DEFAULT_POLICY: Omit<GatePolicy, "selector"> = {
  window: "5m",
  minRequests: 10,
  maxErrorRate: 0.05,
  maxP95Seconds: 1,
  maxP99Seconds: 2.5,
  requestsMetric: "http_requests_total",
  durationMetric: "http_request_duration_seconds",
  statusLabel: "status",
};

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * Parses label matchers: `job="api",env!~"dev|test"`, optionally in braces,
 * values quoted or bare (`track=canary`).
 */
export function parseMatchers(raw: string): Matcher[] {
  let s = raw.trim();
  if (s.startsWith("{") && s.endsWith("}")) s = s.slice(1, -1).trim();
  const out: Matcher[] = [];
  const re =
    /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^,"\s{}]+))\s*(,|$)/y;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) {
      throw new UsageError(
        `cannot parse label matchers '${raw}' at '${s.slice(pos)}' (expected name="value",...)`,
      );
    }
    const value = m[3] !== undefined
      ? m[3].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c)
      : m[4];
    out.push({ name: m[1], op: m[2] as Matcher["op"], value });
    pos = re.lastIndex;
    if (m[5] === "" && pos < s.length) break;
  }
  if (out.length === 0) throw new UsageError(`no label matchers in '${raw}'`);
  return out;
}

export function formatMatchers(ms: Matcher[]): string {
  return ms.map((m) => `${m.name}${m.op}"${escapeValue(m.value)}"`).join(",");
}

/** `track=canary` → the canary matcher, and by default its baseline `track!="canary"`. */
export function parseCanaryLabel(raw: string): Matcher {
  const ms = parseMatchers(raw);
  if (ms.length !== 1 || ms[0].op !== "=") {
    throw new UsageError(`--canary-label must be one label=value, got '${raw}'`);
  }
  return ms[0];
}

export interface Query {
  id: string;
  scope: "service" | "canary" | "baseline";
  expr: string;
}

/** The PromQL the gate runs, one set per scope. */
export function scopeQueries(
  p: GatePolicy,
  scope: Query["scope"],
  extra: Matcher[] = [],
): Query[] {
  const sel = formatMatchers([...p.selector, ...extra]);
  const errSel = formatMatchers([
    ...p.selector,
    ...extra,
    { name: p.statusLabel, op: "=~", value: "5.." },
  ]);
  const w = p.window;
  const req = p.requestsMetric;
  const bucket = `${p.durationMetric}_bucket`;
  const q = (id: string, expr: string): Query => ({ id, scope, expr });
  return [
    q("requests", `sum(increase(${req}{${sel}}[${w}]))`),
    // `or vector(0)`: no 5xx series at all means zero errors, not "no data".
    q(
      "error_rate",
      `(sum(rate(${req}{${errSel}}[${w}])) or vector(0)) / sum(rate(${req}{${sel}}[${w}]))`,
    ),
    q("p95_latency", `histogram_quantile(0.95, sum by (le) (rate(${bucket}{${sel}}[${w}])))`),
    q("p99_latency", `histogram_quantile(0.99, sum by (le) (rate(${bucket}{${sel}}[${w}])))`),
  ];
}

export function gateQueries(p: GatePolicy): Query[] {
  if (!p.canary) return scopeQueries(p, "service");
  return [
    ...scopeQueries(p, "canary", [p.canary.canary]),
    ...scopeQueries(p, "baseline", [p.canary.baseline]),
  ];
}

export class PrometheusUnreachable extends MissingPrerequisite {
  override name = "PrometheusUnreachable";
}

/**
 * Runs an instant query. Returns the single sample's value, or null when the
 * result is empty or not a number (NaN: e.g. no traffic in the window).
 */
export async function queryScalar(
  prometheus: string,
  expr: string,
  timeoutMs = 10_000,
): Promise<number | null> {
  const url = new URL("/api/v1/query", prometheus);
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ query: expr }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new PrometheusUnreachable(
      `Prometheus at ${url.origin} is unreachable: ${(err as Error).message.split("\n")[0]}`,
      "start it with 'deno task stack up' or pass --prometheus URL",
    );
  }
  const text = await res.text();
  let body: {
    status?: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
  try {
    body = JSON.parse(text);
  } catch {
    throw new PrometheusUnreachable(
      `${url.origin} did not answer like Prometheus (HTTP ${res.status})`,
      "check --prometheus",
    );
  }
  if (body.status !== "success" || !body.data) {
    if (res.status === 400 || res.status === 422) {
      throw new UsageError(`Prometheus rejected the query ${expr}: ${body.error}`);
    }
    throw new PrometheusUnreachable(
      `Prometheus at ${url.origin} failed: HTTP ${res.status} ${body.error ?? ""}`.trim(),
      "check its logs",
    );
  }
  const { resultType, result } = body.data;
  let raw: string | undefined;
  if (resultType === "scalar") raw = (result as [number, string])[1];
  else if (resultType === "vector") {
    const v = result as { value: [number, string] }[];
    if (v.length > 1) {
      throw new UsageError(`query returned ${v.length} series, expected one: ${expr}`);
    }
    raw = v[0]?.value[1];
  }
  if (raw === undefined) return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : null;
}

export type Verdict = "pass" | "fail" | "no-data";

export interface CheckRow {
  metric: string;
  scope: Query["scope"] | "canary vs baseline";
  value: number | null;
  /** e.g. "<= 0.05" */
  threshold: string;
  verdict: Verdict;
  unit: "count" | "ratio" | "seconds" | "x";
}

export interface GateResult {
  verdict: "pass" | "fail" | "inconclusive";
  exitCode: number;
  prometheus: string;
  selector: string;
  window: string;
  checks: CheckRow[];
  queries: (Query & { value: number | null })[];
}

function limitCheck(
  metric: string,
  scope: CheckRow["scope"],
  value: number | null,
  max: number | undefined,
  unit: CheckRow["unit"],
): CheckRow | null {
  if (max === undefined) return null;
  const verdict: Verdict = value === null ? "no-data" : value <= max ? "pass" : "fail";
  return { metric, scope, value, threshold: `<= ${max}`, verdict, unit };
}

/** Turns query values into verdicts (pure: tested without Prometheus). */
export function judge(p: GatePolicy, values: Map<string, number | null>): CheckRow[] {
  const rows: CheckRow[] = [];
  const get = (scope: string, id: string) => values.get(`${scope}/${id}`) ?? null;
  const scopes: Query["scope"][] = p.canary ? ["canary", "baseline"] : ["service"];
  for (const scope of scopes) {
    const n = get(scope, "requests");
    rows.push({
      metric: "requests",
      scope,
      value: n,
      threshold: `>= ${p.minRequests}`,
      // Too little traffic cannot show anything: inconclusive, not a pass.
      verdict: n === null || n < p.minRequests ? "no-data" : "pass",
      unit: "count",
    });
    if (scope === "baseline") continue; // the baseline is the yardstick, not judged alone
    const enough = n !== null && n >= p.minRequests;
    const v = (id: string) => enough ? get(scope, id) : null;
    for (
      const row of [
        limitCheck("error_rate", scope, v("error_rate"), p.maxErrorRate, "ratio"),
        limitCheck("p95_latency", scope, v("p95_latency"), p.maxP95Seconds, "seconds"),
        limitCheck("p99_latency", scope, v("p99_latency"), p.maxP99Seconds, "seconds"),
      ]
    ) if (row) rows.push(row);
  }
  if (p.canary) {
    const okN = (s: string) => {
      const n = get(s, "requests");
      return n !== null && n >= p.minRequests;
    };
    const both = okN("canary") && okN("baseline");
    const c = (id: string) => both ? get("canary", id) : null;
    const b = (id: string) => both ? get("baseline", id) : null;
    if (p.canary.maxErrorRateIncrease !== undefined) {
      const ce = c("error_rate"), be = b("error_rate");
      const delta = ce === null || be === null ? null : ce - be;
      const row = limitCheck(
        "error_rate_increase",
        "canary vs baseline",
        delta,
        p.canary.maxErrorRateIncrease,
        "ratio",
      );
      if (row) rows.push(row);
    }
    if (p.canary.maxLatencyRatio !== undefined) {
      for (const id of ["p95_latency", "p99_latency"]) {
        const cv = c(id), bv = b(id);
        const ratio = cv === null || bv === null || bv <= 0 ? null : cv / bv;
        const row = limitCheck(
          `${id.replace("_latency", "")}_ratio`,
          "canary vs baseline",
          ratio,
          p.canary.maxLatencyRatio,
          "x",
        );
        if (row) rows.push(row);
      }
    }
  }
  return rows;
}

/** Any failure fails; otherwise any missing data is inconclusive; else pass. */
export function overall(rows: CheckRow[]): { verdict: GateResult["verdict"]; exitCode: number } {
  if (rows.some((r) => r.verdict === "fail")) return { verdict: "fail", exitCode: EXIT_FAIL };
  if (rows.length === 0 || rows.some((r) => r.verdict === "no-data")) {
    return { verdict: "inconclusive", exitCode: EXIT_INCONCLUSIVE };
  }
  return { verdict: "pass", exitCode: EXIT_PASS };
}

/** Queries Prometheus and judges. Throws PrometheusUnreachable (exit 2) when it cannot ask. */
export async function runGate(p: GatePolicy, prometheus: string): Promise<GateResult> {
  const queries = gateQueries(p);
  const results = await Promise.all(queries.map((q) => queryScalar(prometheus, q.expr)));
  const values = new Map<string, number | null>();
  queries.forEach((q, i) => values.set(`${q.scope}/${q.id}`, results[i]));
  const checks = judge(p, values);
  return {
    ...overall(checks),
    prometheus,
    selector: formatMatchers(p.selector),
    window: p.window,
    checks,
    queries: queries.map((q, i) => ({ ...q, value: results[i] })),
  };
}

function fmtValue(v: number | null, unit: CheckRow["unit"]): string {
  if (v === null) return "no data";
  switch (unit) {
    case "count":
      return String(Math.round(v));
    case "ratio":
      return `${(v * 100).toFixed(2)}%`;
    case "seconds":
      return `${v.toFixed(3)}s`;
    case "x":
      return `${v.toFixed(2)}x`;
  }
}

function fmtThreshold(r: CheckRow): string {
  const [op, n] = r.threshold.split(" ");
  return `${op} ${fmtValue(Number(n), r.unit)}`;
}

/** The table: metric, scope, value, threshold, verdict; then the result. */
export function formatTable(r: GateResult): string {
  const header = ["METRIC", "SCOPE", "VALUE", "THRESHOLD", "VERDICT"];
  const rows = r.checks.map((c) => [
    c.metric,
    c.scope,
    fmtValue(c.value, c.unit),
    fmtThreshold(c),
    c.verdict.toUpperCase(),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [
    `Gate: {${r.selector}} over ${r.window} (Prometheus ${r.prometheus})`,
    line(header),
    ...rows.map(line),
    `Result: ${r.verdict.toUpperCase()}` +
    (r.verdict === "inconclusive" ? " (no data or too little traffic: not a pass)" : ""),
  ].join("\n");
}

const PROM_DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

export function checkWindow(w: string): string {
  if (!PROM_DURATION.test(w)) {
    throw new UsageError(`window must be a Prometheus duration like 30s or 5m, got '${w}'`);
  }
  return w;
}

function num(name: string, v: unknown, min = 0, max = Infinity): number {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
  }
  return n;
}

/**
 * A count such as the minimum number of requests: a whole number >= 0, from
 * a flag (digits only: Number() would also take "1.5", "1e3" and "0x10") or
 * from the policy file (a YAML integer).
 */
function count(name: string, v: unknown): number {
  const n = typeof v === "string" ? (/^\d+$/.test(v) ? Number(v) : NaN) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`${name} must be a whole number >= 0, got '${v}'`);
  }
  return n;
}

/** The policy file's shape (snake_case YAML). */
interface PolicyFile {
  selector?: string;
  job?: string;
  window?: string;
  min_requests?: number;
  thresholds?: {
    error_rate?: number;
    p95_seconds?: number;
    p99_seconds?: number;
  };
  canary?: {
    label?: string;
    baseline?: string;
    max_error_rate_increase?: number;
    max_latency_ratio?: number;
  };
  metrics?: { requests?: string; duration?: string; status_label?: string };
}

function checkKeys(where: string, obj: unknown, allowed: string[]): void {
  if (obj === undefined || obj === null) return;
  if (typeof obj !== "object" || Array.isArray(obj)) {
    throw new UsageError(`${where} must be a mapping`);
  }
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new UsageError(`${where}: unknown key '${k}' (known: ${allowed.join(", ")})`);
    }
  }
}

/** Flag-level overrides; every field optional, strings as typed on the command line. */
export interface GateOverrides {
  job?: string;
  selector?: string;
  window?: string;
  minRequests?: string;
  maxErrorRate?: string;
  maxP95?: string;
  maxP99?: string;
  canaryLabel?: string;
  baselineLabel?: string;
  maxErrorRateIncrease?: string;
  maxLatencyRatio?: string;
}

/** Parses a YAML policy's text (strict: unknown keys are errors). */
export function parsePolicyFile(text: string, where = "policy"): PolicyFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${where}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  checkKeys(where, doc, [
    "selector",
    "job",
    "window",
    "min_requests",
    "thresholds",
    "canary",
    "metrics",
  ]);
  const d = doc as PolicyFile;
  checkKeys(`${where}: thresholds`, d.thresholds, ["error_rate", "p95_seconds", "p99_seconds"]);
  checkKeys(`${where}: canary`, d.canary, [
    "label",
    "baseline",
    "max_error_rate_increase",
    "max_latency_ratio",
  ]);
  checkKeys(`${where}: metrics`, d.metrics, ["requests", "duration", "status_label"]);
  return d;
}

/**
 * Builds the policy: defaults, then the policy file, then flags. A service
 * selector (job or selector) is required.
 */
export function buildPolicy(file: PolicyFile, o: GateOverrides): GatePolicy {
  const pick = <T>(flag: T | undefined, fromFile: T | undefined): T | undefined =>
    flag !== undefined ? flag : fromFile;
  const job = pick(o.job, file.job);
  const selectorRaw = pick(o.selector, file.selector);
  if (o.job !== undefined && o.selector !== undefined) {
    throw new UsageError("give --job or --selector, not both");
  }
  const selector: Matcher[] = [];
  if (o.selector !== undefined) selector.push(...parseMatchers(o.selector));
  else if (o.job !== undefined) selector.push({ name: "job", op: "=", value: o.job });
  else if (selectorRaw !== undefined) selector.push(...parseMatchers(String(selectorRaw)));
  else if (job !== undefined) selector.push({ name: "job", op: "=", value: String(job) });
  if (selector.length === 0) {
    throw new UsageError("which service? pass --job NAME or --selector 'label=\"value\"'");
  }
  const t = file.thresholds ?? {};
  const m = file.metrics ?? {};
  // A limit set to "off" is not checked at all.
  const opt = (name: string, v: unknown, max = Infinity) =>
    v === undefined || v === "off" ? undefined : num(name, v, 0, max);
  const policy: GatePolicy = {
    selector,
    window: checkWindow(String(pick(o.window, file.window) ?? DEFAULT_POLICY.window)),
    minRequests: count(
      o.minRequests !== undefined ? "--min-requests" : "min_requests",
      pick<unknown>(o.minRequests, file.min_requests) ?? DEFAULT_POLICY.minRequests,
    ),
    maxErrorRate: opt(
      "max error rate",
      pick<unknown>(o.maxErrorRate, t.error_rate) ?? DEFAULT_POLICY.maxErrorRate,
      1,
    ),
    maxP95Seconds: opt(
      "max p95",
      pick<unknown>(o.maxP95, t.p95_seconds) ?? DEFAULT_POLICY.maxP95Seconds,
    ),
    maxP99Seconds: opt(
      "max p99",
      pick<unknown>(o.maxP99, t.p99_seconds) ?? DEFAULT_POLICY.maxP99Seconds,
    ),
    requestsMetric: m.requests ?? DEFAULT_POLICY.requestsMetric,
    durationMetric: m.duration ?? DEFAULT_POLICY.durationMetric,
    statusLabel: m.status_label ?? DEFAULT_POLICY.statusLabel,
  };
  for (const [k, v] of [["requests", policy.requestsMetric], ["duration", policy.durationMetric]]) {
    if (!METRIC_NAME.test(v)) throw new UsageError(`metrics.${k}: not a metric name: '${v}'`);
  }
  if (!LABEL_NAME.test(policy.statusLabel)) {
    throw new UsageError(`metrics.status_label: not a label name: '${policy.statusLabel}'`);
  }
  const c = file.canary ?? {};
  const canaryRaw = pick(o.canaryLabel, c.label);
  if (canaryRaw !== undefined) {
    const canary = parseCanaryLabel(String(canaryRaw));
    const baselineRaw = pick(o.baselineLabel, c.baseline);
    const baseline = baselineRaw !== undefined
      ? parseCanaryLabel(String(baselineRaw))
      : { name: canary.name, op: "!=" as const, value: canary.value };
    policy.canary = {
      canary,
      baseline,
      maxErrorRateIncrease: opt(
        "max error rate increase",
        pick<unknown>(o.maxErrorRateIncrease, c.max_error_rate_increase),
        1,
      ),
      maxLatencyRatio: opt(
        "max latency ratio",
        pick<unknown>(o.maxLatencyRatio, c.max_latency_ratio),
      ),
    };
  } else if (o.baselineLabel !== undefined || o.maxErrorRateIncrease || o.maxLatencyRatio) {
    throw new UsageError("--baseline-label and relative thresholds need --canary-label");
  }
  return policy;
}

// ---------------------------------------------------------------------------
// `gate --slo ID`: the SLO's page-level burn condition (config/slo.yaml)

/** What the SLO gate needs of an SLO (scripts/lib/slo/mod.ts provides it). */
export interface SloGateSpec {
  id: string;
  /** 1 - objective, e.g. 0.01. */
  budget: number;
  /** The page windows: fire when the error ratio is above burnRate x budget over both. */
  page: { burnRate: number; long: string; short: string }[];
  /** The error ratio over a window, as Sloth's recording rules compute it. */
  errorRatio: (window: string) => string;
}

/**
 * Fails when the page alert's condition holds now: for some page window pair,
 * the burn rate (error ratio / budget) is above its burn rate over both the
 * long and the short window, i.e. min(long, short) > burn rate. Computed from
 * the raw series with the SLO's own queries, so it does not depend on the
 * recording rules being loaded. No traffic in a window is no data (2).
 */
export async function runSloGate(slo: SloGateSpec, prometheus: string): Promise<GateResult> {
  const windows = [...new Set(slo.page.flatMap((w) => [w.long, w.short]))];
  const queries: (Query & { value: number | null })[] = [];
  const values = await Promise.all(
    windows.map((w) => queryScalar(prometheus, `(${slo.errorRatio(w)}) / ${slo.budget}`)),
  );
  windows.forEach((w, i) =>
    queries.push({
      id: `burn_rate_${w}`,
      scope: "service",
      expr: `(${slo.errorRatio(w)}) / ${slo.budget}`,
      value: values[i],
    })
  );
  const burn = (w: string) => values[windows.indexOf(w)];
  const checks: CheckRow[] = slo.page.map((p) => {
    const a = burn(p.long), b = burn(p.short);
    // Both windows above the burn rate <=> the smaller of the two is.
    const value = a === null || b === null ? null : Math.min(a, b);
    return {
      metric: `page_burn_${p.long}_${p.short}`,
      scope: "service",
      value,
      threshold: `<= ${p.burnRate}`,
      verdict: value === null ? "no-data" : value <= p.burnRate ? "pass" : "fail",
      unit: "x",
    };
  });
  return {
    ...overall(checks),
    prometheus,
    selector: `slo="${slo.id}"`,
    window: slo.page.map((p) => `${p.long}&${p.short}`).join(", "),
    checks,
    queries,
  };
}
