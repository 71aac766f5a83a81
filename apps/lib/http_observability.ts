/**
 * One Hono middleware that observes every request: the Prometheus contract
 * families (docs/architecture.md), an OTel server span continuing W3C traceparent, the
 * semantic-convention OTLP metrics, and an access log line. Both servers use
 * it, so handlers never repeat metric code.
 *
 * Labels use the route template (`/api/data`), never the raw path; a request
 * no route matched is `endpoint="unmatched"`, so no client can create series.
 */
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  INVALID_SPANID,
  INVALID_TRACEID,
  type Meter,
  propagation,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from "@opentelemetry/api";
import {
  HTTP_REQUEST_METHOD_VALUE_CONNECT,
  HTTP_REQUEST_METHOD_VALUE_DELETE,
  HTTP_REQUEST_METHOD_VALUE_GET,
  HTTP_REQUEST_METHOD_VALUE_HEAD,
  HTTP_REQUEST_METHOD_VALUE_OPTIONS,
  HTTP_REQUEST_METHOD_VALUE_OTHER,
  HTTP_REQUEST_METHOD_VALUE_PATCH,
  HTTP_REQUEST_METHOD_VALUE_POST,
  HTTP_REQUEST_METHOD_VALUE_PUT,
  HTTP_REQUEST_METHOD_VALUE_TRACE,
} from "@opentelemetry/semantic-conventions";
import type { Context as HonoContext, Hono, MiddlewareHandler, NotFoundHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Logger } from "./logger.ts";
import type { MetricSource } from "./prom_bridge.ts";
import { DurationSource, type HttpMetrics, type RequestMetricsTable } from "./request_metrics.ts";

export { createHttpMetrics, DURATION_BUCKETS, type HttpMetrics } from "./request_metrics.ts";

export const UNMATCHED = "unmatched";
/** The access log's path field is cut here (the span attribute limit's default). */
const MAX_LOGGED_PATH = 2048;

/**
 * The methods the HTTP semantic conventions name. Any other method a client
 * invents is recorded as `_OTHER` (metric labels, span names and attributes,
 * logs), so no request can add a series; the span keeps the original in
 * `http.request.method_original`, bounded by the span attribute length limit.
 */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  HTTP_REQUEST_METHOD_VALUE_CONNECT,
  HTTP_REQUEST_METHOD_VALUE_DELETE,
  HTTP_REQUEST_METHOD_VALUE_GET,
  HTTP_REQUEST_METHOD_VALUE_HEAD,
  HTTP_REQUEST_METHOD_VALUE_OPTIONS,
  HTTP_REQUEST_METHOD_VALUE_PATCH,
  HTTP_REQUEST_METHOD_VALUE_POST,
  HTTP_REQUEST_METHOD_VALUE_PUT,
  // QUERY is a known value too, still in the package's incubating entry only.
  "QUERY",
  HTTP_REQUEST_METHOD_VALUE_TRACE,
]);

/** The request method as telemetry records it: one of the known methods, or `_OTHER`. */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : HTTP_REQUEST_METHOD_VALUE_OTHER;
}

/** True when `template` (`/a/:id`, `/files/*`) matches `path`. */
function routeMatches(template: string, path: string): boolean {
  if (template === path) return true;
  const want = template.split("/");
  const got = path.split("/");
  for (let i = 0; i < want.length; i++) {
    if (want[i] === "*") return true;
    if (i >= got.length) return false;
    if (want[i].startsWith(":") ? got[i] === "" : want[i] !== got[i]) return false;
  }
  return want.length === got.length;
}

/**
 * The methods `app` has handlers for on `path` (HEAD wherever GET is), in a
 * stable order, and the route template that matched.
 */
export function allowedMethods(app: Hono, path: string): { methods: string[]; route?: string } {
  const allowed = new Set<string>();
  let route: string | undefined;
  for (const r of app.routes) {
    // Middleware is registered with method ALL; only handlers say what a path allows.
    if (r.method === "ALL" || !routeMatches(r.path, path)) continue;
    route ??= r.path;
    allowed.add(r.method);
    if (r.method === "GET") allowed.add("HEAD");
  }
  return { methods: [...allowed].sort((a, b) => methodOrder(a) - methodOrder(b)), route };
}

