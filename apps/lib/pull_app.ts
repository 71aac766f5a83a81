/**
 * The chapter's pull-model example (phase 5) as a library: a Hono app whose
 * only telemetry is what Prometheus scrapes from /metrics — the three
 * contract families (from one middleware) and prom-client's default process
 * metrics. `apps/metrics_pull.ts` is the command.
 */
import type { Tracer } from "@opentelemetry/api";
import { Hono } from "hono";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import {
  createHttpMetrics,
  notFoundOrNotAllowed,
  observe,
  rejectMalformedHost,
} from "./http_observability.ts";
import { createLogger, type Logger } from "./logger.ts";
import { registerTelemetryLossMetrics } from "./telemetry_delivery.ts";

export interface MetricsPullApp {
  app: Hono;
  registry: Registry;
}

/** Artificial work for /api/items: 10-50 ms, like a small database read. */
export const ITEMS_DELAY_MS: readonly [number, number] = [10, 50];

const LINT_FAILING_DEFAULTS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/**
 * prom-client reads these from /proc/self, which Deno refuses to read
 * without --allow-all; they would always say 0. The resident size comes
 * from the runtime instead; the others are not exposed rather than wrong.
 */
const PROC_SELF_DEFAULTS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
];

const ITEMS = [
  { id: 1, name: "widget", stock: 12 },
  { id: 2, name: "gadget", stock: 3 },
  { id: 3, name: "gizmo", stock: 0 },
];

export function createMetricsPullApp(
  opts: {
    logger?: Logger;
    /** One "request completed" line per request (ACCESS_LOG=on; off by default). */
    accessLog?: boolean;
    serviceName?: string;
    defaultMetrics?: boolean;
    /** Traces for the endpoints (the chapter's "OTEL-instrumented endpoints"); metrics stay pulled. */
    tracer?: Tracer;
  } = {},
): MetricsPullApp {
  const serviceName = opts.serviceName ?? "metrics-pull-app";
  const logger = opts.logger ?? createLogger(serviceName);
  const registry = new Registry();
  if (opts.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client names these gauges *_total, which promtool's linter rejects
    // (only counters end in _total); they are Node handle counts of little use here.
    for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
    for (const name of PROC_SELF_DEFAULTS) registry.removeSingleMetric(name);
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers: [registry],
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }
  const metrics = createHttpMetrics(registry);
  // What it pushes and may fail to deliver: spans when it is traced, and its log lines.
  registerTelemetryLossMetrics(registry, opts.tracer ? ["traces", "logs"] : ["logs"]);

  const app = new Hono();
  app.use(
    "*",
    observe({
      metrics,
      tracer: opts.tracer,
      accessLog: opts.accessLog ? logger : undefined,
      quietPaths: new Set(["/metrics"]),
    }),
  );
  app.use("*", rejectMalformedHost);
  app.get("/health", (c) => c.json({ status: "healthy", service: serviceName }));
  app.get("/api/items", async (c) => {
    const [lo, hi] = ITEMS_DELAY_MS;
    await new Promise((r) => setTimeout(r, lo + Math.random() * (hi - lo)));
    return c.json({ items: ITEMS, count: ITEMS.length });
  });
  app.get("/metrics", async (c) => {
    return c.body(await registry.metrics(), 200, { "content-type": registry.contentType });
  });
  app.notFound(
    notFoundOrNotAllowed(app, (c) => c.json({ error: "not found", path: c.req.path }, 404)),
  );
  app.onError((err, c) => {
    logger.error("request failed", { error: err.name, detail: err.message });
    return c.json({ error: "internal server error" }, 500);
  });
  return { app, registry };
}
