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
 *
 * The schedule runs in Workers (worker.ts), which send over plain keep-alive
 * sockets (http1.ts): one event loop with fetch paused 20-80 ms at 10,000/s
 * and dropped what came due meanwhile. Workers load module files, so the
 * process needs read access to this folder (`deno task load` has
 * --allow-read=.).
 */
import * as hdr from "hdr-histogram-js";
import { MissingPrerequisite, UsageError } from "../cli.ts";
import type { FromWorker, ToWorker, WorkerCounts } from "./worker.ts";
import { zeroCounts } from "./counts.ts";

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
  /**
   * At most this many requests in flight (default: defaultConcurrency(rate));
   * due requests beyond it are dropped. Split evenly over the Workers.
   */
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
  /**
   * Workers that share the schedule (default: one per RATE_PER_WORKER/s, up to
   * the number of CPUs; never more than `concurrency`).
   */
  workers?: number;
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
  const c = opts.concurrency ?? defaultConcurrency(opts.rate);
  if (!(Number.isInteger(c) && c > 0)) {
    throw new UsageError(`--concurrency must be a positive whole number`);
  }
  if (opts.workers !== undefined && !(Number.isInteger(opts.workers) && opts.workers > 0)) {
    throw new UsageError(`--workers must be a positive whole number`);
  }
}

/** The least default cap on requests in flight. */
export const DEFAULT_CONCURRENCY = 256;

/**
 * The default cap on requests in flight: 256, or 100 ms of requests at `rate`
 * when that is more. A fixed 256 is 25 ms at 10,000/s: a server (or a machine
 * shared with other work) that pauses that long would turn into drops, where
 * the open model wants the pause measured as latency.
 */
export function defaultConcurrency(rate: number): number {
  return Math.max(DEFAULT_CONCURRENCY, Math.ceil(rate / 10));
}

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

/**
 * Requests per second one Worker is given before another is added (up to the
 * number of CPUs). On the 2-core machine against a trivial server, one Worker
 * held 10,000/s but dropped 0.5 % at 12,000/s, two held 12,000/s; a second
 * Worker from 4,000/s on keeps each one's garbage-collection pauses short of
 * the cap.
 */
export const RATE_PER_WORKER = 4000;

/** How many Workers share a run's schedule: `requested`, or one per RATE_PER_WORKER/s up to the CPUs. */
export function workerCount(
  rate: number,
  concurrency: number,
  total: number,
  requested?: number,
): number {
  const cpus = Math.max(1, navigator.hardwareConcurrency || 1);
  const n = requested ?? Math.min(cpus, Math.ceil(rate / RATE_PER_WORKER));
  // Every Worker needs at least one slot of the cap and one request.
  return Math.max(1, Math.min(n, concurrency, total));
}

const WORKER_URL = new URL("./worker.ts", import.meta.url);
/** How far ahead of their due time request URLs are handed to the Workers. */
const LEAD_MS = 1000;
/** How often the URLs are topped up. */
const FEED_EVERY_MS = 200;
/** How often a Worker sends its counts and latencies back unasked. */
const FLUSH_MS = 250;
/** The schedule starts this long after the Workers are ready, so all see it coming. */
const START_DELAY_MS = 20;

/** Workers load a module file: without read access to it they cannot start. */
function checkWorkerReadable(): void {
  if (WORKER_URL.protocol !== "file:") return;
  const path = decodeURIComponent(WORKER_URL.pathname);
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
    throw new MissingPrerequisite(
      `the load generator runs its schedule in Workers and needs read access to ${path}`,
      "run with --allow-read=. from the repository, as `deno task load` does",
    );
  }
}

interface Spawned {
  workers: Worker[];
  /** Resolves when every Worker has loaded; rejects with the first load error. */
  ready: Promise<void>;
}

function spawnWorkers(
  n: number,
  onMessage: (w: number, m: FromWorker) => void,
  onError: (w: number, err: Error) => void,
): Spawned {
  const workers: Worker[] = [];
  const readies: Promise<void>[] = [];
  for (let w = 0; w < n; w++) {
    const worker = new Worker(WORKER_URL, { type: "module", name: `load-${w}` });
    workers.push(worker);
    readies.push(
      new Promise<void>((resolve, reject) => {
        worker.onmessage = (e: MessageEvent<FromWorker>) => {
          if (e.data.type === "ready") resolve();
          onMessage(w, e.data);
        };
        worker.onerror = (e) => {
          // Handled here: the error must not also end the whole process.
          e.preventDefault();
          const err = new Error(`load worker ${w}: ${e.message}`);
          reject(err);
          onError(w, err);
        };
      }),
    );
  }
  return { workers, ready: Promise.all(readies).then(() => {}) };
}