const utf8 = new TextEncoder();
const NON_ASCII = /[\u0080-\uffff]/;
/** Body sizes of the responses jsonResponse built, so the middleware never reads a header back. */
const knownSizes = new WeakMap<Response, number>();
/**
 * The traceparent of the request being served, in its context: observe puts
 * it there, jsonResponse writes it with the other headers (a header set on a
 * finished Response costs a validation round trip and takes Deno.serve off
 * its fast path), and observe injects it only into responses without it.
 */
const RESPONSE_TRACEPARENT = createContextKey("obskit response traceparent");
const carriesTraceparent = new WeakSet<Response>();

/**
 * A JSON response built directly (not through Hono's c.json, which merges
 * header objects entry by entry), its body size remembered for
 * http_response_size_bytes. Content-Length is left to Deno.serve, which
 * counts the body it sends: a 200 with content-type as its only header stays
 * on Deno.serve's fast path (no per-response native header object; measured
 * ~10 % of the uninstrumented app's CPU). HEAD answers get it from
 * headContentLength.
 */
export function jsonResponse(
  value: unknown,
  status = 200,
  headers?: Record<string, string>,
): Response {
  const body = JSON.stringify(value);
  // UTF-8 byte length; ASCII text (nearly every answer) needs no encoding.
  const size = NON_ASCII.test(body) ? utf8.encode(body).byteLength : body.length;
  const traceparent = context.active().getValue(RESPONSE_TRACEPARENT) as string | undefined;
  const init: Record<string, string> = traceparent
    ? { "content-type": "application/json", traceparent }
    : { "content-type": "application/json" };
  const res = new Response(body, { status, headers: headers ? { ...init, ...headers } : init });
  knownSizes.set(res, size);
  if (traceparent) carriesTraceparent.add(res);
  return res;
}

/**
 * Middleware: a HEAD answer carries the Content-Length of the body GET would
 * send (Hono answers HEAD with the GET handler's headers and no body, and
 * jsonResponse leaves the length to Deno.serve, which would say 0).
 */
export const headContentLength: MiddlewareHandler = (c, next) => {
  if (c.req.method !== "HEAD") return next();
  return next().then(() => {
    const size = knownSizes.get(c.res);
    if (size !== undefined && !c.res.headers.has("content-length")) {
      c.res.headers.set("content-length", String(size));
    }
  });
};

/** Route templates of requests answered 405, so their series name the route, not "unmatched". */
const notAllowedRoute = new WeakMap<Request, string>();

const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
function methodOrder(m: string): number {
  const i = METHOD_ORDER.indexOf(m);
  return i < 0 ? METHOD_ORDER.length : i;
}

/**
 * The app's not-found handler, made to answer 405 with `Allow` when the path
 * is a known route and only the method is wrong (RFC 9110 15.5.6).
 */
export function notFoundOrNotAllowed(app: Hono, notFound: NotFoundHandler): NotFoundHandler {
  return (c) => {
    const { methods, route } = allowedMethods(app, c.req.path);
    if (!route) return notFound(c);
    notAllowedRoute.set(c.req.raw, route);
    return c.json({ error: "method not allowed", allow: methods }, 405, {
      allow: methods.join(", "),
    });
  };
}

/**
 * Deno.serve builds a request's URL from its Host header, so a malformed one
 * (`x:99999`, `[::zz`, `a%b`) makes an URL nothing can parse, and one such
 * as `x/metrics?` moves the path (`http://x/metrics?/health` routes to
 * /metrics). Allowed here: a DNS name or IPv4 address, or a bracketed IPv6
 * literal, with an optional port up to 65535.
 */
const HOST_HEADER =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;
const malformedHost = new WeakSet<Request>();
/** The origin given to a request whose Host header was malformed (RFC 6761 reserves .invalid). */
const MALFORMED_HOST_ORIGIN = "http://malformed-host.invalid";
/** Host values already found good (bounded: a client cannot grow it past 64). */
const goodHosts = new Set<string>();

function hostIsValid(host: string): boolean {
  if (goodHosts.has(host)) return true;
  const m = HOST_HEADER.exec(host);
  if (!m || (m[1] !== undefined && Number(m[1]) > 65535)) return false;
  // The URL parser has the last word (an IPv4 address out of range, 1.2.3.999, passes the
  // pattern); a good host is remembered, so this runs once per distinct Host (the first 64).
  if (!URL.canParse(`http://${host}/`)) return false;
  if (goodHosts.size < 64) goodHosts.add(host);
  return true;
}

/**
 * Wraps a fetch handler so that routing only ever sees the request's path:
 * a request whose Host header is malformed gets a safe URL with the same
 * path and is marked, and `rejectMalformedHost` answers it with a 400 that
 * the observing middleware counts like any other response.
 */
