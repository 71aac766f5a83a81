// Load generation: the open-model load engine of phase 10 (`deno task load`), also driven by `demo`
// and `bench`; load_target.ts starts an app as a load target for tests.
/**
 * An open-model, constant arrival rate scheduler in the spirit of wrk2 and k6's constant-arrival-rate
 * executor. Request i is due at `i / rate` seconds after the start and is
 * dispatched then, whether or not earlier requests have answered, so a slow
 * server cannot lower the offered rate. The concurrency cap bounds requests
 * in flight: a request that is due while the cap is reached is not sent and
 * is counted as `dropped`, never silently postponed.
 *
 * Latency is measured from a request's scheduled time (not from when the
 * event loop got round to sending it), which corrects for coordinated
 * omission, and is recorded in an HDR histogram (npm `hdr-histogram-js`,
 * its pure-JS build) in microseconds.
 */
import * as hdr from "hdr-histogram-js";
import { UsageError } from "../cli.ts";

/** Picks the path (with query) of the i-th request, counting from 1. */
export type TrafficMix = (n: number) => string;

/**
 * The chapter's traffic: `/api/data?delay=0.1`, every 20th request
 * `/api/data?delay=0.5`, every 50th `/error`, and its security traffic:
 * every 25th an unauthenticated `/api/admin` (401), every 40th a path that
 * does not exist (404, what a scanner sends). A 403 needs a token that is
 * not the admin's: `--header 'Authorization: Bearer not-admin'` with
 * `--path /api/admin`.
 */
export const chapterMix: TrafficMix = (n) => {
  if (n % 50 === 0) return "/error";
  if (n % 40 === 0) return "/wp-login.php";
  if (n % 25 === 0) return "/api/admin";
  if (n % 20 === 0) return "/api/data?delay=0.5";
  return "/api/data?delay=0.1";
};

/**
 * `--header 'Name: value'` values as request headers; a malformed one is a
 * usage error that names the header, never its value (it may be a credential).
 */
export function parseHeaders(values: string[]): Headers {
  const headers = new Headers();
  for (const raw of values) {
    const i = raw.indexOf(":");
    const name = i > 0 ? raw.slice(0, i).trim() : "";
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UsageError(`--header must look like 'Name: value', got a header named '${name}'`);
    }
    try {
      headers.append(name, raw.slice(i + 1).trim());
    } catch {
      throw new UsageError(`--header ${name}: the value is not a valid header value`);
    }
  }
  return headers;
}

/**
 * Throws UsageError unless `p` is a path (with optional query) on the target:
 * exactly one leading '/'. URL resolution would otherwise send the request
 * elsewhere: '//host/x' is scheme-relative, the parser reads a backslash as '/' in
 * http(s) URLs and silently drops tabs and newlines ('/\t/host' is '//host'),
 * so those characters are refused too.
 */
export function checkPath(p: string): string {
  const shown = JSON.stringify(p);
  if (!p.startsWith("/")) {
    throw new UsageError(`--path must be a path starting with '/', got ${shown}`);
  }
  // deno-lint-ignore no-control-regex -- control characters are what this refuses
  if (/[\\\x00-\x20\x7f]/.test(p)) {
    throw new UsageError(
      `--path must not contain '\\', spaces or control characters (percent-encode them), got ${shown}`,
    );
  }
  if (p.startsWith("//")) {
    throw new UsageError(
      `--path must be a path on the target (one leading '/'), not a URL: got ${shown}`,
    );
  }
  return p;
}

/**
 * The URL of one request: `path` on `base`'s origin, or UsageError when it
 * would leave it (the loopback check is on the target, so the path must not
 * name another host).
 */
export function requestUrl(base: URL, path: string): URL {
  const url = new URL(checkPath(path), base);
  if (url.origin !== base.origin) {
    throw new UsageError(`--path ${JSON.stringify(path)} leaves the target ${base.origin}`);
  }
  return url;
}

