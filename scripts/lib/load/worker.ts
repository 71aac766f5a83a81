// One Worker's share of the open-model schedule of mod.ts (`runLoad`). With N
// Workers, Worker w owns requests w, w + N, w + 2N, ... of the one global
// schedule: request i is due at `i * intervalMs` after a start instant that all
// Workers share (an epoch time: performance.timeOrigin + performance.now() agrees
// across Workers to well under a millisecond). Each Worker has its own event loop,
// and so its own fetch connection pool and I/O, so a stall in one (GC, a burst of
// responses) neither delays the others nor the main thread.
//
// The main thread sends the request URLs ahead of time (a traffic mix is a
// function and cannot cross into a Worker); the Worker sends back its counters
// and the latencies it measured since the last flush, which the main thread
// records in its one HDR histogram.
/// <reference lib="deno.worker" />

/** The main thread's messages to a Worker. */
export type ToWorker = StartMessage | UrlsMessage | { type: "stop" } | { type: "flush" };

export interface StartMessage {
  type: "start";
  /** This Worker's number, 0..workers-1, and how many there are. */
  worker: number;
  workers: number;
  intervalMs: number;
  /** Requests in the whole (global) schedule. */
  total: number;
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

/** URLs of this Worker's next requests, in order. */
export interface UrlsMessage {
  type: "urls";
  urls: string[];
}

/** A Worker's messages to the main thread. */
export type FromWorker = { type: "ready" } | FlushMessage;

export interface WorkerCounts {
  /** Highest global request index whose due time came, plus one (0 before the first). */
  scheduled: number;
  sent: number;
  dropped: number;
  late: number;
  maxLagMs: number;
  completed: number;
  errors: number;
  aborted: number;
  inFlight: number;
  /** When the last request was actually sent, ms after the start. */
  lastSendAt: number;
  statusCounts: Record<string, number>;
}

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

/** A request's timer group: requests sent within one slot share a timeout controller. */
interface Slot {
  ctl: AbortController;
  timer: ReturnType<typeof setTimeout>;
  open: number;
}

/** The longest latency the histogram tracks (1 h in µs); it also fits in a Uint32. */
const MAX_US = 3_600_000_000;

function run(cfg: StartMessage): void {
  const t0 = cfg.startAt - performance.timeOrigin;
  const elapsed = () => performance.now() - t0;
  const headers = cfg.headers;
  const { worker: w, workers: n, intervalMs } = cfg;
  // Requests w, w + n, ... below total.
  const mine = cfg.total > w ? Math.ceil((cfg.total - w) / n) : 0;

  const c: WorkerCounts = {
    scheduled: 0,
    sent: 0,
    dropped: 0,
    late: 0,
    maxLagMs: 0,
    completed: 0,
    errors: 0,
    aborted: 0,
    inFlight: 0,
    lastSendAt: 0,
    statusCounts: {},
  };
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

  // Timeouts: one AbortSignal.timeout per request keeps a timer and a signal
  // alive for the whole timeout (10 s x 10,000/s = 100,000 live objects, which
  // made every scavenge copy them: 15-30 ms pauses). Requests sent within the
  // same slot share one controller that aborts `timeoutMs` after the slot's
  // end, so a request times out after between timeoutMs and timeoutMs + slotMs;
  // the timer is cleared as soon as the slot's last request is settled.
  const slotMs = Math.max(1, Math.min(10, cfg.timeoutMs / 10));
  const slots = new Map<number, Slot>();
  let currentSlotKey = -1;
  let currentSlot: Slot | undefined;
  const slotFor = (now: number): [number, Slot] => {
    const key = Math.floor(now / slotMs);
    if (key === currentSlotKey && currentSlot) return [key, currentSlot];
    const ctl = new AbortController();
    const timer = setTimeout(
      () => ctl.abort(new DOMException("request timed out", "TimeoutError")),
      Math.max(0, (key + 1) * slotMs + cfg.timeoutMs - now),
    );
    const slot = { ctl, timer, open: 0 };
    slots.set(key, slot);
    currentSlotKey = key;
    currentSlot = slot;
    return [key, slot];
  };
  const release = (key: number, slot: Slot) => {
    if (--slot.open === 0 && key !== currentSlotKey) {
      clearTimeout(slot.timer);
      slots.delete(key);
    }
  };

  let stopped = false;
  let scheduleOver = false;
  const maybeFinish = () => {
    if (!scheduleOver || c.inFlight > 0 || finished) return;
    finished = true;
    clearInterval(flusher);
    for (const s of slots.values()) clearTimeout(s.timer);
    slots.clear();
    flush(true);
  };

  const fire = async (url: string, dueAt: number, key: number, slot: Slot) => {
    try {
      const res = await fetch(url, { signal: slot.ctl.signal, redirect: "manual", headers });
      await res.arrayBuffer();
      const us = Math.max(1, Math.round((elapsed() - dueAt) * 1000));
      record(Math.min(us, MAX_US));
      c.completed++;
      count(String(res.status));
      if (res.status >= 400) c.errors++;
    } catch (err) {
      if (stopped) {
        c.aborted++;
        count("aborted");
      } else if ((err as Error).name === "TimeoutError") {
        c.errors++;
        count("timeout");
      } else {
        c.errors++;
        count("network-error");
      }
    } finally {
      c.inFlight--;
      release(key, slot);
      maybeFinish();
    }
  };

  onStop = () => {
    stopped = true;
    for (const s of slots.values()) s.ctl.abort();
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
        const [key, slot] = slotFor(sentAt);
        slot.open++;
        fire(url, dueAt, key, slot);
      }
      if (k < mine && queue.length === 0 && !stopped) {
        await waitForUrls();
      } else {
        // Let responses be processed between bursts.
        await Promise.resolve();
      }
    }
    scheduleOver = true;
    // The current slot stays armed while its requests are in flight; it is
    // not reused, so release it like the others.
    const cur = currentSlot;
    currentSlotKey = -1;
    if (cur && cur.open === 0) {
      clearTimeout(cur.timer);
      for (const [key, s] of slots) if (s === cur) slots.delete(key);
    }
    maybeFinish();
  })();
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
  } else if (m.type === "start") {
    run(m);
  } else if (m.type === "flush") {
    onFlush();
  } else {
    onStop();
  }
};
self.postMessage({ type: "ready" } satisfies FromWorker);