export function guardHost<A extends unknown[]>(
  fetch: (req: Request, ...rest: A) => Response | Promise<Response>,
): (req: Request, ...rest: A) => Response | Promise<Response> {
  return (req, ...rest) => {
    const host = req.headers.get("host");
    if (host === null || hostIsValid(host)) return fetch(req, ...rest);
    // Deno's URL is `http://` + Host + path: what follows the Host text is the path.
    const url = req.url;
    const prefix = url.startsWith("https://") ? "https://" : "http://";
    const path = url.startsWith(prefix + host) ? url.slice(prefix.length + host.length) : "/";
    const safe = new Request(MALFORMED_HOST_ORIGIN + (path.startsWith("/") ? path : "/"), req);
    malformedHost.add(safe);
    return fetch(safe, ...rest);
  };
}

/**
 * Answers a request `guardHost` marked with 400; registered after `observe`, before routes.
 * Not an async function: every request passes here, and an async frame per request is garbage.
 */
export const rejectMalformedHost: MiddlewareHandler = (c, next) =>
  malformedHost.has(c.req.raw)
    ? Promise.resolve(c.json({ error: "bad request", detail: "malformed Host header" }, 400))
    : next();

/** The matched handler's route template, or "unmatched". */
export function routeOf(c: HonoContext): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    // Middleware is registered with method ALL; the handler has a real method.
    if (routes[i].method !== "ALL") return routes[i].path;
  }
  // A 405 names the route whose method was wrong: still one series per route.
  return notAllowedRoute.get(c.req.raw) ?? UNMATCHED;
}

/** What observe needs from an OTel setup (apps/otel_setup.ts Observability). */
export interface OtelMetricsTarget {
  meter: Meter;
  scope: MetricSource["scope"];
  exportSource(source: MetricSource): void;
}

/**
 * The semantic-convention OTLP metrics, read from the request table at each
 * export: http.server.active_requests, http.server.requests and
 * http.server.request.duration.
 */
function exportOtelMetrics(target: OtelMetricsTarget, table: RequestMetricsTable): void {
  const { meter } = target;
  meter.createObservableUpDownCounter("http.server.active_requests", {
    description: "Number of active HTTP server requests.",
    unit: "{request}",
  }).addCallback((r) => {
    for (const { attrs, value } of table.activeEntries()) r.observe(value, attrs);
  });
  // Not in semconv; a plain count is what the collector-side dashboards use.
  meter.createObservableCounter("http.server.requests", {
    description: "HTTP server requests.",
    unit: "{request}",
  }).addCallback((r) => {
    for (const s of table.entries()) r.observe(s.count, s.attributes);
  });
  target.exportSource(new DurationSource(target.scope, table));
}

export interface ObserveOptions {
  metrics: HttpMetrics;
  tracer?: Tracer;
  /** The semantic-convention OTLP metrics (http.server.*) go here when given. */
  otel?: OtelMetricsTarget;
  /**
   * Writes the access log line ("request completed") for each traced
   * request. Opt-in (ACCESS_LOG=on, apps/lib/logger.ts accessLogWanted): every
   * field is on the server span and in the metrics, and the line cost more
   * than the rest of the request's logging (README "Performance").
   */
  accessLog?: Logger;
  /** Paths that get metrics but no span or access log (scrapes, health checks). */
  quietPaths?: ReadonlySet<string>;
  /**
   * Called once the response is known (not when the handler threw past
   * Hono's onError), with the status and the request's duration in ms.
   */
  onResponse?: (status: number, durationMs: number) => void;
}

const headerGetter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => [...carrier.keys()],
};
const headerSetter = {
  set: (carrier: Headers, key: string, value: string) => carrier.set(key, value),
};

/** The parts of a request URL the middleware records. */
export interface UrlParts {
  scheme: string;
  hostname: string;
  port: number;
  pathname: string;
  /** Without the leading "?"; "" when there is none. */
  query: string;
}

// Characters that URL parsing leaves as they are (no percent-encoding, no
// dot-segment or backslash rewriting): a path or query made only of these
// reads the same from the raw string as from `new URL()`.
const PLAIN_PATH = /^\/[A-Za-z0-9\-_~!$&()*+,;=:@/.]*$/;
const PLAIN_QUERY = /^[A-Za-z0-9\-_~!$&()*+,;=:@/.?%]*$/;
const origins = new Map<string, { scheme: string; hostname: string; port: number }>();

