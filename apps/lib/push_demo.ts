/**
 * The chapter's push-model trace (phase 6) as a library:
 *
 *   process_user_request            (HTTP + user attributes; started/completed events)
 *   ├── validate_user_action
 *   └── perform_action              (action_executed event)
 *
 * `fail` makes perform_action throw, to show exception recording and error
 * status travelling up to the parent. Each step logs a line inside its span
 * (trace_id/span_id), so the trace's logs can be found by its id
 * (`deno task logs --trace ID`).
 */
import { SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { createLogger } from "./logger.ts";
import { traced } from "../otel_setup.ts";

export const TRACE_DEMO_SERVICE = "trace-demo-service";
export const VALID_ACTIONS = ["create", "read", "update", "delete"] as const;

export interface UserRequest {
  userId: string;
  action: string;
  fail?: boolean;
}

export type UserRequestResult =
  | { success: true; result: { action: string; status: "completed"; duration_ms: number } }
  | { success: false; error: string };

const log = createLogger(TRACE_DEMO_SERVICE);

export class ActionFailed extends Error {
  override name = "ActionFailed";
}

export async function processUserRequest(
  tracer: Tracer,
  req: UserRequest,
): Promise<{ traceId: string; outcome: UserRequestResult }> {
  return await tracer.startActiveSpan(
    "process_user_request",
    {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": "POST",
        "url.path": `/api/users/${req.userId}/actions`,
        "http.route": "/api/users/:id/actions",
        "user.id": req.userId,
        "app.user.action": req.action,
      },
    },
    async (span) => {
      const traceId = span.spanContext().traceId;
      span.addEvent("user_request_started", { "user.id": req.userId });
      log.info("user request started", { user_id: req.userId, action: req.action });
      try {
        await traced(tracer, "validate_user_action", (child) => {
          const valid = (VALID_ACTIONS as readonly string[]).includes(req.action);
          child.setAttribute("app.validation.passed", valid);
          if (!valid) throw new ActionFailed(`unknown action '${req.action}'`);
          log.info("user action validated", { action: req.action });
        }, { "app.user.action": req.action });

        const started = performance.now();
        const result = await traced(tracer, "perform_action", async (child) => {
          await new Promise((r) => setTimeout(r, 100)); // the work being traced
          if (req.fail) throw new ActionFailed(`action '${req.action}' failed (--fail)`);
          const duration_ms = Math.round((performance.now() - started) * 100) / 100;
          child.addEvent("action_executed", { "app.user.action": req.action, duration_ms });
          log.info("action performed", { action: req.action, duration_ms });
          return { action: req.action, status: "completed" as const, duration_ms };
        }, { "app.user.action": req.action });

        span.setAttribute("http.response.status_code", 200);
        span.addEvent("user_request_completed", { success: true });
        log.info("user request completed", { success: true });
        return { traceId, outcome: { success: true as const, result } };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        span.recordException(err instanceof Error ? err : message);
        span.setStatus({ code: SpanStatusCode.ERROR, message });
        span.setAttribute("http.response.status_code", 500);
        span.addEvent("user_request_completed", { success: false });
        log.error("user request failed", { error: message });
        return { traceId, outcome: { success: false as const, error: message } };
      } finally {
        span.end();
      }
    },
  );
}
