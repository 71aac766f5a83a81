/**
 * The chapter's instrumented application (phase 4) as a library: a Hono app
 * that emits all three pillars. `apps/instrument_app.ts` is the command.
 *
 *   GET /health                 liveness
 *   GET /api/data?delay=<s>     simulated data (cache, then "database"), optional delay 0..5 s
 *   GET /api/admin              401 without credentials, 403 for a non-admin token
 *   GET /metrics                Prometheus text format
 *   GET /error                  fails on purpose: exception recorded, 500 JSON
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { Hono } from "hono";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  createHttpMetrics,
  headContentLength,
  type HttpMetrics,
  jsonResponse,
  notFoundOrNotAllowed,
  observe,
  rejectMalformedHost,
  traced,
  tracedSync,
} from "./http_observability.ts";
import { createLogger, type Logger } from "./logger.ts";
import type { Observability } from "../otel_setup.ts";
import { OPENMETRICS_TYPE, openMetricsText, wantsOpenMetrics } from "./prom_bridge.ts";
import { registerTelemetryLossMetrics } from "./telemetry_delivery.ts";

export const MAX_DELAY_SECONDS = 5;

export interface InstrumentedAppOptions {
  serviceName?: string;
  /** OTel pipelines; omit to run with instrumentation off (bench baseline). */
  observability?: Observability;
  /** Token that /api/admin accepts as admin (ADMIN_TOKEN); none means nobody is admin. */
  adminToken?: string;
  logger?: Logger;
  /** One "request completed" line per request (ACCESS_LOG=on; off by default). */
  accessLog?: boolean;
}

export interface InstrumentedApp {
  app: Hono;
  registry: Registry;
  /** The request table behind the http_* families (request_metrics.ts). */
  httpMetrics: HttpMetrics;
}

/** Parses the `delay` query values: a plain decimal number of seconds, 0..5, given once. */
export function parseDelay(values: string[] | undefined): { seconds: number } | { error: string } {
  if (!values || values.length === 0) return { seconds: 0 };
  if (values.length > 1) return { error: "must be given at most once" };
  const raw = values[0];
  if (!/^\d+(\.\d+)?$/.test(raw)) {
    return { error: `must be a number of seconds from 0 to ${MAX_DELAY_SECONDS}, got '${raw}'` };
  }
  const seconds = Number(raw);
  if (!(seconds <= MAX_DELAY_SECONDS)) {
    return { error: `must be at most ${MAX_DELAY_SECONDS} seconds, got '${raw}'` };
  }
  return { seconds };
}

class SimulatedFailure extends Error {
  override name = "SimulatedFailure";
}

/** A small in-memory catalogue standing in for the service's database. */
const ITEM_COUNT = 100;
const CACHE_CAPACITY = 80;

/**
 * Constant-time token comparison (node:crypto's timingSafeEqual needs equal
 * lengths: both sides are hashed first, so the length does not leak either).
 */
function tokensEqual(a: string, b: string): boolean {
  const digest = (t: string) => createHash("sha256").update(t).digest();
  return timingSafeEqual(digest(a), digest(b));
}

