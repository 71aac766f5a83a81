/**
 * Phase 6: push one trace over OTLP to the collector and make sure it left.
 *
 *   deno task run-push [--user-id ID] [--action update] [--fail]
 */
import { parseFlags, runMain, UsageError } from "../scripts/lib/cli.ts";
import { redactUrl } from "../scripts/lib/redact.ts";
import { flushLogs } from "./lib/logger.ts";
import {
  buildResource,
  normalizeOtlpEndpoint,
  setupLogExport,
  setupTracing,
} from "./otel_setup.ts";
import { processUserRequest, TRACE_DEMO_SERVICE, VALID_ACTIONS } from "./lib/push_demo.ts";

const spec = {
  name: "run-push",
  summary: "Phase 6: push the chapter's trace (process_user_request and two children) over OTLP.",
  usage: "[--user-id ID] [--action NAME] [--fail] [--timeout SECONDS]",
  flags: {
    "user-id": {
      type: "string" as const,
      description: "user id on the span",
      default: "user-123",
      valueName: "ID",
    },
    action: {
      type: "string" as const,
      description: "create, read, update or delete",
      default: "update",
      valueName: "NAME",
    },
    fail: {
      type: "boolean" as const,
      description: "make perform_action fail (exception + error status)",
    },
    timeout: {
      type: "string" as const,
      description: "export timeout in seconds",
      default: "5",
      valueName: "S",
    },
  },
  epilog: `Environment: OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318; localhost:4317
is normalized to OTLP/HTTP 4318), OTEL_SERVICE_NAME (default ${TRACE_DEMO_SERVICE}).
Exit status: 0 trace delivered, 1 the collector did not accept it (or --fail was given), 2 usage.`,
};

if (import.meta.main) {
  await runMain(async () => {
    const { flags } = parseFlags<
      { "user-id": string; action: string; fail?: boolean; timeout: string }
    >(spec);
    const timeoutS = Number(flags.timeout);
    if (!(timeoutS > 0 && timeoutS <= 60)) {
      throw new UsageError(`--timeout must be 1..60 seconds, got '${flags.timeout}'`);
    }
    if (!(VALID_ACTIONS as readonly string[]).includes(flags.action)) {
      throw new UsageError(
        `--action must be one of ${VALID_ACTIONS.join(", ")}, got '${flags.action}'`,
      );
    }
    // For display only: userinfo in the endpoint is a credential.
    const endpoint = redactUrl(normalizeOtlpEndpoint(Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT")));
    const otelOpts = { serviceName: TRACE_DEMO_SERVICE, exportTimeoutMs: timeoutS * 1000 };
    const resource = buildResource(otelOpts);
    const tracing = setupTracing(otelOpts, resource);
    // The demo's log lines go to the collector too (its logs pipeline: VictoriaLogs locally).
    const logs = setupLogExport(otelOpts, resource);
    const { traceId, outcome } = await processUserRequest(tracing.tracer, {
      userId: flags["user-id"],
      action: flags.action,
      fail: flags.fail,
    });
    console.log(`Request result: ${JSON.stringify(outcome)}`);
    console.log(`Trace ID: ${traceId}`);
    let flushError: string | undefined;
    try {
      await tracing.provider.forceFlush();
    } catch (err) {
      flushError = err instanceof Error ? err.message : String(err);
    }
    await tracing.provider.shutdown().catch(() => {});
    flushLogs();
    await logs?.stop();
    if (flushError || tracing.exporter.failures > 0) {
      const reason = redactUrl(tracing.exporter.lastError ?? flushError ?? "export failed");
      console.error(
        `error: spans were not delivered to ${endpoint}/v1/traces (${reason}); ` +
          "is the collector running? try 'deno task stack up' or 'deno task collector-local'",
      );
      return 1;
    }
    console.log(`Delivered to ${endpoint}; in Jaeger: http://localhost:16686/trace/${traceId}`);
    return outcome.success ? 0 : 1;
  });
}
