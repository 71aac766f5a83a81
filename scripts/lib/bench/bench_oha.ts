/**
 * oha (crates.io, MIT) as a library: an open-model HTTP load generator. With
 * `-q RATE --latency-correction` each request's latency is measured from the
 * time it was scheduled, not from when a free connection sent it, so a server
 * stall shows in the percentiles instead of silently slowing the generator
 * down (coordinated omission). `deno task tools` builds it into <tools>/bin.
 */
import { resolveTool } from "../tools/mod.ts";

export interface OhaResult {
  /** Requests answered per second over the run (oha's summary.requestsPerSec). */
  rps: number;
  /** Share of requests that got an answer (oha's summary.successRate, 0..1). */
  successRate: number;
  /** Latency percentiles in ms (from oha's latencyPercentiles, which are in seconds). */
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** Failed requests by oha's error text, minus those aborted at the deadline. */
  errors: Record<string, number>;
  /** Requests oha cut off when the duration ended (not failures of the server). */
  abortedAtDeadline: number;
}

/** oha from the tools folder (`deno task tools`), then PATH; null when absent. */
export function findOha(): string | null {
  return resolveTool("oha");
}

// oha's wording for requests still in flight when -z ends.
const DEADLINE = /aborted due to deadline/i;

/** Parses `oha --output-format json` (oha 1.x). Throws naming the missing field. */
export function parseOhaJson(text: string): OhaResult {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text);
  } catch {
    throw new Error(`oha output is not JSON: ${text.trim().slice(0, 120)}`);
  }
  const obj = (v: unknown, what: string): Record<string, unknown> => {
    if (v === null || typeof v !== "object") throw new Error(`oha JSON has no ${what}`);
    return v as Record<string, unknown>;
  };
  const num = (v: unknown, what: string): number => {
    if (typeof v !== "number") throw new Error(`oha JSON has no ${what}`);
    return v;
  };
  const summary = obj(j.summary, "summary");
  const pct = obj(j.latencyPercentiles, "latencyPercentiles");
  // oha writes null percentiles when nothing succeeded: NaN, not a crash.
  const ms = (key: string) => (typeof pct[key] === "number" ? (pct[key] as number) * 1000 : NaN);
  const statuses: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj(j.statusCodeDistribution ?? {}, "statuses"))) {
    statuses[k] = Number(v);
  }
  const errors: Record<string, number> = {};
  let abortedAtDeadline = 0;
  for (const [k, v] of Object.entries(obj(j.errorDistribution ?? {}, "errors"))) {
    if (DEADLINE.test(k)) abortedAtDeadline += Number(v);
    else errors[k] = Number(v);
  }
  return {
    rps: num(summary.requestsPerSec, "summary.requestsPerSec"),
    successRate: num(summary.successRate, "summary.successRate"),
    latencyMs: {
      p50: ms("p50"),
      p90: ms("p90"),
      p99: ms("p99"),
      p999: ms("p99.9"),
      max: typeof summary.slowest === "number" ? summary.slowest * 1000 : NaN,
    },
    statuses,
    errors,
    abortedAtDeadline,
  };
}

/** Failed requests: transport errors plus answers that were not 2xx. */
export function ohaFailures(r: OhaResult): number {
  let n = Object.values(r.errors).reduce((a, b) => a + b, 0);
  for (const [code, count] of Object.entries(r.statuses)) if (!code.startsWith("2")) n += count;
  return n;
}

export interface OhaOptions {
  url: string;
  /** Offered rate, requests per second (oha -q). */
  rate: number;
  durationS: number;
  /** Keep-alive connections oha may use; enough that none waits for a free one. */
  connections: number;
  signal?: AbortSignal;
}

/** The arguments of one fixed-rate, coordinated-omission-corrected run. */
export function ohaArgs(opts: OhaOptions): string[] {
  return [
    "-z",
    `${Math.max(1, Math.round(opts.durationS))}s`,
    "-q",
    String(opts.rate),
    "--latency-correction",
    "-c",
    String(opts.connections),
    "--no-tui",
    "--output-format",
    "json",
    opts.url,
  ];
}

/** Runs oha once; throws with its stderr when it fails. */
export async function runOha(opts: OhaOptions, oha: string): Promise<OhaResult> {
  const args = ohaArgs(opts);
  const out = await new Deno.Command(oha, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // oha reads NO_COLOR only for text output; set it so nothing else leaks in.
    env: { NO_COLOR: "1" },
    signal: opts.signal,
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim() || text.trim();
    throw new Error(`oha ${args.join(" ")} failed: ${err.split("\n")[0]}`);
  }
  return parseOhaJson(text);
}
