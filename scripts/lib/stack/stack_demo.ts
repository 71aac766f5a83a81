/**
 * `deno task demo`: the whole chapter on the local stack. Tools, stack up,
 * both apps, the push demo, 30 s of the chapter's traffic, verify, then the
 * URLs and what to look at. Everything the demo started is stopped at the
 * end (or on Ctrl-C) unless `keep` is set.
 */
import { CheckFailed } from "../cli.ts";
import { chapterMix, runLoad } from "../load/mod.ts";
import { formatElapsed, progress } from "../spinner.ts";
import {
  type AppName,
  purgeStackData,
  readState,
  stackDown,
  type StackPorts,
  stackUp,
} from "./mod.ts";
import { runPush, startApp } from "./stack_apps.ts";
import { installTools, STACK_GROUPS, toolsTable } from "../tools/mod.ts";
import { type CheckResult, verifyFixes, verifyTable, verifyUntil } from "../verify/mod.ts";
import { traceUrl } from "../view/waterfall.ts";

export interface DemoOptions {
  ports: StackPorts;
  keep?: boolean;
  skipTools?: boolean;
  trafficMs?: number;
  rate?: number;
  /** How long verify may wait for data to arrive. */
  verifyWaitMs?: number;
  scrapeInterval?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface DemoResult {
  ok: boolean;
  results: CheckResult[];
  traceId: string | null;
  ports: StackPorts;
  tornDown: boolean;
}

/** What the demo's traffic got back, all streams together. */
export interface TrafficSummary {
  /** HTTP responses received (the sum of the numeric keys of `statusCounts`). */
  responses: number;
  /** By HTTP status, plus "timeout" / "network-error" / "aborted" for requests without one. */
  statusCounts: Record<string, number>;
}

/**
 * Requests the verify step needs at least one of, whatever the duration and
 * rate: the chapter's mix sends /error only every 50th request, so a short
 * or slow run would otherwise leave every error-rate panel without data.
 */
export const GUARANTEED_REQUESTS: { path: string; headers?: Record<string, string> }[] = [
  { path: "/error" },
  { path: "/api/data?delay=0.5" },
  { path: "/api/admin" },
  { path: "/api/admin", headers: { authorization: "Bearer not-an-admin" } },
];

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * The demo's traffic: the chapter's mix on the instrumented app, a steady
 * trickle on the pull app, and a few /api/admin calls without and with a
 * non-admin token (401s and 403s for the security panels). One /error, one
 * slow request and both admin calls are sent first, so even a run of a
 * second gives the error, latency and security panels data.
 */
export async function demoTraffic(
  ports: Pick<StackPorts, "app" | "pull">,
  durationMs: number,
  rate: number,
  signal?: AbortSignal,
): Promise<TrafficSummary> {
  const app = `http://127.0.0.1:${ports.app}`;
  const pull = `http://127.0.0.1:${ports.pull}`;
  // Every 25th request (offset so it never replaces the mix's /error) is an unauthenticated admin call.
  const mix = (n: number) => (n % 25 === 12 ? "/api/admin" : chapterMix(n));
  const sideCounts: Record<string, number> = {};
  const once = async (path: string, headers: Record<string, string> = {}) => {
    const key = await (async () => {
      try {
        const res = await fetch(`${app}${path}`, {
          headers,
          signal: signal
            ? AbortSignal.any([signal, AbortSignal.timeout(5000)])
            : AbortSignal.timeout(5000),
        });
        await res.body?.cancel();
        return String(res.status);
      } catch (err) {
        if (signal?.aborted) return "aborted";
        return (err as Error).name === "TimeoutError" ? "timeout" : "network-error";
      }
    })();
    sideCounts[key] = (sideCounts[key] ?? 0) + 1;
  };
  const side = (async () => {
    await Promise.all(GUARANTEED_REQUESTS.map((r) => once(r.path, r.headers)));
    const deadline = Date.now() + durationMs;
    while (!signal?.aborted) {
      await new Promise((r) => setTimeout(r, 1000));
      if (Date.now() >= deadline || signal?.aborted) break;
      await once("/api/admin");
      await once("/api/admin", { authorization: "Bearer not-an-admin" });
    }
  })();
  const [main, pullRes] = await Promise.all([
    runLoad({ target: app, rate, durationMs, mix, signal }),
    runLoad({
      target: pull,
      rate: Math.max(1, Math.round(rate / 4)),
      durationMs,
      mix: () => "/api/items",
      signal,
    }),
    side,
  ]);
  const statusCounts: Record<string, number> = {};
  for (const c of [main.statusCounts, pullRes.statusCounts, sideCounts]) addCounts(statusCounts, c);
  const responses = Object.entries(statusCounts)
    .filter(([k]) => /^\d+$/.test(k))
    .reduce((n, [, v]) => n + v, 0);
  return { responses, statusCounts };
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const started = performance.now();
  const hadStack = readState() !== null;
  let tornDown = false;
  const startedApps: AppName[] = [];
  const teardown = async () => {
    if (opts.keep || tornDown) return;
    tornDown = true;
    const p = progress("stopping what the demo started");
    if (hadStack) {
      // The stack was already running: stop only the apps the demo started.
      await stackDown({ only: startedApps });
    } else {
      const res = await stackDown();
      if (res.stillListening.length) {
        p.fail(`ports still listening: ${res.stillListening.join(", ")}`);
        return;
      }
      // Nothing left behind but the logs (kept for a look after a failure).
      purgeStackData();
    }
    p.succeed();
  };
  try {
    if (!opts.skipTools) {
      log("== 1. tools");
      // Only what the stack runs: Sloth is `deno task slo`'s, built by `deno task tools`.
      log(toolsTable(await installTools({ only: [...STACK_GROUPS] })));
    }
    log("\n== 2. local stack");
    const up = await stackUp({ ports: opts.ports, scrapeInterval: opts.scrapeInterval ?? "5s" });
    const ports = up.state.ports;
    if (up.alreadyRunning.length) log(`already running: ${up.alreadyRunning.join(", ")}`);
    log("\n== 3. apps");
    for (const name of ["instrumented-app", "metrics-pull"] as AppName[]) {
      const p = progress(`${name} on port ${name === "metrics-pull" ? ports.pull : ports.app}`);
      const r = await startApp(name, ports);
      if (r.started) startedApps.push(name);
      p.succeed(r.started ? `pid ${r.pid}` : "already running");
    }
    if (opts.signal?.aborted) throw new CheckFailed("interrupted");
    log("\n== 4. push demo (phase 6)");
    const push = await runPush(ports);
    if (push.code !== 0 || !push.traceId) {
      throw new CheckFailed(
        `run-push failed (exit ${push.code}):\n${
          push.output.trim().split("\n").slice(-5).join("\n")
        }`,
      );
    }
    log(`trace ${push.traceId} pushed`);
    const trafficMs = opts.trafficMs ?? 30_000;
    const rate = opts.rate ?? 10;
    log(`\n== 5. traffic: ${formatElapsed(trafficMs)} at ${rate} req/s (the chapter's mix)`);
    const p = progress("sending traffic");
    const t = await demoTraffic(ports, trafficMs, rate, opts.signal);
    p.succeed(`${t.responses} responses, statuses ${JSON.stringify(t.statusCounts)}`);
    if (opts.signal?.aborted) throw new CheckFailed("interrupted");
    log("\n== 6. verify (phases 11 and 12)");
    let lastFailing = -1;
    const results = await verifyUntil(
      {
        prometheus: `http://127.0.0.1:${ports.prometheus}`,
        jaeger: `http://127.0.0.1:${ports.jaegerQuery}`,
        traceId: push.traceId,
        // The pillars joined: an exemplar resolved to its trace, the push demo's log lines.
        correlation: { victorialogs: `http://127.0.0.1:${ports.victorialogs}` },
      },
      opts.verifyWaitMs ?? 60_000,
      (failing) => {
        if (failing !== lastFailing) log(`… ${failing} check(s) not passing yet; waiting for data`);
        lastFailing = failing;
      },
      opts.signal,
    );
    if (opts.signal?.aborted) throw new CheckFailed("interrupted");
    log(verifyTable(results));
    const fixes = verifyFixes(results);
    if (fixes.length) log(`\nMissing:\n${fixes.join("\n")}`);
    const ok = results.every((r) => r.status !== "fail");
    log(
      `\n== 7. look around${
        opts.keep ? "" : " (the demo stops everything when it ends; --keep leaves it running)"
      }`,
    );
    log(demoGuide(ports, push.traceId));
    log(`\ndemo ${ok ? "passed" : "FAILED"} in ${formatElapsed(performance.now() - started)}`);
    await teardown();
    return { ok, results, traceId: push.traceId, ports, tornDown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** The URLs and what to look at in each. */
export function demoGuide(ports: StackPorts, traceId: string | null): string {
  const prom = `http://localhost:${ports.prometheus}`;
  const q = (s: string) => `${prom}/graph?g0.expr=${encodeURIComponent(s)}&g0.tab=0`;
  const viewer = `http://localhost:${ports.viewer}`;
  return [
    // First: the one URL a reader should open (dashboards, traces and alerts in a browser).
    `Viewer        ${viewer}  (the five dashboards, traces, alerts)`,
    `  dashboards: ${viewer}/d/obskit-developer?from=now-15m&to=now  (and /d/obskit-sre, /d/obskit-management, /d/obskit-security, /d/platform-observability)`,
    `  push demo:  ${
      traceId ? traceUrl(viewer, traceId) : `${viewer}/traces?service=trace-demo-service`
    }  (the waterfall)`,
    `  alerts:     ${viewer}/alerts`,
    `Prometheus    ${prom}`,
    `  targets:    ${prom}/targets (otel-collector: platform-app's pushed metrics, metrics-pull-app, otel-collector-telemetry, node-exporter, prometheus)`,
    `  error rate: ${
      q('sum by (job) (rate(http_requests_total{status=~"5.."}[1m])) / sum by (job) (rate(http_requests_total[1m]))')
    }`,
    `  p95:        ${
      q("histogram_quantile(0.95, sum by (le, job) (rate(http_request_duration_seconds_bucket[1m])))")
    }`,
    `  alerts:     ${prom}/alerts (rules/alert-rules.yaml)`,
    `Alertmanager  http://localhost:${ports.alertmanager} (routes per team: sre, management, security, platform)`,
    `Jaeger        http://localhost:${ports.jaegerQuery}`,
    `  push demo:  http://localhost:${ports.jaegerQuery}/api/traces/${
      traceId ?? "<trace id>"
    } (process_user_request -> validate_user_action, perform_action)`,
    `  app spans:  http://localhost:${ports.jaegerQuery}/api/traces?service=platform-app&limit=5`,
    `VictoriaLogs  http://localhost:${ports.victorialogs}/select/vmui/  (the apps' log lines)`,
    `  by trace:   deno task logs --trace ${traceId ?? "<trace id>"}`,
    `  exemplars:  ${prom}/graph?g0.expr=${
      encodeURIComponent("http_request_duration_seconds_bucket")
    }&g0.tab=0&g0.show_exemplars=1  (hover a dot for its trace_id)`,
    `Apps          http://localhost:${ports.app}/metrics  http://localhost:${ports.pull}/metrics`,
  ].join("\n");
}
