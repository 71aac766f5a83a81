// One Worker's share of the open-model schedule of mod.ts (`runLoad`). With N
// Workers, Worker w owns requests w, w + N, w + 2N, ... of the one global
// schedule: request i is due at `i * intervalMs` after a start instant that all
// Workers share (an epoch time: performance.timeOrigin + performance.now() agrees
// across Workers to well under a millisecond). Each Worker has its own event loop,
// and so its own connections (http1.ts) and I/O, so a stall in one (GC, a burst
// of responses) neither delays the others nor the main thread.
//
// The main thread sends the request URLs ahead of time (a traffic mix is a
// function and cannot cross into a Worker); the Worker sends back its counters
// and the latencies it measured since the last flush, which the main thread
// records in its one HDR histogram.
/// <reference lib="deno.worker" />
import { Http1Conn, NoResponse, requestBytes } from "./http1.ts";
import { type WorkerCounts, zeroCounts } from "./counts.ts";

/** The main thread's messages to a Worker. */
export type ToWorker =
  | ConnectMessage
  | StartMessage
  | UrlsMessage
  | { type: "stop" }
  | { type: "flush" };

/**
 * Open `count` connections before the start: without them the first
 * requests each opened one, the server's latency grew with the connection
 * storm, more connections were opened, and the first half second dropped
 * hundreds of requests at 10,000/s. Failures are ignored (the requests will
 * report them); a slow connect is not waited for beyond `withinMs`.
 */
export interface ConnectMessage {
  type: "connect";
  origin: string;
  count: number;
  withinMs: number;
}

export interface StartMessage {
  type: "start";
  /** This Worker's number, 0..workers-1, and how many there are. */
  worker: number;
  workers: number;
  intervalMs: number;
  /** Requests in the whole (global) schedule. */
  total: number;
  /** The target's origin; requests are `GET target` on it. */
  origin: string;
  /** The schedule's start, as performance.timeOrigin + performance.now() (epoch ms). */
  startAt: number;
  /** This Worker's share of the cap on requests in flight. */
  concurrency: number;
  timeoutMs: number;
  lateMs: number;
  headers: [string, string][];
  /** How often counts and latencies are sent back, ms. */
  flushMs: number;
}

/** Request targets (path and query) of this Worker's next requests, in order. */
export interface UrlsMessage {
  type: "urls";
  urls: string[];
}

/** A Worker's messages to the main thread. */
export type FromWorker = { type: "ready" } | { type: "connected" } | FlushMessage;

/** A Worker's cumulative counts (load/counts.ts: shared with the main thread, which sums them). */
export type { WorkerCounts } from "./counts.ts";

export interface FlushMessage {
  type: "flush";
  /** Cumulative. */
  counts: WorkerCounts;
  /** Latencies in µs (from the scheduled time) measured since the previous flush. */
  latenciesUs: Uint32Array;
  /** The schedule is over and nothing is in flight. */
  done: boolean;
  /** An answer to a "flush" (the main thread wants fresh counts for its progress line). */
  reply: boolean;
}

/** A request in flight, as the timeout sweep and a stop see it. */
interface InFlight {
  /** ms after the start. */
  deadline: number;
  conn: Http1Conn | undefined;
  cancelled: "timeout" | "stop" | undefined;
  /** Takes it out of the line for a connection. */
  onCancel: ((why: string) => void) | undefined;
  cancel(why: "timeout" | "stop"): void;
}

interface Waiter {
  resolve(conn: Http1Conn): void;
  reject(err: Error): void;
}

/** Connects in progress at once, per Worker (see the pool in run). */
const MAX_CONNECTING = 4;

/** The longest latency the histogram tracks (1 h in µs); it also fits in a Uint32. */
const MAX_US = 3_600_000_000;