export function createInstrumentedApp(opts: InstrumentedAppOptions = {}): InstrumentedApp {
  const serviceName = opts.serviceName ?? "platform-app";
  const obs = opts.observability;
  const instrumented = obs !== undefined;
  // With instrumentation off the API's no-op tracer keeps the same code path.
  const tracer: Tracer = obs?.tracer ?? trace.getTracer("noop");
  const logger = opts.logger ?? createLogger(serviceName);
  const registry = new Registry();
  const httpMetrics = createHttpMetrics(registry, { responseSize: true, exemplars: true });
  const registers = [registry];
  const dbDuration = new Histogram({
    name: "db_query_duration_seconds",
    help: "Duration of queries against the app's (in-memory) item store.",
    labelNames: ["operation"],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1],
    registers,
  });
  const cacheRequests = new Counter({
    name: "cache_requests_total",
    help: "Item cache lookups by result (hit or miss).",
    labelNames: ["result"],
    registers,
  });
  // Cache utilisation = entries / capacity (the platform dashboard's cache panel).
  new Gauge({
    name: "cache_entries",
    help: "Items held in the item cache now.",
    registers,
    collect() {
      this.set(cache.size);
    },
  });
  new Gauge({
    name: "cache_capacity_entries",
    help: "Most items the item cache holds (least recently added are evicted first).",
    registers,
  }).set(CACHE_CAPACITY);
  const revenue = new Counter({
    name: "app_revenue_dollars_total",
    help: "Order value in dollars by outcome: completed, or lost to a failed request.",
    labelNames: ["outcome"],
    registers,
  });
  const customerIssues = new Counter({
    name: "app_customer_issues_total",
    help: "Requests in which a customer met a problem: error (5xx) or slow (over 1 s).",
    labelNames: ["kind"],
    registers,
  });
  // The contract families leave by OTLP as well as /metrics: the same names in both worlds.
  obs?.exportRegistry(registry);
  // Spans and log lines this process could not deliver (outages are never silent).
  registerTelemetryLossMetrics(registry, instrumented ? ["traces", "metrics", "logs"] : ["logs"]);
  for (const result of ["hit", "miss"]) cacheRequests.inc({ result }, 0);
  for (const outcome of ["completed", "lost"]) revenue.inc({ outcome }, 0);
  for (const kind of ["error", "slow"]) customerIssues.inc({ kind }, 0);

  const cache = new Map<number, { id: number; name: string; price: number }>();
  const orderValue = (id: number) => 5 + (id % 20) * 2.5;

  const app = new Hono();
  if (instrumented) {
    app.use(
      "*",
      observe({
        metrics: httpMetrics,
        tracer: obs.tracer,
        otel: obs,
        accessLog: opts.accessLog ? logger : undefined,
        quietPaths: new Set(["/metrics"]),
        // Customer-facing issues are judged on what the customer saw.
        onResponse: (status, ms) => {
          if (status >= 500) customerIssues.inc({ kind: "error" });
          else if (ms > 1000) customerIssues.inc({ kind: "slow" });
        },
      }),
    );
  }

  // After observe, so the 400 for a malformed Host is counted like any response.
  app.use("*", rejectMalformedHost);
  app.use("*", headContentLength);

  app.get("/health", () => jsonResponse({ status: "healthy", service: serviceName }));

  app.get("/api/data", async (c) => {
    const delay = parseDelay(c.req.queries("delay"));
    if ("error" in delay) {
      return jsonResponse(
        { error: "invalid query parameter", parameter: "delay", detail: delay.error },
        400,
      );
    }
    const itemId = Math.floor(Math.random() * ITEM_COUNT);
    // Synchronous work: child spans that need not become the active span.
    const item = tracedSync(tracer, "cache.lookup", (span) => {
      const hit = cache.get(itemId);
      span.setAttribute("cache.hit", hit !== undefined);
      if (instrumented) cacheRequests.inc({ result: hit ? "hit" : "miss" });
      return hit;
    }) ?? tracedSync(tracer, "db.query", (span) => {
      const t0 = performance.now();
      span.setAttributes({
        "db.system.name": "other_sql",
        "db.operation.name": "SELECT",
        "db.collection.name": "items",
      });
      const row = { id: itemId, name: `item-${itemId}`, price: orderValue(itemId) };
      if (cache.size >= CACHE_CAPACITY) cache.delete(cache.keys().next().value!);
      cache.set(itemId, row);
      if (instrumented) {
        dbDuration.observe({ operation: "select" }, (performance.now() - t0) / 1000);
      }
      return row;
    });
    if (delay.seconds > 0) {
      await traced(
        tracer,
        "process_data",
        async (span) => {
          span.addEvent("processing.started");
          await new Promise((r) => setTimeout(r, delay.seconds * 1000));
          span.addEvent("processing.finished");
        },
        { "app.delay_seconds": delay.seconds },
      );
    }
    if (instrumented) revenue.inc({ outcome: "completed" }, item.price);
    // The chapter's custom events: what happened inside the request, on its span.
    trace.getActiveSpan()?.addEvent("order.completed", {
      "app.item.id": item.id,
      "app.order.value": item.price,
    });
    logger.info("data served", { item_id: item.id, delay_seconds: delay.seconds });
    return jsonResponse({ data: item, delay_seconds: delay.seconds });
  });

  app.get("/api/admin", (c) => {
    const auth = c.req.header("authorization");
    if (!auth) {
      return jsonResponse({ error: "authentication required" }, 401, {
        "www-authenticate": 'Bearer realm="obskit"',
      });
    }
    const token = auth.replace(/^Bearer\s+/i, "");
    if (!opts.adminToken || !tokensEqual(token, opts.adminToken)) {
      // The token itself is never logged.
      logger.warn("admin access denied", { reason: "not an admin token" });
      return jsonResponse({ error: "forbidden" }, 403);
    }
    return jsonResponse({ status: "ok", role: "admin" });
  });

  app.get("/error", async () => {
    await traced(tracer, "process_error", () => {
      throw new SimulatedFailure("simulated failure for error-handling and trace testing");
    });
  });

  app.get("/metrics", async (c) => {
    // OpenMetrics (the format that carries exemplars) when the scraper asks for it.
    if (wantsOpenMetrics(c.req.header("accept"))) {
      return c.body(await openMetricsText(registry), 200, { "content-type": OPENMETRICS_TYPE });
    }
    return c.body(await registry.metrics(), 200, { "content-type": registry.contentType });
  });

  app.notFound(
    notFoundOrNotAllowed(app, (c) => jsonResponse({ error: "not found", path: c.req.path }, 404)),
  );

  app.onError((err) => {
    const span = trace.getActiveSpan();
    span?.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    if (instrumented) revenue.inc({ outcome: "lost" }, orderValue(0));
    logger.error("request failed", { error: err.name, detail: err.message });
    return jsonResponse({
      error: "internal server error",
      detail: err.message,
      trace_id: span?.spanContext().traceId,
    }, 500);
  });

  return { app, registry, httpMetrics };
}
