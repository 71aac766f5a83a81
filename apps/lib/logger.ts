/**
 * Structured logging: one JSON object per line on stdout with timestamp,
 * level, message, service, and trace_id/span_id whenever a span is active,
 * so a log line can be joined to its trace.
 *
 * Lines are buffered and written at most every FLUSH_MS (or when 64 KiB
 * accumulate) instead of one synchronous write per line: under load that is
 * the difference between a syscall (and a timer) per request and one per
 * batch of hundreds of lines.
 *
 * Performance (scripts/bench.ts): a line is built as a string directly, the
 * same bytes JSON.stringify of the record would give, and the ISO timestamp
 * is formatted once per millisecond; callers that already hold the span
 * (the HTTP middleware) pass its context instead of activating it.
 */
import { context, ROOT_CONTEXT, type SpanContext, trace } from "@opentelemetry/api";
import { countDropped } from "./telemetry_loss.ts";
import type { LogEntry } from "./otlp_proto.ts";

export type LogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /**
   * Logs with trace_id/span_id taken from `span` instead of the active span
   * (same line as logging inside `context.with(span)`, without the context
   * switch). Optional: callers fall back to activating the span.
   */
  logWithSpan?(level: LogLevel, message: string, span: SpanContext, fields?: LogFields): void;
}

/** Where lines go; tests swap it to capture output. */
export interface LogSink {
  write(line: string): void;
}

const encoder = new TextEncoder();
const FLUSH_BYTES = 64 * 1024;
/** A line waits at most this long before it is written. */
const FLUSH_MS = 10;

class BufferedStdout implements LogSink {
  private pending = "";
  private scheduled = false;
  // Reused for every flush: lines are encoded into it, not into a new array.
  private bytes = new Uint8Array(4 * FLUSH_BYTES);

  write(line: string): void {
    if (this.closed) {
      countDropped("logs", "stdout_closed", 1);
      return;
    }
    this.pending += line;
    if (this.pending.length >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), FLUSH_MS);
    }
  }

  private closed = false;

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending;
    this.pending = "";
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    if (text.length * 3 > this.bytes.length) this.bytes = new Uint8Array(text.length * 3);
    const { written } = encoder.encodeInto(text, this.bytes);
    if (this.closed) return;
    let off = 0;
    try {
      while (off < written) off += Deno.stdout.writeSync(this.bytes.subarray(off, written));
    } catch (err) {
      // stdout went away (`| head`, a closed terminal): keep serving, stop logging.
      if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
      this.closed = true;
      // Whole lines only: the part of this batch already written counts as written.
      const unwritten = encoder.encode(text).subarray(off);
      countDropped("logs", "stdout_closed", unwritten.filter((b) => b === 10).length);
    }
  }
}

const stdoutSink = new BufferedStdout();
let sink: LogSink = stdoutSink;
// A process that exits (Deno.exit, end of script) must not lose buffered lines.
globalThis.addEventListener("unload", () => stdoutSink.flush());

/** Redirects all loggers (tests capture lines with this). Returns the previous sink. */
export function setLogSink(next: LogSink): LogSink {
  const prev = sink;
  sink = next;
  return prev;
}

/**
 * Where records go besides stdout: the OTLP log export (log_export.ts), when
 * set up. It gets the record's parts and the length of its stdout line.
 */
export type LogForwarder = (entry: LogEntry, chars: number) => void;
let forward: LogForwarder | undefined;

/** Hands every record to `fn` too (undefined stops it). Returns the previous one. */
export function setLogForwarder(fn: LogForwarder | undefined): LogForwarder | undefined {
  const prev = forward;
  forward = fn;
  return prev;
}

/** Writes buffered lines now (before exit or a blocking wait). */
export function flushLogs(): void {
  stdoutSink.flush();
}

const LEVEL_ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

let levelWarningGiven = false;

function minLevel(): number {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("LOG_LEVEL");
  } catch {
    raw = undefined;
  }
  const key = (raw || "INFO").toUpperCase() as LogLevel;
  if (LEVEL_ORDER[key] === undefined && !levelWarningGiven) {
    levelWarningGiven = true;
    // Written directly: the logger is being built and must not recurse.
    sink.write(
      JSON.stringify({
        timestamp: new Date().toISOString(),
        level: "WARN",
        message: `LOG_LEVEL '${raw}' is not one of DEBUG, INFO, WARN, ERROR; using INFO`,
        service: "obskit",
      }) + "\n",
    );
  }
  return LEVEL_ORDER[key] ?? LEVEL_ORDER.INFO;
}

let lastMs = NaN;
let lastIso = "";
let secondStart = NaN;
let secondPrefix = "";

/**
 * `new Date(ms).toISOString()` for a time since 1970, with the part up to the
 * seconds formatted once per second: a busy server writes a line nearly every
 * millisecond, and building a Date and its ISO text each time cost more than
 * the rest of the line.
 */
export function isoTime(ms: number): string {
  const frac = ms % 1000;
  const second = ms - frac;
  if (second !== secondStart) {
    secondStart = second;
    secondPrefix = new Date(second).toISOString().slice(0, 20); // YYYY-MM-DDTHH:mm:ss.
  }
  return secondPrefix + (frac < 10 ? "00" : frac < 100 ? "0" : "") + frac + "Z";
}