function run(cfg: StartMessage): void {
  const t0 = cfg.startAt - performance.timeOrigin;
  const elapsed = () => performance.now() - t0;
  const { worker: w, workers: n, intervalMs } = cfg;
  // Requests w, w + n, ... below total.
  const mine = cfg.total > w ? Math.ceil((cfg.total - w) / n) : 0;

  const c: WorkerCounts = zeroCounts();
  const count = (k: string) => c.statusCounts[k] = (c.statusCounts[k] ?? 0) + 1;
  let lat = new Uint32Array(4096);
  let nLat = 0;
  const record = (us: number) => {
    if (nLat === lat.length) {
      const bigger = new Uint32Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[nLat++] = us;
  };
  let finished = false;
  const flush = (done: boolean, reply = false) => {
    const latenciesUs = lat.slice(0, nLat);
    nLat = 0;
    const msg: FlushMessage = { type: "flush", counts: c, latenciesUs, done, reply };
    self.postMessage(msg, [latenciesUs.buffer]);
  };
  onFlush = () => flush(finished, true);
  const flusher = setInterval(() => flush(false), cfg.flushMs);

  // Connections: at most one request in flight on each (no pipelining), so
  // this Worker's share of the cap also bounds its connections.
  const base = new URL(cfg.origin);
  const requests = new Map<string, Uint8Array>();
  const requestFor = (target: string) => {
    let bytes = requests.get(target);
    if (bytes === undefined) {
      bytes = requestBytes(base.host, target, cfg.headers);
      // A mix of unique paths must not grow this without bound.
      if (requests.size > 10_000) requests.clear();
      requests.set(target, bytes);
    }
    return bytes;
  };

  // Timeouts: requests are sent in due order with one timeout, so the busy set
  // (insertion-ordered) is also in deadline order and a sweep stops at the
  // first request not yet due to time out. One timer for all of them: an
  // AbortSignal.timeout per request kept 10 s x 10,000/s = 100,000 timers and
  // signals alive, and every scavenge copied them (15-30 ms pauses).
  const busy = new Set<InFlight>();
  const sweepMs = Math.max(1, Math.min(10, cfg.timeoutMs / 10));
  const sweeper = setInterval(() => {
    const now = elapsed();
    for (const r of busy) {
      if (r.deadline > now) break;
      r.cancel("timeout");
    }
  }, sweepMs);

  let stopped = false;
  let scheduleOver = false;
  const maybeFinish = () => {
    if (!scheduleOver || c.inFlight > 0 || finished) return;
    finished = true;
    clearInterval(flusher);
    clearInterval(sweeper);
    for (const conn of idle.splice(0)) conn.close();
    flush(true);
  };

  // The pool: a request takes an idle connection, or waits in line for one to
  // be released or opened, with at most MAX_CONNECTING connects at a time.
  // Opening a connection for every request that found none turned a short
  // pause of the server into hundreds of new connections, which slowed it
  // further: at the start of runs at 10,000/s, 1,000 in flight and 300 ms.
  // The wait is part of the latency (measured from the due time) like any.
  const waiters: Waiter[] = [];
  let connecting = 0;
  const grow = () => {
    while (connecting < MAX_CONNECTING && waiters.length > connecting && !stopped) {
      connecting++;
      Http1Conn.open(base).then((conn) => {
        connecting--;
        release(conn);
      }, (err) => {
        connecting--;
        // The first in line gets the error: with nothing listening every
        // request reports its own network error, as with fetch.
        waiters.shift()?.reject(err);
        grow();
      });
    }
  };
  const release = (conn: Http1Conn) => {
    if (!conn.reusable || stopped) conn.close();
    else {
      const next = waiters.shift();
      if (next) next.resolve(conn);
      else idle.push(conn);
    }
    grow();
  };
  const acquire = (r: InFlight): Promise<Http1Conn> => {
    const conn = idle.pop();
    if (conn) return Promise.resolve(conn);
    return new Promise<Http1Conn>((resolve, reject) => {
      const waiter: Waiter = {
        resolve(conn) {
          r.onCancel = undefined;
          resolve(conn);
        },
        reject(err) {
          r.onCancel = undefined;
          reject(err);
        },
      };
      r.onCancel = (why) => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(why));
      };
      waiters.push(waiter);
      grow();
    });
  };

  const fire = async (target: string, dueAt: number, sentAt: number) => {
    const request = requestFor(target);
    const r: InFlight = {
      deadline: sentAt + cfg.timeoutMs,
      conn: undefined,
      cancelled: undefined,
      onCancel: undefined,
      cancel(why) {
        if (this.cancelled) return;
        this.cancelled = why;
        busy.delete(this);
        this.conn?.close();
        this.onCancel?.(why);
      },
    };
    busy.add(r);
    try {
      let status: number;
      for (let attempt = 0;; attempt++) {
        const conn = await acquire(r);
        r.conn = conn;
        const reused = conn.uses > 0;
        try {
          status = await conn.exchange(request);
        } catch (err) {
          grow();
          // A kept-alive connection the server closed meanwhile: once more on a
          // new one (what browsers and fetch do for an idempotent GET).
          if (err instanceof NoResponse && reused && attempt === 0 && !r.cancelled) continue;
          throw err;
        }
        release(conn);
        break;
      }
      const us = Math.max(1, Math.round((elapsed() - dueAt) * 1000));
      record(Math.min(us, MAX_US));
      c.completed++;
      count(String(status));
      if (status >= 400) c.errors++;
    } catch {
      if (stopped || r.cancelled === "stop") {
        c.aborted++;
        count("aborted");
      } else if (r.cancelled === "timeout") {
        c.errors++;
        count("timeout");
      } else {
        c.errors++;
        count("network-error");
      }
    } finally {
      busy.delete(r);
      c.inFlight--;
      maybeFinish();
    }
  };

  onStop = () => {
    stopped = true;
    for (const r of busy) r.cancel("stop");
    wakeUp();
  };

  (async () => {
    let k = 0;
    while (k < mine && !stopped) {
      const now = elapsed();
      const due = (w + k * n) * intervalMs;
      if (due > now) {
        await sleep(due - now);
        continue;
      }
      // Dispatch everything that is due (catching up if the loop was late).
      while (k < mine && (w + k * n) * intervalMs <= now) {
        const url = nextUrl();
        if (url === undefined) break; // the URLs are late: wait for them below
        const i = w + k * n;
        const dueAt = i * intervalMs;
        k++;
        c.scheduled = i + 1;
        if (c.inFlight >= cfg.concurrency) {
          c.dropped++;
          continue;
        }
        const sentAt = elapsed();
        const lag = sentAt - dueAt;
        if (lag > c.maxLagMs) c.maxLagMs = lag;
        if (lag > cfg.lateMs) c.late++;
        c.sent++;
        c.inFlight++;
        c.lastSendAt = sentAt;
        fire(url, dueAt, sentAt);
      }
      if (k < mine && queue.length === 0 && !stopped) {
        await waitForUrls();
      } else {
        // Let responses be processed between bursts.
        await Promise.resolve();
      }
    }
    scheduleOver = true;
    maybeFinish();
  })();
}

