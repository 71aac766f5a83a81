// Benchmarks: what instrumentation costs per request, and how good the load generator is.
// Used by `deno task bench` (scripts/bench.ts); bench_procs.ts starts the measured processes,
// bench_wrk.ts drives wrk.
/**
 * Every case measures side by side in one run: app variants are started once
 * and kept running, and each round drives them in turn (the order reversed
 * every other round, A B B A), so slow drift of a shared machine hits every
 * variant alike; figures are medians over rounds.
 *
 * Timing never fails the run: the exit code says only whether it could run.
 */
import { join } from "node:path";
import { freePort } from "../net.ts";
import { REPO_ROOT } from "../paths.ts";
import {
  type AppVariant,
  type BenchStack,
  cpuCount,
  machineCpuMs,
  processCpuMs,
  type RunningApp,
  startApp,
  startBenchStack,
  startSinkCollector,
} from "./bench_procs.ts";
import { findWrk, runWrk, type WrkResult } from "./bench_wrk.ts";
import { findOha, ohaFailures, runOha } from "./bench_oha.ts";
import { readProc } from "../process.ts";

export const CASES = ["overhead", "latency", "loadgen", "scrape", "startup"] as const;
export type CaseName = typeof CASES[number];

export interface BenchOptions {
  cases: CaseName[];
  /** A/B rounds per case. */
  rounds: number;
  /** Seconds per wrk or load-generator run. */
  durationS: number;
  /** Seconds of wrk load given to each app before measuring (JIT warm-up). */
  warmupS: number;
  connections: number;
  threads: number;
  /** Request path for throughput cases. */
  path: string;
  /**
   * "stack": start a private collector + Jaeger + VictoriaLogs; "sink": a private collector
   * that only decodes (bench_procs.ts startSinkCollector); "none": export to a closed
   * port; else an OTLP/HTTP URL.
   */
  collector: "stack" | "sink" | "none" | string;
  /** Variants for the overhead case beyond off/on (names from VARIANT_NAMES). */
  variants: string[];
  /** Another checkout's apps/instrument_app.ts: adds its off/on as variants "off@compare", "on@compare". */
  compareApp?: string;
  /** Series on /metrics for the scrape case. */
  series: number;
  /** Load-generator accuracy check rate. */
  loadgenRate: number;
  /** Startup case: runs per command after the cold one. */
  startupRuns: number;
  /** Where state (private stack) goes. */
  workDir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
}

// ---------------------------------------------------------------- statistics

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** (max - min) / median, as a fraction: how much rounds disagreed. */
export function spread(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length < 2) return 0;
  const m = median(v);
  return m ? (Math.max(...v) - Math.min(...v)) / m : 0;
}

/** Round r's order: forward on even rounds, reversed on odd (A B, B A, ...). */
export function roundOrder<T>(items: T[], round: number): T[] {
  return round % 2 === 0 ? [...items] : [...items].reverse();
}

export function round(n: number, digits = 2): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------- variants

const SAMPLER = "parentbased_traceidratio";

/**
 * The variants the overhead case knows; `bare`, `off` and `on` always run.
 *
 * Why "deno-otel" is Deno's OTel on the *bare* server, and why the issue's
 * 0.25 (of bare, measured by hand) and the bench's old 0.218 (of off)
 * disagree: they are different numerators over different denominators. The
 * old variant ("deno-otel-app", kept to show this) ran Deno's OTel on *our*
 * app with its instrumentation off, so it paid all of off's app code (~0.5 of
 * bare's throughput on its own) and more: with OTEL_DENO=true Deno installs
 * its tracer as @opentelemetry/api's global provider, so the app's
 * `trace.getTracer("noop")` is no longer a no-op: the cache.lookup/db.query
 * child spans and the order.completed event of every request become real,
 * exported spans (three spans a request where bare Hono has one). Dividing
 * that by off (itself ~0.5 of bare) gave 0.218; dividing Deno's OTel on bare
 * Hono by bare Hono gives the issue's 0.25. Run
 * `--variant deno-otel --variant deno-otel-app` to see both in one run.
 */
export function knownVariants(endpoint: string, deadEndpoint: string): Record<string, AppVariant> {
  const on = (name: string, description: string, env: Record<string, string> = {}) => ({
    name,
    description,
    instrumentation: "on" as const,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...env },
  });
  const denoOtel = {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  };
  return {
    bare: {
      name: "bare",
      description: "bare Hono on Deno.serve, same JSON, no app code (baseline)",
      instrumentation: "off",
      server: "bare",
    },
    off: {
      name: "off",
      description: "our Hono app, instrumentation off",
      instrumentation: "off",
    },
    on: on("on", "traces 100 %, metrics, logs; OTLP/HTTP protobuf to the collector"),
    json: on("json", "as on, OTLP/HTTP JSON instead of protobuf", {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    }),
    "sample-10": on("sample-10", "as on, 10 % of traces sampled", {
      OTEL_TRACES_SAMPLER: SAMPLER,
      OTEL_TRACES_SAMPLER_ARG: "0.1",
    }),
    "sample-0": on("sample-0", "as on, 0 % sampled (spans created, none exported)", {
      OTEL_TRACES_SAMPLER: SAMPLER,
      OTEL_TRACES_SAMPLER_ARG: "0",
    }),
    "collector-down": {
      ...on("collector-down", "as on, nothing listening at the OTLP endpoint"),
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: deadEndpoint },
    },
    "deno-otel": {
      name: "deno-otel",
      description:
        "peer: Deno's built-in OpenTelemetry on bare Hono (OTEL_DENO=true: Deno.serve spans and metrics, OTLP protobuf to the same collector)",
      instrumentation: "off",
      server: "bare",
      env: { ...denoOtel, OTEL_SERVICE_NAME: "bare-hono" },
    },
    floor: {
      name: "floor",
      description:
        "reference: the app's per-request telemetry written by hand without the OTel SDK (spans, event, log line, request metrics, traceparent; OTLP protobuf to the same collector): the least in-process instrumentation costs on this runtime",
      instrumentation: "off",
      server: "floor",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
    },
    "deno-otel-app": {
      name: "deno-otel-app",
      description:
        "Deno's built-in OpenTelemetry on our app with its instrumentation off (the old peer variant: app code included)",
      instrumentation: "off",
      env: { ...denoOtel, OTEL_SERVICE_NAME: "platform-app" },
    },
  };
}

