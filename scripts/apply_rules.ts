/**
 * Phase 9: alert rules into Prometheus. Generates k8s/prometheus-rule.yaml
 * (a PrometheusRule with the labels kube-prometheus-stack selects) from
 * rules/alert-rules.yaml, applies it and checks /api/v1/rules; with --local,
 * loads the rules into the local stack's Prometheus and reloads it.
 */
import { resolve } from "node:path";
import { durationFlag, intFlag, parseFlags, runMain, UsageError } from "./lib/cli.ts";
import { displayPath, Runner } from "./lib/k8s/external.ts";
import {
  applyLocal,
  applyToCluster,
  checkUpToDate,
  generate,
  PROMETHEUS_RULE_FILE,
} from "./lib/k8s/prometheus_rule.ts";
import { currentPorts } from "./lib/stack/mod.ts";

const spec = {
  name: "apply-rules",
  summary:
    "Phase 9: generate the PrometheusRule from rules/alert-rules.yaml and load it into Prometheus (cluster, or --local).",
  flags: {
    "dry-run": {
      type: "boolean" as const,
      description: "print the exact commands; change nothing",
    },
    local: {
      type: "boolean" as const,
      description: "load the rules into the local stack's Prometheus (deno task stack up)",
    },
    generate: {
      type: "boolean" as const,
      description: "only (re)generate k8s/prometheus-rule.yaml",
    },
    check: {
      type: "boolean" as const,
      description: "only check k8s/prometheus-rule.yaml is up to date (exit 1 if not)",
    },
    context: {
      type: "string" as const,
      description: "kube context (default: current)",
      valueName: "name",
    },
    "prometheus-url": {
      type: "string" as const,
      description:
        "Prometheus to check (default: --local: $PROMETHEUS_URL, else the running local stack's port, else 9090; cluster: a port-forward like phase 0)",
      valueName: "url",
    },
    "prometheus-port": {
      type: "string" as const,
      description: "cluster: local port of the Prometheus port-forward",
      default: "9090",
    },
    "rules-dir": {
      type: "string" as const,
      description:
        "--local: copy the rule file into this folder (default: where the live Prometheus' rule_files look, asked from its API)",
      valueName: "dir",
    },
    timeout: {
      type: "string" as const,
      description:
        "how long to wait for Prometheus to list the groups (default: 30s local, 5m cluster)",
      valueName: "duration",
    },
  },
  epilog:
    "The cluster path needs kubectl 1.24+ and kube-prometheus-stack (deno task setup-monitoring).",
};

interface Flags {
  "dry-run"?: boolean;
  local?: boolean;
  generate?: boolean;
  check?: boolean;
  context?: string;
  "prometheus-url"?: string;
  "prometheus-port": string;
  "rules-dir"?: string;
  timeout?: string;
}

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    const modes = [flags.local, flags.generate, flags.check].filter(Boolean).length;
    if (modes > 1) throw new UsageError("--local, --generate and --check exclude each other");
    const runner = new Runner(flags["dry-run"] ?? false);
    if (runner.dryRun) runner.say("dry run: nothing is executed; these are the commands, in order");
    if (flags.check) {
      checkUpToDate();
      runner.say(`${displayPath(PROMETHEUS_RULE_FILE)} is up to date`);
      return;
    }
    if (flags.generate) {
      await generate(runner);
      return;
    }
    if (flags.local) {
      await applyLocal(runner, {
        rulesDir: flags["rules-dir"] ? resolve(flags["rules-dir"]) : undefined,
        prometheusUrl: flags["prometheus-url"] ?? Deno.env.get("PROMETHEUS_URL") ??
          `http://127.0.0.1:${currentPorts().prometheus}`,
        timeoutMs: durationFlag("timeout", flags.timeout ?? "30s"),
      });
      return;
    }
    await applyToCluster(runner, {
      context: flags.context,
      prometheusUrl: flags["prometheus-url"],
      prometheusPort: intFlag("prometheus-port", flags["prometheus-port"]),
      timeoutMs: durationFlag("timeout", flags.timeout ?? "5m"),
    });
  });
}
