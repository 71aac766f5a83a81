/**
 * Phase 4: run the instrumented application.
 *
 *   deno task run-app [--port 8000] [--host 0.0.0.0] [--instrumentation on|off]
 */
import { intFlag, parseFlags, runMain, UsageError } from "../scripts/lib/cli.ts";
import { createInstrumentedApp } from "./lib/platform_app.ts";
import { accessLogWanted, createLogger } from "./lib/logger.ts";
import { resolvePort, runUntilSignal, startServer } from "./lib/server.ts";

const spec = {
  name: "run-app",
  summary: "Phase 4: the instrumented app (traces, metrics and logs) on Hono + Deno.serve.",
  usage: "[--port N] [--host ADDR] [--instrumentation on|off]",
  flags: {
    port: {
      type: "string" as const,
      description: "port to listen on (env PORT)",
      default: undefined,
      valueName: "N",
    },
    host: {
      type: "string" as const,
      description: "address to bind (0.0.0.0 for every interface, e.g. in a container)",
      // Loopback unless asked: on a laptop the app is not offered to the network.
      default: "127.0.0.1",
      valueName: "ADDR",
    },
    instrumentation: {
      type: "string" as const,
      description: "off runs the same app without telemetry (benchmark baseline)",
      default: "on",
      valueName: "on|off",
    },
  },
  epilog: `Endpoints: GET /health, /api/data?delay=<0..5 s>, /api/admin, /metrics, /error

Environment:
  OTEL_EXPORTER_OTLP_ENDPOINT  collector OTLP endpoint (default http://localhost:4318;
                               the book's localhost:4317 is normalized to OTLP/HTTP 4318)
  OTEL_SERVICE_NAME / SERVICE_NAME, SERVICE_VERSION, DEPLOYMENT_ENV, HOSTNAME
  OTEL_EXPORTER_OTLP_PROTOCOL  http/protobuf (default) or http/json (traces)
  OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_METRIC_EXPORT_INTERVAL
  ADMIN_TOKEN                  bearer token /api/admin accepts (never logged)
  LOG_LEVEL                    DEBUG, INFO (default), WARN, ERROR
  ACCESS_LOG                   on: one "request completed" line per request (default off:
                               the server span and the metrics carry the same fields)`,
};

if (import.meta.main) {
  await runMain(async () => {
    const { flags } = parseFlags<{ port?: string; host: string; instrumentation: string }>(spec);
    const port = intFlag("port", resolvePort(flags.port, 8000), 0);
    if (!["on", "off"].includes(flags.instrumentation)) {
      throw new UsageError(`--instrumentation must be on or off, got '${flags.instrumentation}'`);
    }
    // One name everywhere (resource, logs, /health): OTEL_SERVICE_NAME wins, as the spec says.
    const serviceName = Deno.env.get("OTEL_SERVICE_NAME") || Deno.env.get("SERVICE_NAME") ||
      "platform-app";
    // The OTel SDK is loaded only when it is used (--help and the baseline start faster).
    const observability = flags.instrumentation === "on"
      ? (await import("./otel_setup.ts")).initializeObservability({ serviceName })
      : undefined;
    const logger = createLogger(serviceName);
    const { app } = createInstrumentedApp({
      serviceName,
      observability,
      logger,
      accessLog: accessLogWanted(),
      adminToken: Deno.env.get("ADMIN_TOKEN") || undefined,
    });
    const server = startServer(app, { port, hostname: flags.host });
    logger.info("Starting instrumented application", {
      otel_enabled: observability !== undefined,
      otlp_endpoint: observability?.endpoint,
    });
    logger.info(`Server listening on ${server.url}`);
    await runUntilSignal(server, logger, async () => {
      await observability?.shutdown();
    });
  });
}