/** Round-robin over a fixed list of paths. */
export function pathsMix(paths: string[]): TrafficMix {
  if (paths.length === 0) throw new UsageError("at least one path is needed");
  for (const p of paths) checkPath(p);
  return (n) => paths[(n - 1) % paths.length];
}

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:8000 */
  target: string;
  /** Requests per second offered (the arrival rate). */
  rate: number;
  /** How long requests are scheduled, in ms. */
  durationMs: number;
  /** Stop scheduling after this many requests (sent or dropped). */
  maxRequests?: number;
  /** At most this many requests in flight; due requests beyond it are dropped. */
  concurrency?: number;
  /** Per-request timeout in ms (default 10 000). */
  timeoutMs?: number;
  mix?: TrafficMix;
  /** Sent with every request (`--header`). */
  headers?: Headers;
  /** Targets outside loopback are refused unless this is set. */
  allowRemote?: boolean;
  /** Aborting stops scheduling, aborts requests in flight and returns the report so far. */
  signal?: AbortSignal;
  /** Called every `progressIntervalMs` (default 1000) while the run goes on. */
  onProgress?: (p: LoadProgress) => void;
  progressIntervalMs?: number;
  /** A request sent more than this many ms after its scheduled time counts as late (default 25). */
  lateThresholdMs?: number;
}

export interface LoadProgress {
  elapsedS: number;
  sent: number;
  completed: number;
  dropped: number;
  errors: number;
  /** Requests sent per second since the start. */
  rps: number;
  /** p99 latency so far in ms (null before the first response). */
  p99Ms: number | null;
  inFlight: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadReport {
  target: string;
  /** The configured arrival rate, per second. */
  rate: number;
  durationS: number;
  concurrency: number;
  /** Requests whose scheduled time came (sent + dropped). */
  scheduled: number;
  sent: number;
  /** Due while `concurrency` requests were in flight: not sent. */
  dropped: number;
  /** Sent, but more than lateThresholdMs after their scheduled time. */
  late: number;
  /** Largest delay between a request's scheduled and actual send time, ms. */
  maxSendLagMs: number;
  /** Got an HTTP response (any status). */
  completed: number;
  /** HTTP status >= 400, timeouts and network errors. */
  errors: number;
  /** Aborted by an interrupt while in flight. */
  aborted: number;
  /** "200", "500", ... and "timeout" / "network-error". */
  statusCounts: Record<string, number>;
  /** Scheduling window in seconds: from the start to the last due time (or the interrupt). */
  windowS: number;
  /** (sent + dropped) / window: what the scheduler offered. */
  offeredRate: number;
  /** sent / window. */
  achievedRate: number;
  /** completed / total elapsed time including the wait for the last responses. */
  throughput: number;
  elapsedS: number;
  /** In milliseconds, from the scheduled send time; null when nothing completed. */
  latencyMs: LatencySummary | null;
  interrupted: boolean;
}

const LOOPBACK_HOSTS = new Set(["localhost", "[::1]", "::1"]);

/** True for localhost, 127.0.0.0/8 and ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (LOOPBACK_HOSTS.has(h) || h.endsWith(".localhost")) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Parses and checks a target URL; throws UsageError with one line. */
export function parseTarget(raw: string, allowRemote = false): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--target must be a URL like http://127.0.0.1:8000, got '${raw}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--target must be http or https, got '${url.protocol}'`);
  }
  if (!allowRemote && !isLoopbackHost(url.hostname)) {
    throw new UsageError(
      `refusing to load ${url.hostname}: not a loopback address (pass --allow-remote if you own it)`,
    );
  }
  return url;
}

function validate(opts: LoadOptions): void {
  if (!(Number.isFinite(opts.rate) && opts.rate > 0 && opts.rate <= 100_000)) {
    throw new UsageError(`--rate must be between 0 and 100000 per second, got ${opts.rate}`);
  }
  if (!(Number.isFinite(opts.durationMs) && opts.durationMs > 0)) {
    throw new UsageError(`--duration must be greater than zero`);
  }
  if (
    opts.maxRequests !== undefined && !(Number.isInteger(opts.maxRequests) && opts.maxRequests > 0)
  ) {
    throw new UsageError(`--max-requests must be a positive whole number`);
  }
  const c = opts.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(Number.isInteger(c) && c > 0)) {
    throw new UsageError(`--concurrency must be a positive whole number`);
  }
}

