/**
 * The bench's "floor" variant: the instrumented app's per-request telemetry
 * written by hand, as little code as the work allows, with no OpenTelemetry
 * API or SDK. It answers "how much of what instrumentation costs is the
 * runtime's, whoever writes it?": what `on` costs beyond this is our code and
 * the SDK's semantics; what this costs beyond bare Hono is paid by any
 * in-process instrumentation on Deno.
 *
 * Per request, the same telemetry as the app's /api/data (delay 0):
 * - a server span continuing an incoming W3C traceparent, with the app's
 *   attributes, a `cache.lookup` child (and `db.query` on a miss, with the
 *   same cache size) and the `order.completed` event, its context carried
 *   through the request by AsyncLocalStorage (what OTel's context manager uses);
 * - the handler's JSON log line with trace ids, to stdout (buffered, as the
 *   app's logger does) and as an OTLP log record;
 * - a request counter and duration histogram per method, route and status;
 * - `traceparent` on the response.
 * Spans (512 a batch or every second) and log records (1024 or every second)
 * are encoded as OTLP protobuf and POSTed to OTEL_EXPORTER_OTLP_ENDPOINT.
 * Not done, as a floor: span limits, samplers, baggage, metric export (its
 * cost is per interval, not per request), retries and loss accounting.
 *
 *   deno run --allow-net --allow-env=OTEL_EXPORTER_OTLP_ENDPOINT \
 *     scripts/lib/bench/floor_app.ts --port 8080
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Hono } from "hono";
import { matchedRoutes } from "hono/route";
import { normalizeOtlpEndpoint } from "../../../apps/lib/otlp_endpoint.ts";
import { ProtoWriter } from "../../../apps/lib/otlp_proto.ts";
import { serverArgs } from "./server_args.ts";

const ITEM_COUNT = 100;
const CACHE_CAPACITY = 80;
const SPAN_BATCH = 512;
const LOG_BATCH = 1024;
const EXPORT_EVERY_MS = 1000;
const STDOUT_FLUSH_CHARS = 64 * 1024;
const STDOUT_FLUSH_MS = 10;
const DURATION_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SERVICE = "floor-app";

// Protobuf wire types.
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

type Value = string | number | boolean;
/** Attributes as flat key, value pairs: no object per attribute. */
type Pairs = Value[];

interface SpanRecord {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentId?: Uint8Array;
  name: string;
  server: boolean;
  startMs: number;
  endMs: number;
  attrs: Pairs;
  event?: { timeMs: number; name: string; attrs: Pairs };
}

interface RequestContext {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceparent: string;
  span: SpanRecord;
}

interface LogRecord {
  timeMs: number;
  message: string;
  traceId: Uint8Array;
  spanId: Uint8Array;
  attrs: Pairs;
}

