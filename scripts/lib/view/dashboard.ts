/**
 * A Grafana dashboard JSON read as Grafana reads it: panels (nested rows
 * flattened), template variables, the time range of a `/d/<uid>?from=&to=`
 * URL, and each target's PromQL with its variables interpolated and the
 * query step Grafana would use. Bad input (unknown uid, a time range that
 * does not parse, a variable value that is not one of its label values) is a
 * BadRequest with one line, which the server turns into a 400.
 */
import { join } from "node:path";
import { repoPath } from "../paths.ts";

export class BadRequest extends Error {
  override name = "BadRequest";
}

// deno-lint-ignore no-explicit-any
export type Json = any;

export interface Dashboard {
  uid: string;
  title: string;
  file: string;
  doc: Json;
}

/** Every dashboard in `dir` (the import wrapper {dashboard: ...} tolerated), by uid. */
export function loadDashboards(dir = repoPath("dashboards")): Dashboard[] {
  const out: Dashboard[] = [];
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".json"))
      .map((e) => e.name).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      const raw = JSON.parse(Deno.readTextFileSync(join(dir, name)));
      const doc = raw.dashboard ?? raw;
      if (typeof doc.uid === "string" && Array.isArray(doc.panels)) {
        out.push({ uid: doc.uid, title: String(doc.title ?? doc.uid), file: name, doc });
      }
    } catch { /* a damaged file is not a dashboard; validate reports it */ }
  }
  return out;
}

/** Panels in layout order; a row's collapsed children follow it. */
export function flattenPanels(panels: Json[] | undefined): Json[] {
  const out: Json[] = [];
  for (const p of panels ?? []) {
    out.push(p);
    if (Array.isArray(p.panels)) out.push(...flattenPanels(p.panels));
  }
  return out;
}

// --- time ------------------------------------------------------------------

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  M: 30 * 86_400_000,
  y: 365 * 86_400_000,
};

/** A Grafana time expression: `now`, `now-1h`, `now-7d`, epoch milliseconds, or an ISO date. */
export function parseTime(raw: string, now: number, name: string): number {
  const s = raw.trim();
  const rel = /^now(?:([+-])(\d+)(ms|s|m|h|d|w|M|y))?$/.exec(s);
  if (rel) {
    if (!rel[1]) return now;
    const delta = Number(rel[2]) * UNIT_MS[rel[3]];
    return rel[1] === "-" ? now - delta : now + delta;
  }
  if (/^\d{10,14}$/.test(s)) return Number(s);
  if (/^\d{4}-\d\d-\d\d/.test(s)) {
    const t = Date.parse(s);
    if (!Number.isNaN(t)) return t;
  }
  throw new BadRequest(
    `bad time range: ${name}='${
      raw.slice(0, 40)
    }' (use now, now-1h, now-6h, or epoch milliseconds)`,
  );
}

export interface TimeRange {
  from: number;
  to: number;
  /** As given (for links): "now-1h". */
  rawFrom: string;
  rawTo: string;
}

export function timeRange(
  params: URLSearchParams,
  dflt: { from: string; to: string },
  now = Date.now(),
): TimeRange {
  const rawFrom = params.get("from") ?? dflt.from;
  const rawTo = params.get("to") ?? dflt.to;
  const from = parseTime(rawFrom, now, "from");
  const to = parseTime(rawTo, now, "to");
  if (from >= to) {
    throw new BadRequest(`bad time range: from (${rawFrom}) is not before to (${rawTo})`);
  }
  if (to - from > 400 * 86_400_000) throw new BadRequest("bad time range: longer than 400 days");
  return { from, to, rawFrom, rawTo };
}

/** Grafana duration text ("30s", "5m") in milliseconds; null when it does not parse. */
export function durationMs(raw: string): number | null {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
}

/** Seconds as a Prometheus duration ("15s", "1m", "90s"). */
export function promDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

const NICE_MS = [
  1,
  2,
  5,
  10,
  15,
  20,
  30,
  60,
  120,
  300,
  600,
  900,
  1200,
  1800,
  3600,
  7200,
  10800,
  21600,
  43200,
  86400,
].map((s) => s * 1000);