export const DEFAULT_CONCURRENCY = 256;

function newHistogram(): hdr.Histogram {
  // Microseconds from 1 µs to 1 h with 3 significant digits.
  return hdr.build({
    useWebAssembly: false,
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Sleeps `ms`, or less when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Runs the load and resolves with its report (also when aborted). */
export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  validate(opts);
  const base = parseTarget(opts.target, opts.allowRemote ?? false);
  const mix = opts.mix ?? chapterMix;
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const lateMs = opts.lateThresholdMs ?? 25;
  const intervalMs = 1000 / opts.rate;
  let total = Math.ceil(opts.durationMs / intervalMs - 1e-9);
  if (opts.maxRequests !== undefined) total = Math.min(total, opts.maxRequests);

  const hist = newHistogram();
  const statusCounts: Record<string, number> = {};
  const stop = new AbortController();
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    stop.abort();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  let sent = 0, dropped = 0, late = 0, completed = 0, errors = 0, aborted = 0, inFlight = 0;
  let maxLag = 0;
  let lastSendAt = 0;
  const pending = new Set<Promise<void>>();
  const count = (k: string) => statusCounts[k] = (statusCounts[k] ?? 0) + 1;

  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;

  const progress = () => {
    const e = elapsed() / 1000;
    opts.onProgress?.({
      elapsedS: round(e, 1),
      sent,
      completed,
      dropped,
      errors,
      rps: e > 0 ? round(sent / e, 1) : 0,
      p99Ms: hist.totalCount > 0
        ? round(Math.min(hist.getValueAtPercentile(99), hist.maxValue) / 1000)
        : null,
      inFlight,
    });
  };
  const ticker = opts.onProgress
    ? setInterval(progress, opts.progressIntervalMs ?? 1000)
    : undefined;

  const fire = async (url: URL, dueAt: number) => {
    const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(timeoutMs)]);
    try {
      const res = await fetch(url, { signal, redirect: "manual", headers: opts.headers });
      await res.arrayBuffer();
      const us = Math.max(1, Math.round((performance.now() - t0 - dueAt) * 1000));
      hist.recordValue(Math.min(us, 3_600_000_000));
      completed++;
      count(String(res.status));
      if (res.status >= 400) errors++;
    } catch (err) {
      if (stop.signal.aborted) {
        aborted++;
        count("aborted");
      } else if ((err as Error).name === "TimeoutError") {
        errors++;
        count("timeout");
      } else {
        errors++;
        count("network-error");
      }
    } finally {
      inFlight--;
    }
  };

  let i = 0;
  while (i < total && !stop.signal.aborted) {
    const now = elapsed();
    const due = i * intervalMs;
    if (due > now) {
      await sleep(due - now, stop.signal);
      continue;
    }
    // Dispatch everything that is due (catching up if the loop was late).
    while (i < total && i * intervalMs <= now) {
      const dueAt = i * intervalMs;
      i++;
      if (inFlight >= concurrency) {
        dropped++;
        continue;
      }
      let url: URL;
      try {
        url = requestUrl(base, mix(i));
      } catch (err) {
        // A mix that names another host is a usage error: stop, send nothing more.
        stop.abort();
        await Promise.allSettled([...pending]);
        if (ticker !== undefined) clearInterval(ticker);
        opts.signal?.removeEventListener("abort", onAbort);
        throw err;
      }
      const lag = elapsed() - dueAt;
      if (lag > maxLag) maxLag = lag;
      if (lag > lateMs) late++;
      sent++;
      inFlight++;
      lastSendAt = dueAt + lag;
      const p = fire(url, dueAt);
      pending.add(p);
      p.finally(() => pending.delete(p));
    }
    // Let responses be processed between bursts.
    await Promise.resolve();
  }
  const stopAt = elapsed();
  // The window ends one interval after the last scheduled time, or later if the
  // loop fell behind and sent the last request late: then achieved < offered.
  const windowMs = interrupted ? stopAt : Math.max(i * intervalMs, lastSendAt + intervalMs);
  await Promise.allSettled([...pending]);
  if (ticker !== undefined) clearInterval(ticker);
  opts.signal?.removeEventListener("abort", onAbort);
  const elapsedMs = elapsed();

  // HDR reports a percentile as its bucket's upper edge, which can lie a
  // hair above the exact maximum; no percentile may exceed the max.
  const atMost = (q: number) => Math.min(hist.getValueAtPercentile(q), hist.maxValue);
  const latencyMs: LatencySummary | null = hist.totalCount > 0
    ? {
      p50: round(atMost(50) / 1000),
      p90: round(atMost(90) / 1000),
      p95: round(atMost(95) / 1000),
      p99: round(atMost(99) / 1000),
      max: round(hist.maxValue / 1000),
      mean: round(hist.mean / 1000),
    }
    : null;
  const windowS = windowMs / 1000;
  return {
    target: base.origin,
    rate: opts.rate,
    durationS: opts.durationMs / 1000,
    concurrency,
    scheduled: sent + dropped,
    sent,
    dropped,
    late,
    maxSendLagMs: round(maxLag),
    completed,
    errors,
    aborted,
    statusCounts,
    windowS: round(windowS),
    offeredRate: windowS > 0 ? round((sent + dropped) / windowS, 2) : 0,
    achievedRate: windowS > 0 ? round(sent / windowS, 2) : 0,
    throughput: elapsedMs > 0 ? round(completed / (elapsedMs / 1000), 2) : 0,
    elapsedS: round(elapsedMs / 1000),
    latencyMs,
    interrupted,
  };
}