/** Kept-alive connections not in use. */
const idle: Http1Conn[] = [];

async function preconnect(m: ConnectMessage): Promise<void> {
  const url = new URL(m.origin);
  const opening = Array.from(
    { length: m.count },
    () => Http1Conn.open(url).then((conn) => idle.push(conn), () => {}),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(opening),
    new Promise((resolve) => timer = setTimeout(resolve, m.withinMs)),
  ]);
  clearTimeout(timer);
  self.postMessage({ type: "connected" } satisfies FromWorker);
}

// The URLs of this Worker's requests, in order, as they arrive (the first
// before "start").
const queue: string[][] = [];
let qPos = 0;
let wake: (() => void) | null = null;
let sleepTimer: ReturnType<typeof setTimeout> | undefined;
let onStop = () => {};
let onFlush = () => {};

function wakeUp(): void {
  if (sleepTimer !== undefined) clearTimeout(sleepTimer);
  sleepTimer = undefined;
  const w = wake;
  wake = null;
  w?.();
}

/** Sleeps `ms`, or less when URLs arrive or a stop comes. */
function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    wake = resolve;
    sleepTimer = setTimeout(wakeUp, ms);
  });
}

function waitForUrls(): Promise<void> {
  return new Promise<void>((resolve) => wake = resolve);
}

function nextUrl(): string | undefined {
  while (queue.length > 0 && qPos >= queue[0].length) {
    queue.shift();
    qPos = 0;
  }
  return queue.length > 0 ? queue[0][qPos++] : undefined;
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "urls") {
    if (m.urls.length > 0) queue.push(m.urls);
    wakeUp();
  } else if (m.type === "connect") {
    preconnect(m);
  } else if (m.type === "start") {
    run(m);
  } else if (m.type === "flush") {
    onFlush();
  } else {
    onStop();
  }
};
self.postMessage({ type: "ready" } satisfies FromWorker);