/** The current time as isoTime gives it, computed at most once per millisecond. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = isoTime(ms);
  }
  return lastIso;
}

const RESERVED = new Set(["timestamp", "level", "message", "service"]);
const RESERVED_WITH_SPAN = new Set([...RESERVED, "trace_id", "span_id"]);
const keyPrefixes = new Map<string, string>();

/** `,"key":` with the key JSON-escaped, remembered per key. */
function keyPrefix(key: string): string {
  let p = keyPrefixes.get(key);
  if (p === undefined) {
    p = `,${JSON.stringify(key)}:`;
    if (keyPrefixes.size < 1000) keyPrefixes.set(key, p);
  }
  return p;
}

/** The record as JSON.stringify would write it, keys in insertion order. */
function formatLine(
  level: LogLevel,
  message: string,
  serviceJson: string,
  service: string,
  span: SpanContext | undefined,
  fields: LogFields | undefined,
): string {
  let line = `{"timestamp":"${isoNow()}","level":"${level}","message":${
    JSON.stringify(message)
  },"service":${serviceJson}`;
  if (span) {
    line += `,"trace_id":${JSON.stringify(span.traceId)},"span_id":${JSON.stringify(span.spanId)}`;
  }
  if (fields) {
    const reserved = span ? RESERVED_WITH_SPAN : RESERVED;
    for (const key in fields) {
      // `in` also sees Object.prototype's names, as the record's `key in record` did.
      if (reserved.has(key) || key in Object.prototype) continue;
      const c = key.charCodeAt(0);
      // Integer-like keys (which JSON.stringify would move first) and
      // __proto__ take the slow path that builds the object.
      if ((c >= 48 && c <= 57) || key === "__proto__") {
        return slowLine(level, message, service, span, fields);
      }
      const v = fields[key];
      const t = typeof v;
      if (t === "string") line += keyPrefix(key) + JSON.stringify(v);
      else if (t === "number") line += keyPrefix(key) + (Number.isFinite(v) ? String(v) : "null");
      else if (t === "boolean" || v === null) {
        line += keyPrefix(key) + String(v);
      } else if (t !== "undefined" && t !== "function" && t !== "symbol") {
        // Objects (and toJSON) serialize exactly as a property of the record would.
        const pair = JSON.stringify({ [key]: v });
        if (pair.length > 2) line += "," + pair.slice(1, -1);
      }
    }
  }
  return line + "}";
}

function slowLine(
  level: LogLevel,
  message: string,
  service: string,
  span: SpanContext | undefined,
  fields: LogFields,
): string {
  const record: LogFields = { timestamp: isoNow(), level, message, service };
  if (span) {
    record.trace_id = span.traceId;
    record.span_id = span.spanId;
  }
  for (const key in fields) {
    if (!(key in record)) record[key] = fields[key];
  }
  return JSON.stringify(record);
}

export function createLogger(service: string): Logger {
  const threshold = minLevel();
  const serviceJson = JSON.stringify(service);
  const write = (
    level: LogLevel,
    message: string,
    span: SpanContext | undefined,
    fields?: LogFields,
  ) => {
    if (LEVEL_ORDER[level] < threshold) return;
    const line = formatLine(level, message, serviceJson, service, span, fields);
    sink.write(line + "\n");
    forward?.({
      timeMs: lastMs,
      level,
      message,
      traceId: span?.traceId,
      spanId: span?.spanId,
      fields,
    }, line.length);
  };
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_ORDER[level] < threshold) return;
    write(level, message, trace.getActiveSpan()?.spanContext(), fields);
  };
  return {
    debug: (m, f) => emit("DEBUG", m, f),
    info: (m, f) => emit("INFO", m, f),
    warn: (m, f) => emit("WARN", m, f),
    error: (m, f) => emit("ERROR", m, f),
    logWithSpan: write,
  };
}

/**
 * ACCESS_LOG=on (or true, 1): the apps write one "request completed" line
 * per request. Off by default: the server span and the metrics carry the
 * same fields, and a handler's own lines keep their trace ids either way.
 */
export function accessLogWanted(): boolean {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("ACCESS_LOG");
  } catch {
    raw = undefined;
  }
  return ["on", "true", "1"].includes((raw ?? "").trim().toLowerCase());
}

/**
 * Made at the first warning, not when this module loads: creating a logger
 * reads LOG_LEVEL, and a script that loads the logger only through a shared
 * module (doctor, through the OTLP endpoint rule) is not granted it; in a
 * terminal Deno would stop to ask.
 */
let kitLogger: Logger | undefined;
let kitService = "obskit";

/** Names the service that the kit's own warnings are logged under. */
export function setKitService(service: string): void {
  kitService = service;
  kitLogger = undefined;
}

/**
 * A warning from the kit itself (telemetry setup, export problems). Logged
 * outside any span: an export failing inside a request's context is not
 * part of that request.
 */
export function logWarning(message: string): void {
  const logger = kitLogger ??= createLogger(kitService);
  context.with(ROOT_CONTEXT, () => logger.warn(message));
}