/** The one-line progress text (used live on a terminal, as plain lines otherwise). */
export function formatProgress(p: LoadProgress): string {
  const p99 = p.p99Ms === null ? "-" : `${p.p99Ms.toFixed(1)}ms`;
  return `${p.elapsedS.toFixed(1)}s  sent ${p.sent}  rps ${p.rps.toFixed(1)}  ` +
    `errors ${p.errors}  dropped ${p.dropped}  in-flight ${p.inFlight}  p99 ${p99}`;
}

/** The human-readable summary. */
export function formatReport(r: LoadReport): string {
  const statuses = Object.entries(r.statusCounts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`).join("  ") || "none";
  const lines = [
    `Load ${r.interrupted ? "interrupted" : "finished"}: ${r.target}  ` +
    `rate ${r.rate}/s  duration ${r.durationS}s  concurrency cap ${r.concurrency}`,
    `  requests:   scheduled ${r.scheduled}  sent ${r.sent}  dropped ${r.dropped}  ` +
    `late ${r.late} (max send lag ${r.maxSendLagMs.toFixed(1)}ms)`,
    `  responses:  completed ${r.completed}  errors ${r.errors}` +
    (r.aborted ? `  aborted ${r.aborted}` : ""),
    `  status:     ${statuses}`,
    `  rate:       offered ${r.offeredRate.toFixed(2)}/s  achieved ${
      r.achievedRate.toFixed(2)
    }/s ` +
    `over ${r.windowS.toFixed(2)}s  throughput ${r.throughput.toFixed(2)}/s`,
  ];
  if (r.latencyMs) {
    const l = r.latencyMs;
    lines.push(
      `  latency:    p50 ${l.p50.toFixed(2)}ms  p90 ${l.p90.toFixed(2)}ms  ` +
        `p95 ${l.p95.toFixed(2)}ms  p99 ${l.p99.toFixed(2)}ms  max ${l.max.toFixed(2)}ms`,
    );
  } else {
    lines.push("  latency:    no responses");
  }
  return lines.join("\n");
}