/**
 * Scheme, host, port, path and query of a request URL, as `new URL()`
 * would give them, without building a URL object per request: the origin
 * part is parsed once and remembered, plain paths are sliced from the string,
 * anything unusual goes through `new URL()`.
 */
export function urlParts(raw: string): UrlParts {
  const schemeEnd = raw.indexOf("://");
  const pathStart = schemeEnd < 0 ? -1 : raw.indexOf("/", schemeEnd + 3);
  if (pathStart > 0) {
    const q = raw.indexOf("?", pathStart);
    const hash = raw.indexOf("#", pathStart);
    const pathname = raw.slice(pathStart, q < 0 ? (hash < 0 ? raw.length : hash) : q);
    const query = q < 0 ? "" : raw.slice(q + 1, hash < 0 ? raw.length : hash);
    if (
      hash < 0 && PLAIN_PATH.test(pathname) && !pathname.includes("/.") &&
      (query === "" || PLAIN_QUERY.test(query))
    ) {
      const originText = raw.slice(0, pathStart);
      let origin = origins.get(originText);
      if (!origin) {
        const u = new URL(originText);
        origin = { scheme: schemeOf(u), hostname: u.hostname, port: portOf(u) };
        if (origins.size < 64) origins.set(originText, origin);
      }
      return {
        scheme: origin.scheme,
        hostname: origin.hostname,
        port: origin.port,
        pathname,
        query,
      };
    }
  }
  const u = new URL(raw);
  return {
    scheme: schemeOf(u),
    hostname: u.hostname,
    port: portOf(u),
    pathname: u.pathname,
    query: u.search ? u.search.slice(1) : "",
  };
}

export function observe(opts: ObserveOptions): MiddlewareHandler {
  const { metrics, tracer, accessLog: logger, onResponse } = opts;
  const { table } = metrics;
  if (opts.otel) exportOtelMetrics(opts.otel, table);
  const quiet = opts.quietPaths ?? new Set<string>();

  return async (c, next) => {
    const start = performance.now();
    const rawMethod = c.req.method;
    const method = KNOWN_METHODS.has(rawMethod) ? rawMethod : HTTP_REQUEST_METHOD_VALUE_OTHER;
    let scheme = "";
    // Whatever happens below, the in-flight gauges come back down.
    try {
      const url = urlParts(c.req.url);
      scheme = url.scheme;
      table.addActive(method, scheme, 1);
      const quietRequest = quiet.has(url.pathname);

      let span: Span | undefined;
      let spanContext: Context | undefined;
      if (tracer && !quietRequest) {
        const headers = c.req.raw.headers;
        const attributes: Attributes = {
          "http.request.method": method,
          "url.path": url.pathname,
          "url.scheme": url.scheme,
          "server.address": url.hostname,
          "server.port": url.port,
        };
        if (method !== rawMethod) attributes["http.request.method_original"] = rawMethod;
        if (url.query) attributes["url.query"] = url.query;
        const userAgent = headers.get("user-agent");
        if (userAgent) attributes["user_agent.original"] = userAgent;
        const parent = propagation.extract(context.active(), headers, headerGetter);
        span = tracer.startSpan(spanMethod(method), { kind: SpanKind.SERVER, attributes }, parent);
        spanContext = trace.setSpan(context.active(), span);
        // Baggage or a tracestate go through the propagator at the end (injectTraceContext).
        const sc = span.spanContext();
        if (!sc.traceState && propagation.getBaggage(parent) === undefined && isValid(sc)) {
          spanContext = spanContext.setValue(RESPONSE_TRACEPARENT, traceparentOf(sc));
        }
      }

      let thrown: unknown;
      try {
        if (spanContext) {
          await context.with(spanContext, next);
        } else {
          await next();
        }
      } catch (err) {
        thrown = err;
      }

      // Hono turns handler errors into a response via onError and keeps the error here.
      const failure = thrown ?? c.error;
      const endpoint = routeOf(c);
      const status = thrown ? 500 : c.res.status;
      const ms = performance.now() - start;
      const seconds = ms / 1000;
      // Only a sampled span is a trace one can open: it becomes the bucket's exemplar.
      const sampled = metrics.exemplars && span !== undefined &&
        (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
      table.record({
        method,
        endpoint,
        status,
        scheme,
        seconds,
        // Read only when http_response_size_bytes is exported (a header read otherwise).
        size: thrown || !metrics.responseSize ? undefined : responseSize(c.res),
        traceId: sampled ? span!.spanContext().traceId : undefined,
        spanId: sampled ? span!.spanContext().spanId : undefined,
      });

      if (span) {
        const routed = endpoint !== UNMATCHED;
        span.updateName(routed ? `${spanMethod(method)} ${endpoint}` : spanMethod(method));
        if (routed) span.setAttribute("http.route", endpoint);
        span.setAttribute("http.response.status_code", status);
        if (status >= 500) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.setAttribute("error.type", String(status));
        }
        if (failure) span.recordException(failure instanceof Error ? failure : String(failure));
        // W3C traceparent out, so a caller can find this request's trace.
        if (!thrown && !carriesTraceparent.has(c.res)) {
          injectTraceContext(span, spanContext!, c.res.headers);
        }
        if (logger) {
          const fields = {
            method,
            endpoint,
            // Bounded like span attributes: a request path can be ~64 KB.
            path: url.pathname.length > MAX_LOGGED_PATH
              ? url.pathname.slice(0, MAX_LOGGED_PATH)
              : url.pathname,
            status,
            duration_ms: Math.round(seconds * 100_000) / 100,
          };
          if (logger.logWithSpan) {
            logger.logWithSpan("INFO", "request completed", span.spanContext(), fields);
          } else {
            context.with(spanContext!, () => logger.info("request completed", fields));
          }
        }
        span.end();
      }
      if (!thrown) onResponse?.(status, ms);
      if (thrown) throw thrown;
    } finally {
      if (scheme) table.addActive(method, scheme, -1);
    }
  };
}

