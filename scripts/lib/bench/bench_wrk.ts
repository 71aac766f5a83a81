/**
 * wrk (Debian package `wrk`, a closed-model load tool: a fixed number of
 * connections, each sending its next request when the previous answered)
 * as a library: find it, run it, parse its `--latency` report.
 */
import { MissingPrerequisite } from "../cli.ts";

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  /** Latency in ms from wrk's distribution (closed model: not corrected for coordinated omission). */
  latencyMs: { avg: number; max: number; p50: number; p75: number; p90: number; p99: number };
  errors: { connect: number; read: number; write: number; timeout: number; non2xx3xx: number };
  /** wrk's own CPU time (ms) when runWrk was asked to sample it. */
  cpuMs?: number;
}

export interface WrkOptions {
  url: string;
  connections: number;
  threads?: number;
  durationS: number;
  /** Per-request timeout in seconds (wrk's default is 2). */
  timeoutS?: number;
  signal?: AbortSignal;
  /** Samples wrk's CPU time from /proc while it runs (the last sample, <= 200 ms short). */
  cpuOf?: (pid: number) => Promise<number | null>;
}

/** Finds wrk on PATH; exit 2 naming the Debian package when absent. */
export function findWrk(path = Deno.env.get("PATH") ?? ""): string {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const candidate = `${dir}/wrk`;
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch { /* not here */ }
  }
  throw new MissingPrerequisite(
    "wrk not found on PATH",
    "install the Debian package: apt-get install wrk",
  );
}

/** "672.00us", "1.01ms", "2.00s", "1.50m" -> milliseconds. */
export function parseWrkDuration(raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)$/.exec(raw.trim());
  if (!m) throw new Error(`not a wrk duration: '${raw}'`);
  const unit = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "us"];
  return Number(m[1]) * unit;
}

/** Parses wrk's text report (run with --latency). Throws naming what is missing. */
export function parseWrkOutput(text: string): WrkResult {
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(text);
    if (!m) throw new Error(`wrk output has no ${what}: ${text.trim().split("\n").pop() ?? ""}`);
    return m;
  };
  const total = need(/^\s*(\d+) requests in ([\d.]+\w+),/m, "request count");
  const rps = need(/^Requests\/sec:\s+([\d.]+)/m, "Requests/sec");
  const lat = need(/^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)/m, "latency line");
  const pct = (p: string) =>
    parseWrkDuration(need(new RegExp(`^\\s*${p}%\\s+(\\S+)`, "m"), `${p}% latency`)[1]);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    durationS: parseWrkDuration(total[2]) / 1000,
    rps: Number(rps[1]),
    latencyMs: {
      avg: parseWrkDuration(lat[1]),
      max: parseWrkDuration(lat[3]),
      p50: pct("50"),
      p75: pct("75"),
      p90: pct("90"),
      p99: pct("99"),
    },
    errors: {
      connect: Number(sock?.[1] ?? 0),
      read: Number(sock?.[2] ?? 0),
      write: Number(sock?.[3] ?? 0),
      timeout: Number(sock?.[4] ?? 0),
      non2xx3xx: Number(non2xx?.[1] ?? 0),
    },
  };
}

/** Runs wrk once and parses its report; throws with wrk's stderr when it fails. */
export async function runWrk(opts: WrkOptions, wrk = findWrk()): Promise<WrkResult> {
  const threads = Math.max(1, Math.min(opts.threads ?? 1, opts.connections));
  const args = [
    `-t${threads}`,
    `-c${opts.connections}`,
    `-d${Math.max(1, Math.round(opts.durationS))}s`,
    `--timeout`,
    `${opts.timeoutS ?? 2}s`,
    "--latency",
    opts.url,
  ];
  const child = new Deno.Command(wrk, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: opts.signal,
  }).spawn();
  let cpuMs: number | undefined;
  let sampling = true;
  const sampler = opts.cpuOf
    ? (async () => {
      while (sampling) {
        const v = await opts.cpuOf!(child.pid);
        if (v !== null) cpuMs = v;
        await new Promise((r) => setTimeout(r, 200));
      }
    })()
    : Promise.resolve();
  const out = await child.output();
  sampling = false;
  await sampler;
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim() || text.trim();
    throw new Error(`wrk ${args.join(" ")} failed: ${err.split("\n")[0]}`);
  }
  return { ...parseWrkOutput(text), ...(cpuMs !== undefined ? { cpuMs } : {}) };
}