const { port, hostname } = serverArgs(
  "The bench's floor variant: the app's per-request telemetry by hand, no OTel SDK; " +
    "OTLP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT.",
);
// The apps' own rule for the endpoint (default, scheme, the 4317 slip); its notice to stderr.
let endpoint: string;
try {
  endpoint = normalizeOtlpEndpoint(Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT"), console.error);
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  Deno.exit(2);
}

// ------------------------------------------------------------------ ids

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const randomPool = new Uint8Array(64 * 1024);
let poolPos = randomPool.length;

/** `n` random bytes, from a pool refilled by the runtime's CSPRNG. */
function randomBytes(n: number): Uint8Array {
  if (poolPos + n > randomPool.length) {
    crypto.getRandomValues(randomPool);
    poolPos = 0;
  }
  // A copy: the pool is refilled while records still hold their ids.
  const out = randomPool.slice(poolPos, poolPos + n);
  poolPos += n;
  return out;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

function hexToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

// ------------------------------------------------------------------ encoding

function keyValue(w: ProtoWriter, field: number, key: string, value: Value): void {
  w.tag(field, LEN);
  const kv = w.begin();
  w.tag(1, LEN);
  w.string(key);
  w.tag(2, LEN);
  const any = w.begin();
  if (typeof value === "string") {
    w.tag(1, LEN);
    w.string(value);
  } else if (typeof value === "boolean") {
    w.tag(2, VARINT);
    w.varint(value ? 1 : 0);
  } else if (Number.isInteger(value) && value >= 0) {
    w.tag(3, VARINT);
    w.varint(value);
  } else {
    w.tag(4, FIXED64);
    w.double(value);
  }
  w.end(any);
  w.end(kv);
}

function pairs(w: ProtoWriter, field: number, attrs: Pairs): void {
  for (let i = 0; i < attrs.length; i += 2) keyValue(w, field, attrs[i] as string, attrs[i + 1]);
}

function bytes(w: ProtoWriter, field: number, b: Uint8Array): void {
  w.tag(field, LEN);
  w.varint(b.length);
  w.raw(b);
}

/** resource_* (field 1) and the scope_* message (field 2) around `body`. */
function envelope(w: ProtoWriter, body: () => void): Uint8Array<ArrayBuffer> {
  w.pos = 0;
  w.tag(1, LEN);
  const resource = w.begin();
  w.tag(1, LEN);
  const res = w.begin();
  keyValue(w, 1, "service.name", SERVICE);
  w.end(res);
  w.tag(2, LEN);
  const scope = w.begin();
  body();
  w.end(scope);
  w.end(resource);
  return w.finish();
}

const writer = new ProtoWriter();

function encodeSpans(batch: SpanRecord[]): Uint8Array<ArrayBuffer> {
  return envelope(writer, () => {
    const w = writer;
    for (const s of batch) {
      w.tag(2, LEN);
      const m = w.begin();
      bytes(w, 1, s.traceId);
      bytes(w, 2, s.spanId);
      if (s.parentId) bytes(w, 4, s.parentId);
      w.tag(5, LEN);
      w.string(s.name);
      w.tag(6, VARINT);
      w.varint(s.server ? 2 : 1); // SPAN_KIND_SERVER, SPAN_KIND_INTERNAL
      w.tag(7, FIXED64);
      w.epochMs(s.startMs);
      w.tag(8, FIXED64);
      w.epochMs(s.endMs);
      pairs(w, 9, s.attrs);
      if (s.event) {
        w.tag(11, LEN);
        const e = w.begin();
        w.tag(1, FIXED64);
        w.epochMs(s.event.timeMs);
        w.tag(2, LEN);
        w.string(s.event.name);
        pairs(w, 3, s.event.attrs);
        w.end(e);
      }
      w.end(m);
    }
  });
}

function encodeLogs(batch: LogRecord[]): Uint8Array<ArrayBuffer> {
  return envelope(writer, () => {
    const w = writer;
    for (const l of batch) {
      w.tag(2, LEN);
      const m = w.begin();
      w.tag(1, FIXED64);
      w.epochMs(l.timeMs);
      w.tag(2, VARINT);
      w.varint(9); // SEVERITY_NUMBER_INFO
      w.tag(3, LEN);
      w.string("INFO");
      w.tag(5, LEN);
      const body = w.begin();
      w.tag(1, LEN);
      w.string(l.message);
      w.end(body);
      pairs(w, 6, l.attrs);
      w.tag(8, FIXED32);
      w.fixed32(1);
      bytes(w, 9, l.traceId);
      bytes(w, 10, l.spanId);
      w.end(m);
    }
  });
}

// ------------------------------------------------------------------ export

let spans: SpanRecord[] = [];
let logs: LogRecord[] = [];

function post(path: string, body: Uint8Array<ArrayBuffer>): void {
  fetch(`${endpoint}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-protobuf" },
    body,
  }).then((res) => res.body?.cancel(), () => {});
}

function exportSpans(): void {
  if (spans.length === 0) return;
  const batch = spans;
  spans = [];
  post("/v1/traces", encodeSpans(batch));
}

function exportLogs(): void {
  if (logs.length === 0) return;
  const batch = logs;
  logs = [];
  post("/v1/logs", encodeLogs(batch));
}

setInterval(() => {
  exportSpans();
  exportLogs();
}, EXPORT_EVERY_MS);

// ------------------------------------------------------------------ stdout

const utf8 = new TextEncoder();
let pendingOut = "";
let outTimer: ReturnType<typeof setTimeout> | undefined;
let outBytes = new Uint8Array(4 * STDOUT_FLUSH_CHARS);

function flushOut(): void {
  outTimer = undefined;
  if (pendingOut === "") return;
  if (pendingOut.length * 3 > outBytes.length) outBytes = new Uint8Array(pendingOut.length * 3);
  const { written } = utf8.encodeInto(pendingOut, outBytes);
  pendingOut = "";
  let off = 0;
  while (off < written) off += Deno.stdout.writeSync(outBytes.subarray(off, written));
}

function writeLine(line: string): void {
  pendingOut += line;
  if (pendingOut.length >= STDOUT_FLUSH_CHARS) flushOut();
  else outTimer ??= setTimeout(flushOut, STDOUT_FLUSH_MS);
}

// ------------------------------------------------------------------ metrics

const requestCounts = new Map<string, number>();
const durationCounts = new Map<string, Float64Array>();

function recordRequest(method: string, route: string, status: number, seconds: number): void {
  const key = `${method} ${route} ${status}`;
  requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
  let counts = durationCounts.get(key);
  if (!counts) durationCounts.set(key, counts = new Float64Array(DURATION_BOUNDS.length + 1));
  let i = 0;
  while (i < DURATION_BOUNDS.length && seconds > DURATION_BOUNDS[i]) i++;
  counts[i]++;
}

// ------------------------------------------------------------------ app

const als = new AsyncLocalStorage<RequestContext>();
const cache = new Map<number, { id: number; name: string; price: number }>();
const app = new Hono();

app.use("*", async (c, next) => {
  const startMs = Date.now();
  const t0 = performance.now();
  const headers = c.req.raw.headers;
  const incoming = TRACEPARENT.exec(headers.get("traceparent") ?? "");
  const traceId = incoming ? hexToBytes(incoming[1]) : randomBytes(16);
  const spanId = randomBytes(8);
  const path = c.req.path;
  const span: SpanRecord = {
    traceId,
    spanId,
    parentId: incoming ? hexToBytes(incoming[2]) : undefined,
    name: c.req.method,
    server: true,
    startMs,
    endMs: 0,
    attrs: [
      "http.request.method",
      c.req.method,
      "url.path",
      path,
      "url.scheme",
      "http",
      "server.address",
      hostname,
      "server.port",
      port,
      "user_agent.original",
      headers.get("user-agent") ?? "",
    ],
  };
  const traceparent = `00-${incoming ? incoming[1] : hex(traceId)}-${hex(spanId)}-01`;
  await als.run({ traceId, spanId, traceparent, span }, next);
  const ms = performance.now() - t0;
  const routes = matchedRoutes(c);
  const last = routes[routes.length - 1];
  const route = last && last.method !== "ALL" ? last.path : "unmatched";
  const status = c.res.status;
  span.endMs = startMs + ms;
  span.name = `${c.req.method} ${route}`;
  span.attrs.push("http.route", route, "http.response.status_code", status);
  recordRequest(c.req.method, route, status, ms / 1000);
  spans.push(span);
  if (spans.length >= SPAN_BATCH) exportSpans();
});

function childSpan(ctx: RequestContext, name: string, startMs: number, attrs: Pairs): SpanRecord {
  return {
    traceId: ctx.traceId,
    spanId: randomBytes(8),
    parentId: ctx.spanId,
    name,
    server: false,
    startMs,
    endMs: Date.now(),
    attrs,
  };
}

app.get("/api/data", () => {
  const ctx = als.getStore()!;
  const id = Math.floor(Math.random() * ITEM_COUNT);
  const lookupStart = Date.now();
  let item = cache.get(id);
  spans.push(childSpan(ctx, "cache.lookup", lookupStart, ["cache.hit", item !== undefined]));
  if (!item) {
    const queryStart = Date.now();
    item = { id, name: `item-${id}`, price: 5 + (id % 20) * 2.5 };
    if (cache.size >= CACHE_CAPACITY) cache.delete(cache.keys().next().value!);
    cache.set(id, item);
    spans.push(childSpan(ctx, "db.query", queryStart, [
      "db.system.name",
      "other_sql",
      "db.operation.name",
      "SELECT",
      "db.collection.name",
      "items",
    ]));
  }
  const now = Date.now();
  ctx.span.event = {
    timeMs: now,
    name: "order.completed",
    attrs: ["app.item.id", item.id, "app.order.value", item.price],
  };
  writeLine(
    `{"timestamp":"${new Date(now).toISOString()}","level":"INFO","message":"data served",` +
      `"service":"${SERVICE}","trace_id":"${ctx.traceparent.slice(3, 35)}",` +
      `"span_id":"${ctx.traceparent.slice(36, 52)}","item_id":${item.id},"delay_seconds":0}\n`,
  );
  logs.push({
    timeMs: now,
    message: "data served",
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    attrs: ["item_id", item.id, "delay_seconds", 0],
  });
  if (logs.length >= LOG_BATCH) exportLogs();
  return new Response(JSON.stringify({ data: item, delay_seconds: 0 }), {
    headers: { "content-type": "application/json", traceparent: ctx.traceparent },
  });
});

const server = Deno.serve({ port, hostname, onListen() {} }, app.fetch);

// Stopped by the bench with SIGTERM: what is buffered leaves first.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    flushOut();
    exportSpans();
    exportLogs();
    // The last POSTs get a moment; the floor does not retry.
    setTimeout(() => Deno.exit(0), 200);
  });
}