/** Variants besides bare/off/on run when --variant is not given. */
export const DEFAULT_EXTRA_VARIANTS = [
  "json",
  "sample-10",
  "sample-0",
  "collector-down",
  "deno-otel",
  "floor",
];

/** Variants that always run: the two baselines and the instrumented app. */
export const BASE_VARIANTS = ["bare", "off", "on"];

/**
 * Variants the latency case drives as well when they were asked for: the
 * floor shows how much of on's tail any in-process telemetry pays.
 */
const LATENCY_REFERENCES = ["floor"];

// ---------------------------------------------------------------- results

export interface ThroughputRun {
  variant: string;
  round: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /**
   * Spans and log lines the app dropped during the run (app_telemetry_dropped_total
   * on its /metrics): a variant that sheds telemetry under load would look faster.
   * Null for servers without it (bare Hono, Deno's own OTel).
   */
  telemetryDropped: number | null;
  /** App process CPU per request, microseconds. */
  appCpuUsPerReq: number | null;
  /** Collector process CPU per request, microseconds. */
  collectorCpuUsPerReq: number | null;
  /** Machine busy share not explained by app, collector, Jaeger, VictoriaLogs and wrk (other people's work). */
  othersBusyPct: number;
}

export interface VariantSummary {
  variant: string;
  description: string;
  runs: number;
  rps: number;
  rpsSpreadPct: number;
  p50Ms: number;
  p99Ms: number;
  /** Median over rounds of this variant's rps / bare Hono's rps in the same round. */
  ratioToBare: number | null;
  /** Median over rounds of this variant's rps / off's rps in the same round. */
  ratioToOff: number | null;
  appCpuUsPerReq: number | null;
  /** Median over rounds of this variant's app CPU µs/request minus bare's in the same round. */
  addedCpuUsVsBare: number | null;
  /** The same against off. */
  addedCpuUsVsOff: number | null;
  collectorCpuUsPerReq: number | null;
  errors: number;
  /** Telemetry the app dropped, summed over rounds (null: the server does not count it). */
  telemetryDropped: number | null;
}

export interface LatencyRunSummary {
  variant: string;
  /** Answers per second oha got (should be the offered rate). */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** Transport errors and non-2xx answers, summed over rounds. */
  failures: number;
}

export interface LatencyCaseResult {
  /** The generator: oha's path and version. */
  generator: string;
  /** The instrumented app's saturation rate (closed-model wrk), requests/s. */
  saturationRps: number;
  /** Where saturationRps came from: the overhead case's median for "on", or its own wrk run. */
  saturationFrom: "overhead" | "wrk";
  /** Offered rate: half of saturationRps, the same for every variant. */
  rate: number;
  connections: number;
  durationS: number;
  runs: (LatencyRunSummary & { round: number; abortedAtDeadline: number })[];
  /** Medians over rounds per variant (bare, off, on). */
  summary: LatencyRunSummary[];
  /** on minus bare and on minus off, from the medians, ms. */
  added: {
    vsBare: { p50Ms: number; p99Ms: number };
    vsOff: { p50Ms: number; p99Ms: number };
  };
  /** oha got within 2 % of the offered rate in every run, with no failures. */
  generatorKeptUp: boolean;
}

export interface LoadgenCaseResult {
  targetRate: number;
  runs: {
    round: number;
    achievedRate: number;
    errorPct: number;
    p50Ms: number;
    p99Ms: number;
    dropped: number;
  }[];
  achievedRate: number;
  rateErrorPct: number;
  p50Ms: number;
  p99Ms: number;
  wrk: { connections: number; rps: number; p50Ms: number; p99Ms: number };
  ramp: {
    rate: number;
    achievedRate: number;
    dropped: number;
    errors: number;
    p99Ms: number;
    ok: boolean;
  }[];
  maxSustainableRate: number;
  wrkSaturationRps: number;
}

export interface ScrapeCaseResult {
  seriesRequested: number;
  seriesExposed: number;
  bytes: number;
  scrapes: number;
  httpMs: { p50: number; p90: number; max: number };
  renderMs: { p50: number };
}

export interface StartupCaseResult {
  rows: { command: string; coldMs: number; warmMs: number; warmRuns: number }[];
  coldMeaning: string;
}

export interface BenchResult {
  startedAt: string;
  finishedAt?: string;
  machine: Record<string, string | number>;
  options: Omit<BenchOptions, "log" | "signal">;
  collector: string;
  overhead?: { runs: ThroughputRun[]; summary: VariantSummary[]; othersBusyPct: number };
  latency?: LatencyCaseResult;
  loadgen?: LoadgenCaseResult;
  scrape?: ScrapeCaseResult;
  startup?: StartupCaseResult;
  skipped: { case: string; reason: string }[];
  notes: string[];
}

// ---------------------------------------------------------------- machine

