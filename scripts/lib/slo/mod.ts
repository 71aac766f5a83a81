// SLOs as code: config/slo.yaml → Sloth specs → rules/slo-rules.yaml, and every number derived
// from it.
// Used by `deno task slo`, the gate, the dashboard generator and validate's rule checks.
/**
 * SLOs as code. config/slo.yaml is the one source of truth; this module
 * reads it strictly, turns it into Sloth's prometheus/v1 specs (one per
 * service) plus an AlertWindows catalog holding the burn rates, runs the
 * real Sloth to generate rules/slo-rules.yaml, and derives everything else
 * that repeats an SLO number: the chapter's SLA alert thresholds (checked),
 * the dashboards' budget panels and the gate's page-level burn condition.
 *
 * Why a converter instead of writing Sloth's spec by hand: Sloth's spec is
 * per service and carries each number inside PromQL strings and alert
 * labels, so the SLA would again live in several places. Our file states
 * each objective once and for all services; the converter writes the
 * PromQL, the labels and the windows from it, and the same reader serves
 * the dashboards, the gate and the checks.
 */
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments, stringify } from "yaml";
import { CheckFailed, UsageError } from "../cli.ts";
import { repoPath } from "../paths.ts";
import { requireTool } from "../tools/mod.ts";

export const SLO_FILE = repoPath("config", "slo.yaml");
export const SLO_RULES_FILE = repoPath("rules", "slo-rules.yaml");

export type SloKind = "availability" | "latency";
export const SLO_KINDS: SloKind[] = ["availability", "latency"];

export interface BurnWindow {
  /** Multiple of the budget rate that spends exactly the whole budget in the period. */
  burnRate: number;
  long: string;
  short: string;
}

export interface SloConfig {
  period: string;
  objectives: {
    availability: { objective: number; description: string };
    latency: { objective: number; thresholdSeconds: number; description: string };
  };
  services: { name: string; description: string }[];
  alerting: {
    team: string;
    runbook: string;
    /** [quick, slow] each: Sloth's AlertWindows has exactly these four. */
    page: [BurnWindow, BurnWindow];
    ticket: [BurnWindow, BurnWindow];
  };
}

/** One SLO of one service, as Sloth names it (sloth_id = `<service>-<slo>`). */
export interface Slo {
  id: string;
  service: string;
  kind: SloKind;
  /** Percent, e.g. 99. */
  objective: number;
  /** 1 - objective/100, the error budget as a ratio. */
  budget: number;
  /** Sloth's alert name for this SLO (page and ticket share it; sloth_severity tells them apart). */
  alert: string;
  /** Error and total event queries with Sloth's `{{.window}}` placeholder. */
  errorQuery: string;
  totalQuery: string;
}

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;
const NAME = /^[a-z][a-z0-9-]*$/;

// deno-lint-ignore no-explicit-any
type Json = any;

function fail(where: string, msg: string): never {
  throw new UsageError(`${where}: ${msg}`);
}

function keys(where: string, v: Json, allowed: string[], required = allowed): void {
  if (!v || typeof v !== "object" || Array.isArray(v)) fail(where, "must be a mapping");
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) fail(where, `unknown key '${k}' (known: ${allowed.join(", ")})`);
  }
  for (const k of required) if (v[k] === undefined) fail(where, `'${k}' is required`);
}

function percent(where: string, v: Json): number {
  if (typeof v !== "number" || !(v > 0 && v < 100)) {
    fail(where, `must be a percentage between 0 and 100 (exclusive), got '${v}'`);
  }
  return v;
}

function duration(where: string, v: Json): string {
  if (typeof v !== "string" || !DURATION.test(v)) {
    fail(where, `must be a Prometheus duration like 5m or 30d, got '${v}'`);
  }
  return v;
}

function text(where: string, v: Json): string {
  if (typeof v !== "string" || v.trim() === "") fail(where, "must be a non-empty string");
  return v;
}

