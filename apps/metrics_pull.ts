/**
 * Phase 5: the pull-model metrics example. Prometheus scrapes /metrics; the
 * app pushes nothing.
 *
 *   deno task run-pull [--port 5000] [--host 0.0.0.0]
 */
import { intFlag, parseFlags, runMain } from "../scripts/lib/cli.ts";
import { accessLogWanted, createLogger } from "./lib/logger.ts";
import { createMetricsPullApp } from "./lib/pull_app.ts";
import { resolvePort, runUntilSignal, startServer } from "./lib/server.ts";

const spec = {
  name: "run-pull",
  summary: "Phase 5: pull-model metrics (prom-client) on Hono; Prometheus scrapes /metrics.",
  usage: "[--port N] [--host ADDR]",
  flags: {
    port: { type: "string" as const, description: "port to listen on (env PORT)", valueName: "N" },
    host: {
      type: "string" as const,
      description: "address to bind (0.0.0.0 for every interface, e.g. in a container)",
      // Loopback unless asked: on a laptop the app is not offered to the network.
      default: "127.0.0.1",
      valueName: "ADDR",
    },
  },
  epilog: `Endpoints: GET /health, /api/items, /metrics

Environment:
  OTEL_EXPORTER_OTLP_ENDPOINT  collector for the endpoints' traces (default http://localhost:4318)
  LOG_LEVEL                    DEBUG, INFO (default), WARN, ERROR
  ACCESS_LOG                   on: one "request completed" line per request (default off)`,
};

if (import.meta.main) {
  await runMain(async () => {
    const { flags } = parseFlags<{ port?: string; host: string }>(spec);
    const port = intFlag("port", resolvePort(flags.port, 5000), 0);
    const serviceName = Deno.env.get("OTEL_SERVICE_NAME") || Deno.env.get("SERVICE_NAME") ||
      "metrics-pull-app";
    const logger = createLogger(serviceName);
    // Traces are pushed over OTLP; its metrics are only pulled (the pull example), so the
    // OTLP metric pipeline stays off and nothing reaches Prometheus twice.
    const { setupTracing } = await import("./otel_setup.ts");
    const tracing = setupTracing({ serviceName });
    const { app } = createMetricsPullApp({
      logger,
      serviceName,
      tracer: tracing.tracer,
      accessLog: accessLogWanted(),
    });
    const server = startServer(app, { port, hostname: flags.host });
    logger.info(`Running on ${server.url} (scrape ${server.url}/metrics)`);
    await runUntilSignal(server, logger, () => tracing.provider.shutdown());
  });
}