export async function machineInfo(): Promise<Record<string, string | number>> {
  const info: Record<string, string | number> = {
    cores: cpuCount(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
  const cpu = await readProc("/proc/cpuinfo");
  if (cpu) info.cpu = /model name\s*:\s*(.*)/.exec(cpu)?.[1]?.trim() ?? "unknown";
  const mem = await readProc("/proc/meminfo");
  if (mem) info.memoryGiB = round(Number(/MemTotal:\s*(\d+)/.exec(mem)?.[1] ?? 0) / 1024 ** 2, 1);
  const load = await readProc("/proc/loadavg");
  if (load) info.loadavg = load.split(" ").slice(0, 3).join(" ");
  try {
    const out = await new Deno.Command("dpkg-query", {
      args: ["-W", "-f=${Version}", "wrk"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) info.wrk = new TextDecoder().decode(out.stdout);
  } catch { /* no dpkg */ }
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) info.commit = new TextDecoder().decode(out.stdout).trim();
  } catch { /* no git */ }
  return info;
}

// ---------------------------------------------------------------- measuring one wrk run

interface Watched {
  cpuMs(): Promise<number | null>;
}

/** Runs wrk against one app, measuring CPU of the app, collector and machine meanwhile. */
async function measuredWrk(
  app: RunningApp,
  opts: BenchOptions,
  others: { collector?: Watched; backends?: Watched },
  durationS = opts.durationS,
  connections = opts.connections,
): Promise<
  { wrk: WrkResult; appCpuMs: number; collectorCpuMs: number | null; othersBusyPct: number }
> {
  const a0 = await app.cpuMs() ?? 0;
  const c0 = await others.collector?.cpuMs() ?? null;
  const b0 = await others.backends?.cpuMs() ?? 0;
  const m0 = await machineCpuMs();
  const wrk = await runWrk({
    url: app.url + opts.path,
    connections,
    threads: opts.threads,
    durationS,
    signal: opts.signal,
    cpuOf: processCpuMs,
  });
  const m1 = await machineCpuMs();
  const appCpuMs = (await app.cpuMs() ?? a0) - a0;
  const c1 = await others.collector?.cpuMs() ?? null;
  const collectorCpuMs = c0 !== null && c1 !== null ? c1 - c0 : null;
  const backendsMs = (await others.backends?.cpuMs() ?? b0) - b0;
  // wrk's CPU is sampled while it runs (the last ~200 ms are missed); without a
  // sample, assume it kept its threads busy.
  const wrkMs = wrk.cpuMs ?? Math.min(opts.threads, cpuCount()) * durationS * 1000;
  const totalMs = m1.total - m0.total;
  const othersMs = (m1.busy - m0.busy) - appCpuMs - (collectorCpuMs ?? 0) - backendsMs - wrkMs;
  return {
    wrk,
    appCpuMs,
    collectorCpuMs,
    othersBusyPct: totalMs > 0 ? Math.max(0, (100 * othersMs) / totalMs) : 0,
  };
}

// ---------------------------------------------------------------- overhead case

/**
 * Medians per variant. Ratios and added CPU pair each run with the baseline's
 * run of the same round (both ran minutes apart at most), so drift of the
 * shared machine between rounds cancels out instead of widening the figure.
 */
export function summarizeThroughput(
  runs: ThroughputRun[],
  variants: AppVariant[],
): VariantSummary[] {
  const paired = (
    mine: ThroughputRun[],
    base: string,
    f: (r: ThroughputRun, b: ThroughputRun) => number,
  ) =>
    median(mine.map((r) => {
      const b = runs.find((o) => o.variant === base && o.round === r.round);
      return b ? f(r, b) : NaN;
    }));
  const ratio = (r: ThroughputRun, b: ThroughputRun) => (b.rps > 0 ? r.rps / b.rps : NaN);
  const added = (r: ThroughputRun, b: ThroughputRun) =>
    r.appCpuUsPerReq !== null && b.appCpuUsPerReq !== null
      ? r.appCpuUsPerReq - b.appCpuUsPerReq
      : NaN;
  return variants.map((v) => {
    const mine = runs.filter((r) => r.variant === v.name);
    const cpu = mine.map((r) => r.appCpuUsPerReq ?? NaN);
    const coll = mine.map((r) => r.collectorCpuUsPerReq ?? NaN);
    return {
      variant: v.name,
      description: v.description,
      runs: mine.length,
      rps: round(median(mine.map((r) => r.rps)), 0),
      rpsSpreadPct: round(100 * spread(mine.map((r) => r.rps)), 1),
      p50Ms: round(median(mine.map((r) => r.p50Ms)), 3),
      p99Ms: round(median(mine.map((r) => r.p99Ms)), 3),
      ratioToBare: v.name === "bare" ? 1 : nullIfNaN(round(paired(mine, "bare", ratio), 3)),
      ratioToOff: v.name === "off" ? 1 : nullIfNaN(round(paired(mine, "off", ratio), 3)),
      appCpuUsPerReq: nullIfNaN(round(median(cpu), 1)),
      addedCpuUsVsBare: v.name === "bare" ? 0 : nullIfNaN(round(paired(mine, "bare", added), 1)),
      addedCpuUsVsOff: v.name === "off" ? 0 : nullIfNaN(round(paired(mine, "off", added), 1)),
      collectorCpuUsPerReq: nullIfNaN(round(median(coll), 1)),
      errors: mine.reduce((a, r) => a + r.errors, 0),
      telemetryDropped: mine.some((r) => r.telemetryDropped === null)
        ? null
        : mine.reduce((a, r) => a + r.telemetryDropped!, 0),
    };
  });
}

/** The app's app_telemetry_dropped_total, all signals and reasons; null without a /metrics. */
export async function telemetryDropped(appUrl: string): Promise<number | null> {
  try {
    const res = await fetch(`${appUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (!res.ok) return null;
    let total = 0, seen = false;
    for (const line of text.split("\n")) {
      if (!line.startsWith("app_telemetry_dropped_total")) continue;
      seen = true;
      total += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
    }
    return seen ? total : null;
  } catch {
    return null;
  }
}

function nullIfNaN(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

async function runOverhead(
  opts: BenchOptions,
  apps: RunningApp[],
  stack: BenchStack | null,
): Promise<NonNullable<BenchResult["overhead"]>> {
  const runs: ThroughputRun[] = [];
  const collector = stack ? { cpuMs: () => processCpuMs(stack.collectorPid) } : undefined;
  const backendPids = stack?.backendPids ?? [];
  const backends = backendPids.length
    ? {
      cpuMs: async () => {
        let total = 0;
        for (const pid of backendPids) total += await processCpuMs(pid) ?? 0;
        return total;
      },
    }
    : undefined;
  for (let r = 0; r < opts.rounds; r++) {
    for (const app of roundOrder(apps, r)) {
      opts.signal?.throwIfAborted();
      const droppedBefore = await telemetryDropped(app.url);
      const m = await measuredWrk(app, opts, { collector, backends });
      const droppedAfter = await telemetryDropped(app.url);
      const n = m.wrk.requests;
      const run: ThroughputRun = {
        variant: app.variant.name,
        round: r,
        rps: round(m.wrk.rps, 1),
        p50Ms: round(m.wrk.latencyMs.p50, 3),
        p99Ms: round(m.wrk.latencyMs.p99, 3),
        errors: m.wrk.errors.connect + m.wrk.errors.read + m.wrk.errors.write +
          m.wrk.errors.timeout + m.wrk.errors.non2xx3xx,
        telemetryDropped: droppedBefore === null || droppedAfter === null
          ? null
          : droppedAfter - droppedBefore,
        appCpuUsPerReq: n > 0 ? round((1000 * m.appCpuMs) / n, 1) : null,
        collectorCpuUsPerReq: n > 0 && m.collectorCpuMs !== null
          ? round((1000 * m.collectorCpuMs) / n, 1)
          : null,
        othersBusyPct: round(m.othersBusyPct, 1),
      };
      runs.push(run);
      opts.log(
        `  round ${r + 1}/${opts.rounds} ${app.variant.name.padEnd(15)} ${
          String(Math.round(run.rps)).padStart(6)
        } rps  p50 ${run.p50Ms.toFixed(2)}ms  p99 ${run.p99Ms.toFixed(2)}ms  app ${
          run.appCpuUsPerReq ?? "-"
        } µs/req  others busy ${run.othersBusyPct}%`,
      );
    }
  }
  return {
    runs,
    summary: summarizeThroughput(runs, apps.map((a) => a.variant)),
    othersBusyPct: round(median(runs.map((r) => r.othersBusyPct)), 1),
  };
}

// ---------------------------------------------------------------- load generator runs

export interface LoadgenRun {
  achievedRate: number;
  offeredRate: number;
  sent: number;
  dropped: number;
  errors: number;
  late: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs scripts/load.ts (the project's generator) as its own process, as a user would. */
export async function runLoadgen(
  target: string,
  rate: number,
  durationS: number,
  path: string,
  signal?: AbortSignal,
): Promise<LoadgenRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read=.",
      join(REPO_ROOT, "scripts", "load.ts"),
      "--target",
      target,
      "--rate",
      String(rate),
      "--duration",
      `${durationS}s`,
      "--path",
      path,
      "--json",
      "--quiet",
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  let r;
  try {
    r = JSON.parse(text);
  } catch {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").pop();
    throw new Error(`load generator gave no JSON (exit ${out.code}): ${err ?? ""}`);
  }
  return {
    achievedRate: r.achievedRate,
    offeredRate: r.offeredRate,
    sent: r.sent,
    dropped: r.dropped,
    errors: r.errors,
    late: r.late,
    p50Ms: r.latencyMs?.p50 ?? NaN,
    p99Ms: r.latencyMs?.p99 ?? NaN,
  };
}

/** Reached the rate: achieved within 1 % of the target, nothing dropped, no errors. */
export function sustained(run: LoadgenRun, rate: number): boolean {
  return run.achievedRate >= 0.99 * rate && run.dropped === 0 && run.errors === 0;
}

/** "on minus base" for p50 and p99 from the per-variant medians. */
export function latencyAdded(
  summary: LatencyRunSummary[],
  base: string,
  variant = "on",
): { p50Ms: number; p99Ms: number } {
  const v = summary.find((x) => x.variant === variant);
  const b = summary.find((x) => x.variant === base);
  return {
    p50Ms: v && b ? round(v.p50Ms - b.p50Ms, 3) : NaN,
    p99Ms: v && b ? round(v.p99Ms - b.p99Ms, 3) : NaN,
  };
}

/** Medians per variant over the latency runs. */
export function summarizeLatency(
  runs: LatencyCaseResult["runs"],
  variants: string[],
): LatencyRunSummary[] {
  return variants.map((variant) => {
    const mine = runs.filter((x) => x.variant === variant);
    return {
      variant,
      rps: round(median(mine.map((x) => x.rps)), 0),
      p50Ms: round(median(mine.map((x) => x.p50Ms)), 3),
      p99Ms: round(median(mine.map((x) => x.p99Ms)), 3),
      p999Ms: round(median(mine.map((x) => x.p999Ms)), 3),
      failures: mine.reduce((a, x) => a + x.failures, 0),
    };
  });
}

/**
 * Latency at a fixed rate: half of the instrumented app's saturation, offered
 * by oha (open model, latency corrected for coordinated omission) to bare,
 * off and on alike, rounds alternated. Keep-alive stays on, as behind a proxy.
 */
async function runLatency(
  opts: BenchOptions,
  apps: RunningApp[],
  oha: string,
  saturationRps: number,
  saturationFrom: "overhead" | "wrk",
): Promise<LatencyCaseResult> {
  const rate = Math.max(1, Math.round(saturationRps / 2));
  // Enough connections that a request never waits for a free one at this rate
  // unless the server stalls (and then the correction charges the stall).
  const connections = Math.max(opts.connections, 8);
  const runs: LatencyCaseResult["runs"] = [];
  for (let r = 0; r < opts.rounds; r++) {
    for (const app of roundOrder(apps, r)) {
      opts.signal?.throwIfAborted();
      const o = await runOha({
        url: app.url + opts.path,
        rate,
        durationS: opts.durationS,
        connections,
        signal: opts.signal,
      }, oha);
      const run = {
        variant: app.variant.name,
        round: r,
        rps: round(o.rps, 1),
        p50Ms: round(o.latencyMs.p50, 3),
        p99Ms: round(o.latencyMs.p99, 3),
        p999Ms: round(o.latencyMs.p999, 3),
        failures: ohaFailures(o),
        abortedAtDeadline: o.abortedAtDeadline,
      };
      runs.push(run);
      opts.log(
        `  round ${r + 1}/${opts.rounds} ${app.variant.name.padEnd(4)} at ${rate}/s: ${
          run.rps.toFixed(0)
        }/s  p50 ${run.p50Ms.toFixed(3)}ms  p99 ${
          run.p99Ms.toFixed(3)
        }ms  failures ${run.failures}`,
      );
    }
  }
  const summary = summarizeLatency(runs, apps.map((a) => a.variant.name));
  return {
    generator: `${oha} ${await ohaVersion(oha)}`.trim(),
    saturationRps: round(saturationRps, 0),
    saturationFrom,
    rate,
    connections,
    durationS: opts.durationS,
    runs,
    summary,
    added: { vsBare: latencyAdded(summary, "bare"), vsOff: latencyAdded(summary, "off") },
    generatorKeptUp: runs.every((x) => x.rps >= 0.98 * rate && x.failures === 0),
  };
}

async function ohaVersion(oha: string): Promise<string> {
  try {
    const out = await new Deno.Command(oha, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return new TextDecoder().decode(out.stdout).trim().replace(/^oha\s*/, "");
  } catch {
    return "";
  }
}

async function runLoadgenCase(
  opts: BenchOptions,
  off: RunningApp,
  wrkSaturationRps: number | null,
): Promise<LoadgenCaseResult> {
  const target = opts.loadgenRate;
  const runs: LoadgenCaseResult["runs"] = [];
  for (let r = 0; r < opts.rounds; r++) {
    opts.signal?.throwIfAborted();
    const g = await runLoadgen(off.url, target, opts.durationS, opts.path, opts.signal);
    const errorPct = round((100 * (g.achievedRate - target)) / target, 3);
    runs.push({
      round: r,
      achievedRate: g.achievedRate,
      errorPct,
      p50Ms: g.p50Ms,
      p99Ms: g.p99Ms,
      dropped: g.dropped,
    });
    opts.log(
      `  round ${r + 1}/${opts.rounds} generator at ${target}/s: achieved ${
        g.achievedRate.toFixed(1)
      }/s (${errorPct >= 0 ? "+" : ""}${errorPct}%)  p50 ${g.p50Ms.toFixed(2)}ms  p99 ${
        g.p99Ms.toFixed(2)
      }ms`,
    );
  }
  // wrk cannot hold a rate (Debian has no wrk2): its latency with one connection
  // (never more than one request in flight) is the comparison.
  const w = await runWrk({
    url: off.url + opts.path,
    connections: 1,
    threads: 1,
    durationS: opts.durationS,
    signal: opts.signal,
  });
  opts.log(
    `  wrk -c1: ${w.rps.toFixed(0)} rps  p50 ${w.latencyMs.p50.toFixed(2)}ms  p99 ${
      w.latencyMs.p99.toFixed(2)
    }ms`,
  );
  let saturation = wrkSaturationRps;
  if (saturation === null) {
    const s = await runWrk({
      url: off.url + opts.path,
      connections: opts.connections,
      threads: opts.threads,
      durationS: opts.durationS,
      signal: opts.signal,
    });
    saturation = s.rps;
  }
  // Ramp: x1.5 per step from the accuracy rate until the generator falls short,
  // then bisect twice between the last good and the first bad rate.
  const ramp: LoadgenCaseResult["ramp"] = [];
  const rampS = Math.max(2, Math.min(3, opts.durationS));
  const tryRate = async (rate: number) => {
    opts.signal?.throwIfAborted();
    const g = await runLoadgen(off.url, rate, rampS, opts.path, opts.signal);
    const ok = sustained(g, rate);
    ramp.push({
      rate,
      achievedRate: g.achievedRate,
      dropped: g.dropped,
      errors: g.errors,
      p99Ms: g.p99Ms,
      ok,
    });
    opts.log(
      `  ramp ${rate}/s: achieved ${
        g.achievedRate.toFixed(0)
      }/s dropped ${g.dropped} errors ${g.errors} p99 ${g.p99Ms.toFixed(1)}ms ${
        ok ? "ok" : "falls short"
      }`,
    );
    return ok;
  };
  let good = 0;
  let bad = 0;
  for (let rate = target; rate <= 100_000; rate = Math.round(rate * 1.5 / 100) * 100) {
    if (await tryRate(rate)) good = rate;
    else {
      bad = rate;
      break;
    }
  }
  for (let i = 0; i < 2 && good && bad && bad - good > 200; i++) {
    const mid = Math.round((good + bad) / 2 / 100) * 100;
    if (await tryRate(mid)) good = mid;
    else bad = mid;
  }
  return {
    targetRate: target,
    runs,
    achievedRate: round(median(runs.map((r) => r.achievedRate)), 2),
    rateErrorPct: round(median(runs.map((r) => r.errorPct)), 3),
    p50Ms: round(median(runs.map((r) => r.p50Ms)), 3),
    p99Ms: round(median(runs.map((r) => r.p99Ms)), 3),
    wrk: {
      connections: 1,
      rps: round(w.rps, 0),
      p50Ms: round(w.latencyMs.p50, 3),
      p99Ms: round(w.latencyMs.p99, 3),
    },
    ramp,
    maxSustainableRate: good,
    wrkSaturationRps: round(saturation, 0),
  };
}

// ---------------------------------------------------------------- scrape case

/** Counts exposed series in Prometheus text: every sample line. */
export function countSeries(text: string): number {
  let n = 0;
  for (const line of text.split("\n")) if (line && line[0] !== "#") n++;
  return n;
}

export async function runScrape(
  opts: Pick<BenchOptions, "series" | "log">,
): Promise<ScrapeCaseResult> {
  const { createInstrumentedApp } = await import("../../../apps/lib/platform_app.ts");
  const { setLogSink } = await import("../../../apps/lib/logger.ts");
  const prevSink = setLogSink({ write() {} });
  const { app, registry, httpMetrics } = createInstrumentedApp({ serviceName: "bench-scrape" });
  // The http families carry (method, endpoint, status): a counter series plus a
  // histogram of 13 series (10 buckets, +Inf, _sum, _count) per label set, all
  // from the app's request table.
  const base = countSeries(await registry.metrics());
  const sets = Math.max(0, Math.ceil((opts.series - base) / 14));
  const statuses = [200, 201, 204, 400, 401, 403, 404, 500, 502, 503];
  for (let i = 0; i < sets; i++) {
    const record = {
      method: i % 3 === 0 ? "POST" : "GET",
      endpoint: `/api/v1/resource-${Math.floor(i / statuses.length)}`,
      status: statuses[i % statuses.length],
      scheme: "http",
      seconds: (i % 100) / 200,
    };
    for (let n = 1 + (i % 7); n > 0; n--) httpMetrics.table.record(record);
  }
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, app.fetch);
  const url = `http://127.0.0.1:${port}/metrics`;
  const http: number[] = [];
  const render: number[] = [];
  let text = "";
  try {
    for (let i = 0; i < 25; i++) {
      const t0 = performance.now();
      const res = await fetch(url);
      text = await res.text();
      if (i >= 5) http.push(performance.now() - t0);
    }
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await registry.metrics();
      render.push(performance.now() - t0);
    }
  } finally {
    await server.shutdown();
    setLogSink(prevSink);
  }
  const sorted = [...http].sort((a, b) => a - b);
  const result = {
    seriesRequested: opts.series,
    seriesExposed: countSeries(text),
    bytes: new TextEncoder().encode(text).length,
    scrapes: http.length,
    httpMs: {
      p50: round(median(http), 2),
      p90: round(sorted[Math.floor(sorted.length * 0.9)] ?? NaN, 2),
      max: round(Math.max(...http), 2),
    },
    renderMs: { p50: round(median(render), 2) },
  };
  opts.log(
    `  /metrics with ${result.seriesExposed} series (${(result.bytes / 1024).toFixed(0)} KiB): ` +
      `p50 ${result.httpMs.p50}ms  p90 ${result.httpMs.p90}ms over ${result.scrapes} scrapes`,
  );
  return result;
}

// ---------------------------------------------------------------- startup case

export const STARTUP_COMMANDS: string[][] = [
  ["task", "run-app", "--help"],
  ["task", "load", "--help"],
  ["task", "stack", "--help"],
  ["task", "validate", "--help"],
];

async function denoDir(): Promise<string> {
  const env = Deno.env.get("DENO_DIR");
  if (env) return env;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

async function timed(args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").pop();
    throw new Error(`deno ${args.join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return ms;
}

/**
 * Cold: the first run in a fresh DENO_DIR that holds only the npm package
 * cache (hard-linked from the real one: no network, but no transpile, code or
 * analysis cache either). Warm: the median of the following runs.
 */
export async function runStartup(
  opts: Pick<BenchOptions, "startupRuns" | "workDir" | "log" | "signal">,
): Promise<StartupCaseResult> {
  const real = await denoDir();
  const rows: StartupCaseResult["rows"] = [];
  for (const args of STARTUP_COMMANDS) {
    opts.signal?.throwIfAborted();
    const dir = join(opts.workDir, `deno-dir-${args[1]}`);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.mkdirSync(dir, { recursive: true });
    const cp = await new Deno.Command("cp", {
      args: ["-al", join(real, "npm"), join(dir, "npm")],
      stderr: "null",
    }).output();
    if (!cp.success) {
      await new Deno.Command("cp", { args: ["-r", join(real, "npm"), join(dir, "npm")] }).output();
    }
    const env = { DENO_DIR: dir, NO_COLOR: "1" };
    try {
      const cold = await timed(args, env);
      const warm: number[] = [];
      for (let i = 0; i < opts.startupRuns; i++) warm.push(await timed(args, env));
      const row = {
        command: `deno ${args.join(" ")}`,
        coldMs: round(cold, 0),
        warmMs: round(median(warm), 0),
        warmRuns: warm.length,
      };
      rows.push(row);
      opts.log(`  ${row.command}: cold ${row.coldMs}ms  warm ${row.warmMs}ms`);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
  return {
    rows,
    coldMeaning:
      "first run with an empty DENO_DIR except the npm package cache (no network, no transpile/code cache)",
  };
}

// ---------------------------------------------------------------- orchestration

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const result: BenchResult = {
    startedAt: new Date().toISOString(),
    machine: await machineInfo(),
    options: stripFns(opts),
    collector: "",
    skipped: [],
    notes: [],
  };
  // Without oha the latency case is skipped (one line in the report), never faked
  // with a generator that cannot hold the rate.
  const oha = opts.cases.includes("latency") ? findOha() : null;
  if (opts.cases.includes("latency") && !oha) {
    result.skipped.push({
      case: "latency",
      reason: "oha not found in the tools folder or on PATH ('deno task tools' builds it)",
    });
    opts.log("latency: skipped, oha not found ('deno task tools' builds it)");
  }
  const latency = opts.cases.includes("latency") && oha !== null;
  const needsApps = opts.cases.some((c) => ["overhead", "loadgen"].includes(c)) || latency;
  if (needsApps) findWrk();

  let stack: BenchStack | null = null;
  const apps: RunningApp[] = [];
  try {
    if (needsApps) {
      const deadEndpoint = `http://127.0.0.1:${freePort()}`;
      let endpoint = deadEndpoint;
      if (opts.collector === "stack" && opts.cases.some((c) => c !== "loadgen")) {
        opts.log("starting a private collector + Jaeger + VictoriaLogs on free ports ...");
        stack = await startBenchStack(join(opts.workDir, "stack"));
        endpoint = stack.otlpEndpoint;
        result.collector = `local stack collector at ${endpoint} (traces forwarded to Jaeger)`;
      } else if (opts.collector === "sink" && opts.cases.some((c) => c !== "loadgen")) {
        opts.log("starting a private sink collector (OTLP in, debug exporter out) ...");
        stack = await startSinkCollector(join(opts.workDir, "sink"));
        endpoint = stack.otlpEndpoint;
        result.collector = `sink collector at ${endpoint} (the real OTLP receiver; ` +
          `its debug exporter takes everything, so nothing behind it backs up)`;
      } else if (opts.collector === "none") {
        result.collector = `none: OTLP goes to ${deadEndpoint}, where nothing listens`;
      } else if (opts.collector !== "stack" && opts.collector !== "sink") {
        endpoint = opts.collector;
        result.collector = `external collector at ${endpoint}`;
      }
      const known = knownVariants(endpoint, deadEndpoint);
      const names = opts.cases.includes("overhead")
        ? [...BASE_VARIANTS, ...opts.variants.filter((v) => !BASE_VARIANTS.includes(v))]
        : latency
        ? [...BASE_VARIANTS, ...opts.variants.filter((v) => LATENCY_REFERENCES.includes(v))]
        : ["off"];
      if (opts.compareApp && opts.cases.includes("overhead")) {
        for (const base of ["off", "on"]) {
          known[`${base}@compare`] = {
            ...known[base],
            name: `${base}@compare`,
            description: `${known[base].description}, code from ${opts.compareApp}`,
            script: opts.compareApp,
          };
          names.push(`${base}@compare`);
        }
      }
      for (const name of names) {
        const v = known[name];
        if (!v) throw new Error(`unknown variant '${name}'`);
        opts.signal?.throwIfAborted();
        const t0 = performance.now();
        apps.push(await startApp(v, freePort()));
        opts.log(`started app '${name}' in ${Math.round(performance.now() - t0)}ms`);
      }
      if (opts.warmupS > 0) {
        opts.log(`warming up each app for ${opts.warmupS}s ...`);
        for (const app of apps) {
          await runWrk({
            url: app.url + opts.path,
            connections: opts.connections,
            threads: opts.threads,
            durationS: opts.warmupS,
            signal: opts.signal,
          });
        }
      }
    }
    const byName = (n: string) => apps.find((a) => a.variant.name === n)!;

    if (opts.cases.includes("overhead")) {
      opts.log(
        `overhead: wrk -t${opts.threads} -c${opts.connections} -d${opts.durationS}s ${opts.path}, ${opts.rounds} rounds`,
      );
      result.overhead = await runOverhead(opts, apps, stack);
    }
    const offRps = result.overhead?.summary.find((s) => s.variant === "off")?.rps ?? null;
    if (opts.cases.includes("loadgen")) {
      opts.log(`load generator: accuracy at ${opts.loadgenRate}/s, then its maximum rate`);
      result.loadgen = await runLoadgenCase(opts, byName("off"), offRps);
    }
    if (latency) {
      // Half of the *instrumented* app's saturation: the rate the issue's goal is
      // stated at, offered to every variant alike.
      let sat = result.overhead?.summary.find((s) => s.variant === "on")?.rps ?? null;
      const from = sat !== null && sat > 0 ? "overhead" : "wrk";
      if (sat === null || sat <= 0) {
        const w = await runWrk({
          url: byName("on").url + opts.path,
          connections: opts.connections,
          threads: opts.threads,
          durationS: opts.durationS,
          signal: opts.signal,
        });
        sat = w.rps;
      }
      opts.log(
        `latency: oha at half of on's saturation (${Math.round(sat)}/s ${
          from === "overhead" ? "from the overhead case" : "by wrk"
        }), ${opts.rounds} rounds`,
      );
      result.latency = await runLatency(
        opts,
        [
          ...BASE_VARIANTS,
          ...LATENCY_REFERENCES.filter((v) => apps.some((a) => a.variant.name === v)),
        ].map(byName),
        oha!,
        sat,
        from,
      );
    }
  } finally {
    for (const app of apps) await app.stop();
    if (stack) {
      opts.log(
        `stopping the private ${
          opts.collector === "sink" ? "sink collector" : "collector + Jaeger + VictoriaLogs"
        } ...`,
      );
      await stack.stop();
    }
  }
  if (opts.cases.includes("scrape")) {
    opts.log(`scrape: /metrics with ${opts.series} series`);
    result.scrape = await runScrape(opts);
  }
  if (opts.cases.includes("startup")) {
    opts.log("startup: deno task scripts, cold and warm");
    result.startup = await runStartup(opts);
  }
  result.finishedAt = new Date().toISOString();
  return result;
}

function stripFns(opts: BenchOptions): BenchResult["options"] {
  const { log: _l, signal: _s, ...rest } = opts;
  return rest;
}

// ---------------------------------------------------------------- report

function table(header: string[], rows: (string | number)[][]): string {
  const lines = [
    `| ${header.join(" | ")} |`,
    `|${header.map((_h, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`,
  ];
  for (const r of rows) lines.push(`| ${r.map((c) => String(c)).join(" | ")} |`);
  return lines.join("\n");
}

const fmt = (n: number | null | undefined, d = 2) =>
  n === null || n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(d);

const signed = (n: number | null | undefined, d = 2) =>
  n === null || n === undefined || !Number.isFinite(n)
    ? "-"
    : `${n >= 0 ? "+" : ""}${n.toFixed(d)}`;

/**
 * The report's first line: the instrumented app against bare Hono (and off),
 * the peer, and the latency added, from whichever cases ran; "" when neither
 * the overhead nor the latency case ran.
 */
export function headline(r: BenchResult): string {
  const parts: string[] = [];
  const s = (v: string) => r.overhead?.summary.find((x) => x.variant === v);
  const on = s("on");
  if (on) {
    parts.push(
      `instrumented app (on) ${fmt(on.ratioToBare, 3)} of bare Hono's throughput ` +
        `(${fmt(on.ratioToOff, 3)} of off), ${signed(on.addedCpuUsVsBare, 1)} µs app CPU ` +
        `per request vs bare (${signed(on.addedCpuUsVsOff, 1)} vs off)`,
    );
  }
  const peer = s("deno-otel");
  if (peer) {
    parts.push(
      `Deno's built-in OTel on bare Hono ${fmt(peer.ratioToBare, 3)} of bare ` +
        `(${signed(peer.addedCpuUsVsBare, 1)} µs)`,
    );
  }
  const floor = s("floor");
  if (floor) {
    parts.push(
      `hand-written minimal telemetry (floor) ${fmt(floor.ratioToBare, 3)} of bare ` +
        `(${signed(floor.addedCpuUsVsBare, 1)} µs)`,
    );
  }
  if (r.latency) {
    parts.push(
      `at ${r.latency.rate}/s (half of on's saturation) p50 ${
        signed(r.latency.added.vsBare.p50Ms, 3)
      } ms, p99 ${signed(r.latency.added.vsBare.p99Ms, 3)} ms vs bare`,
    );
  }
  return parts.length ? `**Headline**: ${parts.join("; ")}.` : "";
}

/** The markdown report printed at the end (and quoted in README). */
export function formatMarkdown(r: BenchResult): string {
  const out: string[] = [];
  const m = r.machine;
  const head = headline(r);
  if (head) out.push(head, "");
  out.push(
    `Machine: ${m.cores} cores (${m.cpu ?? "?"}), ${m.memoryGiB ?? "?"} GiB, Deno ${m.deno}, wrk ${
      m.wrk ?? "?"
    }, commit ${m.commit ?? "?"}; load average at start ${m.loadavg ?? "?"}.`,
  );
  if (r.overhead) {
    const o = r.options;
    out.push(
      "",
      `**Instrumentation overhead** (wrk -t${o.threads} -c${o.connections} -d${o.durationS}s ${o.path}, ` +
        `${o.rounds} alternating rounds, medians; collector: ${r.collector})`,
      "",
      table(
        [
          "variant",
          "rps",
          "spread",
          "vs bare",
          "vs off",
          "app CPU µs/req",
          "added µs vs bare",
          "added µs vs off",
          "p50 ms",
          "p99 ms",
          "collector CPU µs/req",
          "errors",
          "telemetry dropped",
        ],
        r.overhead.summary.map((s) => [
          `${s.variant}: ${s.description}`,
          s.rps,
          `±${fmt(s.rpsSpreadPct / 2, 1)}%`,
          fmt(s.ratioToBare, 3),
          fmt(s.ratioToOff, 3),
          fmt(s.appCpuUsPerReq, 1),
          signed(s.addedCpuUsVsBare, 1),
          signed(s.addedCpuUsVsOff, 1),
          fmt(s.p50Ms),
          fmt(s.p99Ms),
          fmt(s.collectorCpuUsPerReq, 1),
          s.errors,
          s.telemetryDropped ?? "-",
        ]),
      ),
      "",
      `Other work on the machine during these runs (CPU not used by app, collector, Jaeger, VictoriaLogs or wrk): median ${r.overhead.othersBusyPct}% of all cores.`,
    );
  }
  if (r.latency) {
    const l = r.latency;
    out.push(
      "",
      `**Latency at half of the instrumented app's saturation** (oha -q ${l.rate} ` +
        `--latency-correction -c${l.connections} -z ${l.durationS}s, keep-alive; open model, ` +
        `latency from each request's scheduled time; saturation ${l.saturationRps}/s ` +
        `${l.saturationFrom === "overhead" ? "from the overhead case" : "by wrk"}; ` +
        `${r.options.rounds} alternating rounds, medians)`,
      "",
      table(
        ["variant", "achieved /s", "p50 ms", "p99 ms", "p99.9 ms", "failures"],
        l.summary.map((s) => [
          s.variant,
          s.rps,
          fmt(s.p50Ms, 3),
          fmt(s.p99Ms, 3),
          fmt(s.p999Ms, 3),
          s.failures,
        ]),
      ),
      "",
      `Instrumentation adds p50 ${signed(l.added.vsBare.p50Ms, 3)} ms / p99 ${
        signed(l.added.vsBare.p99Ms, 3)
      } ms vs bare, p50 ${signed(l.added.vsOff.p50Ms, 3)} ms / p99 ${
        signed(l.added.vsOff.p99Ms, 3)
      } ms vs off${
        l.generatorKeptUp
          ? ""
          : ` (short of the rate or with failures: ${
            l.runs.filter((x) => x.rps < 0.98 * l.rate || x.failures > 0)
              .map((x) =>
                `${x.variant} round ${x.round + 1} ${Math.round(x.rps)}/s, ${x.failures} failed`
              )
              .join("; ")
          })`
      }; generator ${l.generator}.`,
    );
  }
  if (r.loadgen) {
    const g = r.loadgen;
    out.push(
      "",
      `**Load generator quality** (scripts/load.ts against the off app at ${g.targetRate}/s): ` +
        "the latency it measures includes its own scheduling delays, so it rates the generator, " +
        "not the app (the app's latency is the oha case above); wrk -c1 is the reference",
      "",
      table(
        ["measure", "load generator", "wrk"],
        [
          [
            "achieved rate /s",
            `${fmt(g.achievedRate, 1)} (${g.rateErrorPct >= 0 ? "+" : ""}${
              fmt(g.rateErrorPct, 2)
            }%)`,
            `${g.wrk.rps} (closed loop, -c1)`,
          ],
          ["generator-measured p50 ms", fmt(g.p50Ms), fmt(g.wrk.p50Ms)],
          ["generator-measured p99 ms", fmt(g.p99Ms), fmt(g.wrk.p99Ms)],
          [
            "max rate /s",
            `${g.maxSustainableRate} (within 1 %, none dropped)`,
            `${g.wrkSaturationRps} (saturation, -c${r.options.connections})`,
          ],
        ],
      ),
    );
  }
  if (r.scrape) {
    const s = r.scrape;
    out.push(
      "",
      `**/metrics scrape**: ${s.seriesExposed} series, ${(s.bytes / 1024).toFixed(0)} KiB: ` +
        `p50 ${fmt(s.httpMs.p50)} ms, p90 ${
          fmt(s.httpMs.p90)
        } ms over HTTP (${s.scrapes} scrapes); ` +
        `rendering alone p50 ${fmt(s.renderMs.p50)} ms.`,
    );
  }
  if (r.startup) {
    out.push(
      "",
      `**Start-up** (cold = ${r.startup.coldMeaning}; warm = median of the next runs)`,
      "",
      table(
        ["command", "cold ms", "warm ms"],
        r.startup.rows.map((x) => [`\`${x.command}\``, x.coldMs, x.warmMs]),
      ),
    );
  }
  for (const s of r.skipped) out.push("", `Skipped ${s.case}: ${s.reason}.`);
  for (const n of r.notes) out.push("", n);
  return out.join("\n");
}