/** Seconds in a Prometheus duration (d = 24 h, w = 7 d, y = 365 d, as Prometheus counts). */
export function durationSeconds(d: string): number {
  const unit: Record<string, number> = {
    ms: 0.001,
    s: 1,
    m: 60,
    h: 3600,
    d: 86400,
    w: 604800,
    y: 31536000,
  };
  let total = 0;
  for (const m of d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * unit[m[2]];
  return total;
}

function windows(where: string, v: Json): [BurnWindow, BurnWindow] {
  if (!Array.isArray(v) || v.length !== 2) {
    fail(where, "needs exactly two windows: the quick one (short long window) and the slow one");
  }
  const out = v.map((w: Json, i: number) => {
    const at = `${where}[${i}]`;
    keys(at, w, ["burn_rate", "long", "short"]);
    if (typeof w.burn_rate !== "number" || !(w.burn_rate > 0)) {
      fail(`${at}.burn_rate`, `must be a number > 0, got '${w.burn_rate}'`);
    }
    const long = duration(`${at}.long`, w.long);
    const short = duration(`${at}.short`, w.short);
    if (durationSeconds(short) >= durationSeconds(long)) {
      fail(at, `the short window (${short}) must be shorter than the long one (${long})`);
    }
    return { burnRate: w.burn_rate, long, short };
  }) as [BurnWindow, BurnWindow];
  if (durationSeconds(out[0].long) >= durationSeconds(out[1].long)) {
    fail(where, "list the quick window (shorter long window) first");
  }
  return out;
}

/** Parses and checks config/slo.yaml's text (strict: unknown keys are errors). */
export function parseSloConfig(raw: string, where = "config/slo.yaml"): SloConfig {
  let doc: Json;
  try {
    doc = parseYaml(raw);
  } catch (err) {
    fail(where, `not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  keys(where, doc, ["period", "objectives", "services", "alerting"]);
  const period = duration(`${where}: period`, doc.period);
  keys(`${where}: objectives`, doc.objectives, SLO_KINDS);
  const av = doc.objectives.availability;
  keys(`${where}: objectives.availability`, av, ["objective", "description"]);
  const lat = doc.objectives.latency;
  keys(`${where}: objectives.latency`, lat, ["objective", "threshold_seconds", "description"]);
  if (typeof lat.threshold_seconds !== "number" || !(lat.threshold_seconds > 0)) {
    fail(`${where}: objectives.latency.threshold_seconds`, "must be a number of seconds > 0");
  }
  if (!Array.isArray(doc.services) || doc.services.length === 0) {
    fail(`${where}: services`, "must list at least one service");
  }
  const seen = new Set<string>();
  const services = doc.services.map((s: Json, i: number) => {
    const at = `${where}: services[${i}]`;
    keys(at, s, ["name", "description"]);
    if (typeof s.name !== "string" || !NAME.test(s.name)) {
      fail(`${at}.name`, `must be a Prometheus job name like platform-app, got '${s.name}'`);
    }
    if (seen.has(s.name)) fail(`${at}.name`, `'${s.name}' is listed twice`);
    seen.add(s.name);
    return { name: s.name, description: text(`${at}.description`, s.description) };
  });
  const al = doc.alerting;
  keys(`${where}: alerting`, al, ["team", "runbook", "windows"]);
  keys(`${where}: alerting.windows`, al.windows, ["page", "ticket"]);
  const cfg: SloConfig = {
    period,
    objectives: {
      availability: {
        objective: percent(`${where}: objectives.availability.objective`, av.objective),
        description: text(`${where}: objectives.availability.description`, av.description),
      },
      latency: {
        objective: percent(`${where}: objectives.latency.objective`, lat.objective),
        thresholdSeconds: lat.threshold_seconds,
        description: text(`${where}: objectives.latency.description`, lat.description),
      },
    },
    services,
    alerting: {
      team: text(`${where}: alerting.team`, al.team),
      runbook: text(`${where}: alerting.runbook`, al.runbook),
      page: windows(`${where}: alerting.windows.page`, al.windows.page),
      ticket: windows(`${where}: alerting.windows.ticket`, al.windows.ticket),
    },
  };
  for (const w of [...cfg.alerting.page, ...cfg.alerting.ticket]) {
    const pct = budgetPercent(cfg, w);
    if (pct > 100) {
      fail(
        `${where}: alerting.windows`,
        `burn rate ${w.burnRate} over ${w.long} spends ${pct}% of the ${period} budget`,
      );
    }
  }
  return cfg;
}

export function readSloConfig(path = SLO_FILE): SloConfig {
  let raw: string;
  try {
    raw = Deno.readTextFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message.split("\n")[0]}`);
  }
  return parseSloConfig(
    raw,
    path.startsWith(repoPath()) ? path.slice(repoPath().length + 1) : path,
  );
}

/** Percent of the period's budget a window spends at its burn rate (Sloth's errorBudgetPercent). */
export function budgetPercent(cfg: SloConfig, w: BurnWindow): number {
  const pct = w.burnRate * durationSeconds(w.long) / durationSeconds(cfg.period) * 100;
  // Sloth multiplies it back into the burn rate: keep the decimal a person wrote.
  return Number(pct.toPrecision(12));
}

/** A Prometheus label value / PromQL number as text (0.5, not 5e-1). */
function num(n: number): string {
  return String(Number(n.toPrecision(12)));
}

/** Alert name: PlatformAppAvailabilityBudgetBurn. */
function alertName(service: string, kind: SloKind): string {
  const camel = (s: string) => s.split("-").map((p) => p[0].toUpperCase() + p.slice(1)).join("");
  return `${camel(service)}${camel(kind)}BudgetBurn`;
}

/** Every SLO of every service, in file order. */
export function slos(cfg: SloConfig): Slo[] {
  const out: Slo[] = [];
  for (const s of cfg.services) {
    const sel = `job="${s.name}"`;
    for (const kind of SLO_KINDS) {
      const objective = cfg.objectives[kind].objective;
      const [errorQuery, totalQuery] = kind === "availability"
        ? [
          // No 5xx series at all means no errors, not "no data" (the ratio stays defined).
          `(sum(rate(http_requests_total{${sel},status=~"5.."}[{{.window}}])) or vector(0))`,
          `sum(rate(http_requests_total{${sel}}[{{.window}}]))`,
        ]
        : [
          `(sum(rate(http_request_duration_seconds_count{${sel}}[{{.window}}]))` +
          ` - sum(rate(http_request_duration_seconds_bucket{${sel},le="${
            num(cfg.objectives.latency.thresholdSeconds)
          }"}[{{.window}}])))`,
          `sum(rate(http_request_duration_seconds_count{${sel}}[{{.window}}]))`,
        ];
      out.push({
        id: `${s.name}-${kind}`,
        service: s.name,
        kind,
        objective,
        budget: Number((1 - objective / 100).toPrecision(12)),
        alert: alertName(s.name, kind),
        errorQuery,
        totalQuery,
      });
    }
  }
  return out;
}

export function findSlo(cfg: SloConfig, id: string): Slo {
  const all = slos(cfg);
  const slo = all.find((s) => s.id === id);
  if (!slo) {
    throw new UsageError(
      `no SLO '${id}' in config/slo.yaml (known: ${all.map((s) => s.id).join(", ")})`,
    );
  }
  return slo;
}

/** The error ratio of an SLO over a window, from its event queries (Sloth's SLI expression). */
export function errorRatioExpr(slo: Slo, window: string): string {
  const w = (q: string) => q.replaceAll("{{.window}}", window);
  return `(${w(slo.errorQuery)}) / (${w(slo.totalQuery)})`;
}

const DASHBOARD = "http://monitoring-grafana.monitoring.svc/d/obskit-sre";

/** Sloth prometheus/v1 specs, one per service. */
export function slothSpecs(cfg: SloConfig): Json[] {
  const all = slos(cfg);
  return cfg.services.map((s) => ({
    version: "prometheus/v1",
    service: s.name,
    labels: { team: cfg.alerting.team },
    slos: all.filter((o) => o.service === s.name).map((o) => {
      const human = o.kind === "availability"
        ? `${num(o.objective)}% of requests without a 5xx`
        : `${num(o.objective)}% of requests within ${
          num(cfg.objectives.latency.thresholdSeconds)
        }s`;
      return {
        name: o.kind,
        objective: o.objective,
        description: cfg.objectives[o.kind].description,
        sli: { events: { error_query: o.errorQuery, total_query: o.totalQuery } },
        alerting: {
          name: o.alert,
          labels: { team: cfg.alerting.team, slo: o.kind },
          annotations: {
            summary: `{{ $labels.sloth_service }}: ${o.kind} SLO error budget burns too fast`,
            description:
              `${s.name}'s ${o.kind} SLO (${human} over ${cfg.period}) is burning its error budget faster than its alert windows allow.`,
            runbook: cfg.alerting.runbook,
            dashboard: `${DASHBOARD}?var-job=${s.name}`,
            action:
              `Find what changed (deploys, dependencies); roll back or shed load. Budget: slo:period_error_budget_remaining:ratio{sloth_id="${o.id}"}`,
          },
          page_alert: {
            labels: { severity: "critical" },
            annotations: {
              escalate: "Page the SRE on-call: at this rate the budget is gone within days.",
            },
          },
          ticket_alert: { labels: { severity: "warning" } },
        },
      };
    }),
  }));
}

/** Sloth's AlertWindows catalog for the period (replaces its built-in 28d/30d ones). */
export function slothWindows(cfg: SloConfig): Json {
  const w = (x: BurnWindow) => ({
    errorBudgetPercent: budgetPercent(cfg, x),
    shortWindow: x.short,
    longWindow: x.long,
  });
  return {
    apiVersion: "sloth.slok.dev/v1",
    kind: "AlertWindows",
    spec: {
      sloPeriod: cfg.period,
      page: { quick: w(cfg.alerting.page[0]), slow: w(cfg.alerting.page[1]) },
      ticket: { quick: w(cfg.alerting.ticket[0]), slow: w(cfg.alerting.ticket[1]) },
    },
  };
}

/** The Sloth spec file's text (multi-document YAML), as `sloth generate -i` reads it. */
export function slothSpecText(cfg: SloConfig): string {
  return slothSpecs(cfg).map((s) => stringify(s, { lineWidth: 0 })).join("---\n");
}

const HEADER = [
  "# Generated by 'deno task slo' from config/slo.yaml with Sloth; do not edit by hand.",
  "# Per SLO: the error ratio over every alert window (slo:sli_error:ratio_rate*), the",
  "# error budget and burn-rate recordings (slo:*), and the multiwindow multi-burn-rate",
  "# alerts (sloth_severity page: critical, ticket: warning). Check: deno task slo --check",
];

/**
 * Runs Sloth on the converted spec and returns rules/slo-rules.yaml's text:
 * Sloth writes one YAML document per service; Prometheus wants one `groups:`.
 */
export async function generateSloRules(
  cfg: SloConfig,
  sloth = requireTool("sloth"),
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "obskit-sloth-" });
  try {
    const spec = join(dir, "slo-spec.yaml");
    const windowsDir = join(dir, "windows");
    await Deno.mkdir(windowsDir);
    await Deno.writeTextFile(spec, slothSpecText(cfg));
    await Deno.writeTextFile(join(windowsDir, `${cfg.period}.yaml`), stringify(slothWindows(cfg)));
    const out = await new Deno.Command(sloth, {
      args: [
        "generate",
        "--input",
        spec,
        // --out defaults to stdout (kingpin reads a separate "-" argument as empty).
        "--default-slo-period",
        cfg.period,
        "--slo-period-windows-path",
        windowsDir,
        "--no-log",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (!out.success) {
      const err = dec.decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      throw new CheckFailed(`sloth generate failed (exit ${out.code}): ${err}`);
    }
    const groups: Json[] = [];
    for (const d of parseAllDocuments(dec.decode(out.stdout))) {
      if (d.errors.length) {
        throw new CheckFailed(`sloth's output is not YAML: ${d.errors[0].message}`);
      }
      const js = d.toJS();
      if (js?.groups) groups.push(...js.groups);
    }
    if (groups.length === 0) throw new CheckFailed("sloth generated no rule groups");
    return HEADER.join("\n") + "\n" + stringify({ groups }, { lineWidth: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// The chapter's SLA alerts: their thresholds must be the spec's numbers.

export interface ThresholdCheck {
  alert: string;
  expected: string;
  found: string | null;
}

/**
 * SLAViolation (availability below the objective), ServiceDegraded (error
 * ratio above the budget) and HighP95Latency (p95 above the threshold) in
 * rules/alert-rules.yaml, compared with config/slo.yaml. Returns the drifts.
 */
export function slaThresholdDrift(cfg: SloConfig, alertRulesText: string): ThresholdCheck[] {
  const doc = parseYaml(alertRulesText) as Json;
  const rules: Json[] = (doc?.groups ?? []).flatMap((g: Json) => g?.rules ?? []);
  const byName = (n: string) => rules.find((r) => r?.alert === n);
  const av = cfg.objectives.availability.objective;
  const budget = Number((1 - av / 100).toPrecision(12));
  const thr = cfg.objectives.latency.thresholdSeconds;
  const wanted: { alert: string; op: string; value: number; text: RegExp[] }[] = [
    {
      alert: "SLAViolation",
      op: "<",
      value: av,
      text: [new RegExp(`\\b${num(av).replace(".", "\\.")}% SLA\\b`), new RegExp(`${num(av)}%`)],
    },
    {
      alert: "ServiceDegraded",
      op: ">",
      value: budget,
      text: [new RegExp(`${num(budget * 100)}%`)],
    },
    {
      alert: "HighP95Latency",
      op: ">",
      value: thr,
      text: [new RegExp(`${num(thr * 1000)}ms`)],
    },
  ];
  const drift: ThresholdCheck[] = [];
  for (const w of wanted) {
    const r = byName(w.alert);
    const expected = `${w.op} ${num(w.value)}`;
    if (!r) {
      drift.push({ alert: w.alert, expected, found: null });
      continue;
    }
    const m = new RegExp(`\\)?\\s*${w.op === "<" ? "<" : ">"}\\s*([0-9.]+)\\s*$`).exec(
      String(r.expr).trim(),
    );
    const found = m ? `${w.op} ${num(Number(m[1]))}` : null;
    if (found !== expected) drift.push({ alert: w.alert, expected, found });
    const words = `${r.annotations?.summary ?? ""} ${r.annotations?.description ?? ""}`;
    for (const t of w.text) {
      if (!t.test(words)) {
        drift.push({
          alert: w.alert,
          expected: `annotations say ${t.source}`,
          found: words.trim(),
        });
      }
    }
  }
  return drift;
}
