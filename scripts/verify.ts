/**
 * Phases 11 and 12 (`deno task verify`, `deno task verify --traces-only`):
 * asks Prometheus and Jaeger whether the chapter works end to end and
 * prints a table (check, expected, found). Logic in scripts/lib/verify/mod.ts.
 */
import { durationFlag, parseFlags, runMain, UsageError } from "./lib/cli.ts";
import { currentPorts, readState } from "./lib/stack/mod.ts";
import {
  baseUrl,
  type CheckResult,
  pushDemoTrace,
  retryReporter,
  verifyFixes,
  verifyTable,
  verifyUntil,
} from "./lib/verify/mod.ts";
import { traceUrl, waterfall, waterfallText } from "./lib/view/waterfall.ts";

const spec = {
  name: "verify",
  summary:
    "Verify the running system: Prometheus targets, scraped and exported metrics, dashboard queries, and the traces in Jaeger.",
  usage: "[--traces-only | --metrics-only] [--prometheus-url URL] [--jaeger-url URL] [--wait 60s]",
  flags: {
    "prometheus-url": {
      type: "string" as const,
      description: "Prometheus base URL (env PROMETHEUS_URL; default: the local stack's)",
      valueName: "url",
    },
    "jaeger-url": {
      type: "string" as const,
      description: "Jaeger query base URL (env JAEGER_URL; default: the local stack's)",
      valueName: "url",
    },
    "traces-only": { type: "boolean" as const, description: "phase 12: only the Jaeger checks" },
    "metrics-only": { type: "boolean" as const, description: "only the Prometheus checks" },
    "no-dashboards": { type: "boolean" as const, description: "skip the dashboard queries" },
    "trace-id": {
      type: "string" as const,
      description: "check this trace (as printed by run-push) instead of the newest one",
      valueName: "id",
    },
    wait: {
      type: "string" as const,
      description:
        "retry failing checks for up to this long (data arrives a scrape interval later)",
      valueName: "d",
    },
    json: { type: "boolean" as const, description: "print the results as JSON" },
  },
  epilog:
    "Exit status: 0 everything present, 1 something missing (each failure prints its likely fix), 2 usage.",
};

type Flags = {
  "prometheus-url"?: string;
  "jaeger-url"?: string;
  "traces-only"?: boolean;
  "metrics-only"?: boolean;
  "no-dashboards"?: boolean;
  "trace-id"?: string;
  wait?: string;
  json?: boolean;
};

/** The flag's URL, else the environment's, else the local stack's; malformed is exit 2. */
function urlFrom(flag: string | undefined, env: string, dflt: string): string {
  const name = env === "PROMETHEUS_URL" ? "--prometheus-url" : "--jaeger-url";
  if (flag !== undefined) return baseUrl(name, flag);
  const fromEnv = Deno.env.get(env);
  if (fromEnv) return baseUrl(env, fromEnv);
  return dflt;
}

/** The local stack's VictoriaLogs, when its state says one runs behind the local collector config. */
function localVictoriaLogs(port: number): string | undefined {
  let state;
  try {
    state = readState();
  } catch {
    return undefined;
  }
  if (!state?.components?.victorialogs || state.topology === "cluster") return undefined;
  return `http://127.0.0.1:${port}`;
}

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    if (flags["traces-only"] && flags["metrics-only"]) {
      throw new UsageError("--traces-only and --metrics-only exclude each other");
    }
    if (flags["trace-id"] && !/^[0-9a-f]{16,32}$/i.test(flags["trace-id"])) {
      throw new UsageError(`--trace-id must be 16 or 32 hex digits, got '${flags["trace-id"]}'`);
    }
    const ports = currentPorts();
    const prometheus = urlFrom(
      flags["prometheus-url"],
      "PROMETHEUS_URL",
      `http://127.0.0.1:${ports.prometheus}`,
    );
    const jaeger = urlFrom(
      flags["jaeger-url"],
      "JAEGER_URL",
      `http://127.0.0.1:${ports.jaegerQuery}`,
    );
    const waitMs = flags.wait ? durationFlag("wait", flags.wait) : 0;
    const results: CheckResult[] = await verifyUntil(
      {
        prometheus,
        jaeger,
        metrics: !flags["traces-only"],
        traces: !flags["metrics-only"],
        dashboards: !flags["no-dashboards"],
        traceId: flags["trace-id"],
        // The pillars joined: an exemplar's trace; and the push demo's log lines
        // where a local stack runs VictoriaLogs (the cluster config logs to debug).
        correlation: { victorialogs: localVictoriaLogs(ports.victorialogs) },
      },
      waitMs,
      retryReporter((line) => console.error(line)),
    );
    if (flags.json) console.log(JSON.stringify(results, null, 2));
    else {
      console.log(verifyTable(results));
      if (!flags["metrics-only"]) {
        // Phase 12 as a picture: the push demo's trace, and where the viewer shows it.
        const trace = await pushDemoTrace(jaeger, flags["trace-id"]).catch(() => null);
        if (trace) {
          console.log(`\n${waterfallText(waterfall(trace))}`);
          console.log(`open it: ${traceUrl(`http://127.0.0.1:${ports.viewer}`, trace.traceID)}`);
        }
      }
      const fixes = verifyFixes(results);
      const skipped = results.filter((r) =>
        r.status === "skip" && r.expected === "cluster only"
      ).length;
      if (skipped) {
        console.log(
          `\n${skipped} dashboard quer${
            skipped === 1 ? "y needs" : "ies need"
          } cluster exporters (config/metric-catalog.yaml) and cannot have data locally.`,
        );
      }
      if (fixes.length) console.log(`\nMissing:\n${fixes.join("\n")}`);
    }
    const failed = results.filter((r) => r.status === "fail").length;
    if (!flags.json) {
      console.log(failed ? `\n${failed} check(s) failed` : "\nall checks passed");
    }
    return failed ? 1 : 0;
  });
}
