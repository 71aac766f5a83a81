/**
 * One Hono middleware that observes every request: the Prometheus contract
 * families (DESIGN.md), an OTel server span continuing W3C traceparent, the
 * semantic-convention OTLP metrics, and an access log line. Both servers use
 * it, so handlers never repeat metric code.
 *
 * Labels use the route template (`/api/data`), never the raw path; a request
 * no route matched is `endpoint="unmatched"`, so no client can create series.
 */
import {
  type Attributes,
  context,
  type Counter as OtelCounter,
  type Histogram as OtelHistogram,
  type Meter,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type UpDownCounter,
} from "@opentelemetry/api";
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "./logger.ts";

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
export const UNMATCHED = "unmatched";

const LABELS = ["method", "endpoint", "status"] as const;

export interface HttpMetrics {
  requests: Counter<(typeof LABELS)[number]>;
  duration: Histogram<(typeof LABELS)[number]>;
  active: Gauge;
  responseSize?: Histogram<(typeof LABELS)[number]>;
}

/** Registers the contract families on `registry`. */
export function createHttpMetrics(
  registry: Registry,
  opts: { responseSize?: boolean } = {},
): HttpMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "http_requests_total",
      help: "Total HTTP requests by method, route template and status code.",
      labelNames: LABELS,
      registers,
    }),
    duration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration in seconds by method, route template and status code.",
      labelNames: LABELS,
      buckets: DURATION_BUCKETS,
      registers,
    }),
    active: new Gauge({
      name: "http_active_connections",
      help: "HTTP requests currently being served.",
      registers,
    }),
    responseSize: opts.responseSize
      ? new Histogram({
        name: "http_response_size_bytes",
        help: "HTTP response body size in bytes by method, route template and status code.",
        labelNames: LABELS,
        buckets: [100, 500, 1000, 5000, 10_000, 50_000, 100_000, 500_000, 1_000_000],
        registers,
      })
      : undefined,
  };
}

/** The matched handler's route template, or "unmatched". */
export function routeOf(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    // Middleware is registered with method ALL; the handler has a real method.
    if (routes[i].method !== "ALL") return routes[i].path;
  }
  return UNMATCHED;
}

interface OtelHttpInstruments {
  duration: OtelHistogram;
  active: UpDownCounter;
  requests: OtelCounter;
}

function otelInstruments(meter: Meter): OtelHttpInstruments {
  return {
    duration: meter.createHistogram("http.server.request.duration", {
      description: "Duration of HTTP server requests.",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    active: meter.createUpDownCounter("http.server.active_requests", {
      description: "Number of active HTTP server requests.",
      unit: "{request}",
    }),
    // Not in semconv; a plain count is what the collector-side dashboards use.
    requests: meter.createCounter("http.server.requests", {
      description: "HTTP server requests.",
      unit: "{request}",
    }),
  };
}

export interface ObserveOptions {
  metrics: HttpMetrics;
  tracer?: Tracer;
  meter?: Meter;
  logger?: Logger;
  /** Paths that get metrics but no span or access log (scrapes, health checks). */
  quietPaths?: ReadonlySet<string>;
}

const headerGetter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => [...carrier.keys()],
};
const headerSetter = {
  set: (carrier: Headers, key: string, value: string) => carrier.set(key, value),
};

export function observe(opts: ObserveOptions): MiddlewareHandler {
  const { metrics, tracer, logger } = opts;
  const otel = opts.meter ? otelInstruments(opts.meter) : undefined;
  const quiet = opts.quietPaths ?? new Set<string>();

  return async (c, next) => {
    const start = performance.now();
    const method = c.req.method;
    metrics.active.inc();
    const url = new URL(c.req.url);
    const quietRequest = quiet.has(url.pathname);
    otel?.active.add(1, { "http.request.method": method, "url.scheme": schemeOf(url) });

    const span = tracer && !quietRequest
      ? tracer.startSpan(
        method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            "http.request.method": method,
            "url.path": url.pathname,
            "url.scheme": schemeOf(url),
            "server.address": url.hostname,
            "server.port": portOf(url),
            ...(url.search ? { "url.query": url.search.slice(1) } : {}),
            ...(c.req.header("user-agent")
              ? { "user_agent.original": c.req.header("user-agent") }
              : {}),
          },
        },
        propagation.extract(context.active(), c.req.raw.headers, headerGetter),
      )
      : undefined;

    let thrown: unknown;
    try {
      if (span) {
        await context.with(trace.setSpan(context.active(), span), () => next());
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
    const statusText = String(status);
    const seconds = (performance.now() - start) / 1000;
    const labels = { method, endpoint, status: statusText };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, seconds);
    metrics.active.dec();
    if (metrics.responseSize) {
      const length = Number(c.res.headers.get("content-length") ?? NaN);
      if (Number.isFinite(length)) metrics.responseSize.observe(labels, length);
    }

    if (otel) {
      const attrs: Attributes = {
        "http.request.method": method,
        "http.route": endpoint,
        "http.response.status_code": status,
        "url.scheme": schemeOf(url),
      };
      otel.duration.record(seconds, attrs);
      otel.requests.add(1, attrs);
      otel.active.add(-1, { "http.request.method": method, "url.scheme": schemeOf(url) });
    }

    if (span) {
      span.updateName(endpoint === UNMATCHED ? method : `${method} ${endpoint}`);
      if (endpoint !== UNMATCHED) span.setAttribute("http.route", endpoint);
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute("error.type", statusText);
      }
      if (failure) span.recordException(failure instanceof Error ? failure : String(failure));
      // W3C traceparent out, so a caller can find this request's trace.
      if (!thrown) {
        propagation.inject(trace.setSpan(context.active(), span), c.res.headers, headerSetter);
      }
      if (logger) {
        context.with(trace.setSpan(context.active(), span), () =>
          logger.info("request completed", {
            method,
            endpoint,
            path: url.pathname,
            status,
            duration_ms: Math.round(seconds * 100_000) / 100,
          }));
      }
      span.end();
    }
    if (thrown) throw thrown;
  };
}

function schemeOf(url: URL): string {
  return url.protocol.replace(":", "");
}

function portOf(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}