/**
 * Runs the load and resolves with its report (also when aborted).
 *
 * The schedule is one global sequence (request i due at i / rate seconds after
 * the start) spread over Workers (see worker.ts): Worker w of N sends requests
 * w, w + N, ... with its own event loop and connection pool and its share of
 * the concurrency cap. The main thread computes the request URLs from the mix
 * ahead of time, merges the Workers' counts and records their latencies in the
 * one HDR histogram. A single event loop paused 20-80 ms at 10,000/s (its
 * garbage collector, bursts of responses) and dropped what came due meanwhile.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  validate(opts);
  const base = parseTarget(opts.target, opts.allowRemote ?? false);
  const mix = opts.mix ?? chapterMix;
  const concurrency = opts.concurrency ?? defaultConcurrency(opts.rate);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const lateMs = opts.lateThresholdMs ?? 25;
  const intervalMs = 1000 / opts.rate;
  let total = Math.ceil(opts.durationMs / intervalMs - 1e-9);
  if (opts.maxRequests !== undefined) total = Math.min(total, opts.maxRequests);
  const n = workerCount(opts.rate, concurrency, total, opts.workers);

  // URLs, computed ahead: checked here, so a mix naming another host is a
  // usage error before the request is due (and before any is sent, when it
  // is among the first second's).
  const urlOf = new Map<string, string>();
  let fed = 0;
  const feed = (upTo: number): string[][] => {
    upTo = Math.min(upTo, total);
    const shares: string[][] = Array.from({ length: n }, () => []);
    for (; fed < upTo; fed++) {
      const path = mix(fed + 1);
      let url = urlOf.get(path);
      if (url === undefined) {
        const u = requestUrl(base, path);
        url = u.pathname + u.search;
        // A mix of unique paths must not grow this without bound.
        if (urlOf.size > 10_000) urlOf.clear();
        urlOf.set(path, url);
      }
      shares[fed % n].push(url);
    }
    return shares;
  };
  const first = feed(Math.ceil(LEAD_MS / intervalMs));

  const hist = newHistogram();
  const latest: (WorkerCounts | undefined)[] = new Array(n).fill(undefined);
  const done: boolean[] = new Array(n).fill(false);
  let doneCount = 0;
  let allDone = () => {};
  const finished = new Promise<void>((resolve) => allDone = resolve);
  let progressWanted = 0;
  let onFlushed = () => {};

  let interrupted = false;
  let started = false;
  let workerError: Error | undefined;
  let stopAt = 0;
  let startAt = performance.timeOrigin + performance.now();
  const elapsed = () => performance.timeOrigin + performance.now() - startAt;

  let connectedCount = 0;
  let allConnected = () => {};
  const connected = new Promise<void>((resolve) => allConnected = resolve);
  const onWorkerMessage = (w: number, m: FromWorker) => {
    if (m.type === "connected" && ++connectedCount === n) allConnected();
    if (m.type !== "flush") return;
    latest[w] = m.counts;
    for (const us of m.latenciesUs) hist.recordValue(us);
    if (m.done && !done[w]) {
      done[w] = true;
      if (++doneCount === n) allDone();
    }
    if (m.reply && progressWanted > 0 && --progressWanted === 0) onFlushed();
  };

  checkWorkerReadable();
  const onWorkerError = (w: number, err: Error) => {
    // A Worker that failed sends nothing more: stop the others, count it as
    // done so the run ends, and report the error.
    workerError ??= err;
    if (started) post({ type: "stop" });
    if (!done[w]) {
      done[w] = true;
      if (++doneCount === n) allDone();
    }
  };
  const { workers, ready } = spawnWorkers(n, onWorkerMessage, onWorkerError);
  const post = (msg: ToWorker) => workers.forEach((w) => w.postMessage(msg));
  const stopAll = () => {
    if (started) post({ type: "stop" });
  };
  const onAbort = () => {
    if (interrupted) return;
    interrupted = true;
    stopAt = started ? Math.max(0, elapsed()) : 0;
    stopAll();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  let feeder: ReturnType<typeof setInterval> | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let tickerStart: ReturnType<typeof setTimeout> | undefined;
  const cleanUp = () => {
    clearInterval(feeder);
    clearInterval(ticker);
    clearTimeout(tickerStart);
    opts.signal?.removeEventListener("abort", onAbort);
    workers.forEach((w) => w.terminate());
  };

  try {
    await ready;
  } catch (err) {
    cleanUp();
    throw err;
  }

  const sum = () => {
    const t = zeroCounts();
    for (const c of latest) {
      if (!c) continue;
      t.scheduled = Math.max(t.scheduled, c.scheduled);
      t.sent += c.sent;
      t.dropped += c.dropped;
      t.late += c.late;
      t.maxLagMs = Math.max(t.maxLagMs, c.maxLagMs);
      t.completed += c.completed;
      t.errors += c.errors;
      t.aborted += c.aborted;
      t.inFlight += c.inFlight;
      t.lastSendAt = Math.max(t.lastSendAt, c.lastSendAt);
      for (const [k, v] of Object.entries(c.statusCounts)) {
        t.statusCounts[k] = (t.statusCounts[k] ?? 0) + v;
      }
    }
    return t;
  };

  if (!interrupted) {
    // About 10 ms of each Worker's requests, so the start is not a connection storm.
    const count = Math.ceil(opts.rate / n / 100);
    workers.forEach((worker, w) => {
      const cap = Math.floor(concurrency / n) + (w < concurrency % n ? 1 : 0);
      worker.postMessage(
        {
          type: "connect",
          origin: base.origin,
          count: Math.max(1, Math.min(count, cap, 256)),
          withinMs: Math.min(1000, timeoutMs),
        } satisfies ToWorker,
      );
    });
    await connected;
  }
  if (!interrupted) {
    started = true;
    startAt = performance.timeOrigin + performance.now() + START_DELAY_MS;
    workers.forEach((worker, w) => {
      worker.postMessage({ type: "urls", urls: first[w] } satisfies ToWorker);
      const cap = Math.floor(concurrency / n) + (w < concurrency % n ? 1 : 0);
      worker.postMessage(
        {
          type: "start",
          worker: w,
          workers: n,
          intervalMs,
          total,
          origin: base.origin,
          startAt,
          concurrency: cap,
          timeoutMs,
          lateMs,
          headers: [...(opts.headers ?? new Headers())],
          flushMs: FLUSH_MS,
        } satisfies ToWorker,
      );
    });
    feeder = setInterval(() => {
      if (fed >= total) return clearInterval(feeder);
      try {
        const shares = feed(Math.ceil((elapsed() + LEAD_MS) / intervalMs));
        workers.forEach((worker, w) =>
          worker.postMessage({ type: "urls", urls: shares[w] } satisfies ToWorker)
        );
      } catch (err) {
        // A usage error in the mix: stop, send nothing more, report it.
        workerError = err as Error;
        clearInterval(feeder);
        post({ type: "stop" });
      }
    }, FEED_EVERY_MS);
    if (opts.onProgress) {
      const every = opts.progressIntervalMs ?? 1000;
      const progress = () => {
        if (doneCount === n || progressWanted > 0) return;
        const at = elapsed() / 1000;
        // Fresh counts from every Worker, so the line is exact at its time.
        progressWanted = n;
        onFlushed = () => {
          if (doneCount === n) return;
          const t = sum();
          opts.onProgress?.({
            elapsedS: round(at, 1),
            sent: t.sent,
            completed: t.completed,
            dropped: t.dropped,
            errors: t.errors,
            rps: at > 0 ? round(t.sent / at, 1) : 0,
            p99Ms: hist.totalCount > 0
              ? round(Math.min(hist.getValueAtPercentile(99), hist.maxValue) / 1000)
              : null,
            inFlight: t.inFlight,
          });
        };
        post({ type: "flush" });
      };
      // Ticks at whole intervals from the schedule's start.
      tickerStart = setTimeout(() => {
        ticker = setInterval(progress, every);
      }, START_DELAY_MS);
    }
    await finished;
  }
  cleanUp();
  if (workerError) throw workerError;
  const elapsedMs = started ? elapsed() : 0;
  const t = sum();
  // The window ends one interval after the last scheduled time, or later if the
  // schedule fell behind and sent the last request late: then achieved < offered.
  const windowMs = interrupted
    ? stopAt
    : Math.max(t.scheduled * intervalMs, t.lastSendAt + intervalMs);
  const windowS = windowMs / 1000;

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
  return {
    target: base.origin,
    rate: opts.rate,
    durationS: opts.durationMs / 1000,
    concurrency,
    scheduled: t.sent + t.dropped,
    sent: t.sent,
    dropped: t.dropped,
    late: t.late,
    maxSendLagMs: round(t.maxLagMs),
    completed: t.completed,
    errors: t.errors,
    aborted: t.aborted,
    statusCounts: t.statusCounts,
    windowS: round(windowS),
    offeredRate: windowS > 0 ? round((t.sent + t.dropped) / windowS, 2) : 0,
    achievedRate: windowS > 0 ? round(t.sent / windowS, 2) : 0,
    throughput: elapsedMs > 0 ? round(t.completed / (elapsedMs / 1000), 2) : 0,
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