/**
 * Grafana's `$__interval`: the range over the panel's data points (its
 * width in pixels), rounded up to a round interval, never below the scrape
 * interval (Grafana's default minimum). `$__rate_interval` is
 * max(interval + scrape, 4 x scrape), as Grafana computes it.
 */
export function queryStep(
  range: TimeRange,
  maxDataPoints: number,
  scrapeMs: number,
): { stepMs: number; rateIntervalMs: number } {
  const raw = (range.to - range.from) / Math.max(1, maxDataPoints);
  const nice = NICE_MS.find((n) => n >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
  const stepMs = Math.max(nice, scrapeMs);
  return { stepMs, rateIntervalMs: Math.max(stepMs + scrapeMs, 4 * scrapeMs) };
}

// --- variables -------------------------------------------------------------

export interface Variable {
  name: string;
  label: string;
  type: string;
  multi: boolean;
  includeAll: boolean;
  allValue: string | null;
  /** The label_values(...) query, for query variables. */
  query: string | null;
  /** Options for custom variables. */
  custom: string[];
}

export function variables(doc: Json): Variable[] {
  return (doc.templating?.list ?? []).map((v: Json) => {
    const q = typeof v.query === "string" ? v.query : v.query?.query ?? null;
    return {
      name: String(v.name),
      label: String(v.label ?? v.name),
      type: String(v.type ?? "query"),
      multi: !!v.multi,
      includeAll: !!v.includeAll,
      allValue: v.allValue ?? null,
      query: v.type === "query" ? q : null,
      custom: v.type === "custom" && typeof v.query === "string"
        ? v.query.split(",").map((s: string) => s.trim()).filter(Boolean)
        : (v.options ?? []).map((o: Json) => String(o.value)),
    } as Variable;
  });
}

/** `label_values(metric{sel}, label)` or `label_values(label)`; null for other query forms. */
export function parseLabelValues(query: string): { match: string | null; label: string } | null {
  const m = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/.exec(query);
  return m ? { match: m[1] ?? null, label: m[2] } : null;
}

export const ALL = "$__all";

/** What the user chose for one variable: "All", or values that are all label values. */
export interface Selection {
  variable: Variable;
  all: boolean;
  values: string[];
  /** Every value Prometheus offered (for the picker). */
  options: string[];
}

/** A label value as an exact-match regex (Grafana's regex formatting of a variable). */
export function regexEscape(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** How a selection is written into PromQL: regex-formatted like Grafana does for multi/All. */
export function formatSelection(sel: Selection): string {
  if (sel.all) {
    return sel.variable.allValue ??
      (sel.options.length ? `(${sel.options.map(regexEscape).join("|")})` : ".*");
  }
  if (!sel.variable.multi && !sel.variable.includeAll) return sel.values[0] ?? "";
  if (sel.values.length === 1) return regexEscape(sel.values[0]);
  return `(${sel.values.map(regexEscape).join("|")})`;
}

export interface Interpolation {
  vars: Record<string, string>;
  range: TimeRange;
  stepMs: number;
  rateIntervalMs: number;
}

/**
 * A target's PromQL with Grafana's variables replaced: `$job`, `${job}`,
 * `${job:regex}`, `[[job]]`, `$__interval`, `$__rate_interval`, `$__range`
 * (and `_s`/`_ms`). Inside a PromQL string a value is escaped for it.
 */
export function interpolate(expr: string, ctx: Interpolation): string {
  const rangeMs = ctx.range.to - ctx.range.from;
  const builtins: Record<string, string> = {
    __interval: promDuration(ctx.stepMs),
    __interval_ms: String(ctx.stepMs),
    __rate_interval: promDuration(ctx.rateIntervalMs),
    __range: promDuration(rangeMs),
    __range_s: String(Math.round(rangeMs / 1000)),
    __range_ms: String(rangeMs),
  };
  return expr.replace(
    /\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)(?::[^\]]*)?\]\]/g,
    (whole, a, b, c) => {
      const name = a ?? b ?? c;
      if (name in builtins) return builtins[name];
      if (name in ctx.vars) {
        // Values are written inside "..." in the committed queries: escape for a PromQL string.
        return ctx.vars[name].replace(/\\/g, "\\\\").replace(/"/g, '\\"');
      }
      return whole;
    },
  );
}