/** A response's body size: remembered by jsonResponse, else its Content-Length, else unknown. */
function responseSize(res: Response): number | undefined {
  const known = knownSizes.get(res);
  if (known !== undefined) return known;
  const length = Number(res.headers.get("content-length") ?? NaN);
  return Number.isFinite(length) ? length : undefined;
}

/** The method part of a span name: semantic conventions use `HTTP` for `_OTHER`. */
function spanMethod(method: string): string {
  return method === HTTP_REQUEST_METHOD_VALUE_OTHER ? "HTTP" : method;
}

/**
 * What the W3C trace-context propagator writes for the span just created
 * (traceparent, and tracestate when there is one), written directly: the
 * SDK made the span context, so the propagator's validity checks are
 * skipped. When the context carries baggage, the global propagator runs.
 */
function injectTraceContext(span: Span, ctx: Context, headers: Headers): void {
  if (propagation.getBaggage(ctx) !== undefined) {
    propagation.inject(ctx, headers, headerSetter);
    return;
  }
  const sc = span.spanContext();
  // As the propagator does: an invalid context (a no-op tracer's span) is not propagated.
  if (!isValid(sc)) return;
  headers.set("traceparent", traceparentOf(sc));
  if (sc.traceState) headers.set("tracestate", sc.traceState.serialize());
}

function isValid(sc: SpanContext): boolean {
  return sc.traceId !== INVALID_TRACEID && sc.spanId !== INVALID_SPANID;
}

/** The W3C traceparent header value for a span context (version 00). */
function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-0${Number(sc.traceFlags || 0).toString(16)}`;
}

function schemeOf(url: URL): string {
  return url.protocol.replace(":", "");
}

function portOf(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

/**
 * Runs `fn` inside an active child span: exceptions are recorded and set the
 * span's status to ERROR (then rethrown); the span always ends.
 */
export async function traced<T>(
  tracer: Tracer,
  name: string,
  fn: (span: Span) => T | Promise<T>,
  attributes?: Record<string, string | number | boolean>,
  parent?: Context,
): Promise<T> {
  return await tracer.startActiveSpan(
    name,
    { attributes },
    parent ?? context.active(),
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        markFailed(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * `traced` for synchronous work that starts nothing else: the child span of
 * the active span is created and ended around `fn` without being made the
 * active span (no context switch). Exceptions are recorded as in `traced`.
 */
export function tracedSync<T>(
  tracer: Tracer,
  name: string,
  fn: (span: Span) => T,
  attributes?: Record<string, string | number | boolean>,
  parent?: Context,
): T {
  const span = tracer.startSpan(name, { attributes }, parent ?? context.active());
  try {
    return fn(span);
  } catch (err) {
    markFailed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Records the exception on the span and sets its status to ERROR. */
function markFailed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
}

/** A thrown value as one line of text, whatever was thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
