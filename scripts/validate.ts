/**
 * Phase 3: validate the observability configs with the programs that consume
 * them (the collector's own `validate`, promtool) and by cross-checks
 * (pipelines, PromQL, metric catalog, Kubernetes and Grafana schemas).
 *
 *   deno task validate                     all checks, one line each
 *   deno task validate TestOTELCollector   one class, as the chapter shows
 *   deno task validate --json              machine-readable
 *   deno task validate -v                  durations and every problem (the chapter's flag)
 */
import { parseFlags, runMain, UsageError } from "./lib/cli.ts";
import { syncConfigMap } from "./lib/validate/k8s.ts";
import { exitCode, formatReports, parseClasses, runValidate } from "./lib/validate/run.ts";
import { CHECK_CLASSES } from "./lib/validate/types.ts";
import { REPO_ROOT } from "./lib/paths.ts";
import { resolve } from "node:path";

const spec = {
  name: "validate",
  summary:
    "Check the collector config, k8s manifest, alert rules and dashboards with the real tools.",
  usage: "[-v] [--json] [--root DIR] [--sync-configmap] [CLASS...]",
  allowPositionals: true,
  flags: {
    json: { type: "boolean" as const, description: "print the results as JSON" },
    verbose: {
      type: "boolean" as const,
      short: "v",
      description: "each check's duration, and every problem on its own line",
    },
    root: {
      type: "string" as const,
      valueName: "dir",
      description: "validate this copy of the repository instead",
      default: REPO_ROOT,
    },
    "sync-configmap": {
      type: "boolean" as const,
      description:
        "rewrite the k8s ConfigMap from config/otel-collector-config.yaml, then validate",
    },
  },
  epilog: `Classes: ${CHECK_CLASSES.join(", ")}.
Exit: 0 all passed (skips allowed), 1 a check failed, 2 bad usage.
A real tool that is missing (otelcol-obskit, promtool) skips its check,
except with CI=true, where it fails.`,
};

await runMain(async () => {
  const { flags, positionals } = parseFlags<
    { json?: boolean; verbose?: boolean; root: string; "sync-configmap"?: boolean }
  >(
    spec,
  );
  const classes = parseClasses(positionals);
  const root = resolve(flags.root);
  try {
    Deno.statSync(root);
  } catch {
    throw new UsageError(`--root ${flags.root}: no such folder`);
  }
  if (flags["sync-configmap"] && syncConfigMap(root)) {
    console.error("rewrote the ConfigMap in k8s/otel-collector-deployment.yaml");
  }
  const reports = await runValidate({ root, classes });
  if (flags.json) {
    console.log(JSON.stringify({ ok: exitCode(reports) === 0, checks: reports }, null, 2));
  } else {
    console.log(formatReports(reports, { verbose: flags.verbose }));
  }
  return exitCode(reports);
});
