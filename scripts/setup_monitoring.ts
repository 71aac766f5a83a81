/**
 * Phase 0: kube-prometheus-stack (Prometheus, Grafana, Alertmanager, the
 * operator) into the reader's cluster with helm, then port-forwards.
 * `helm upgrade --install`, so a rerun upgrades instead of failing.
 */
import { resolve } from "node:path";
import { durationFlag, intFlag, parseFlags, runMain } from "./lib/cli.ts";
import { Runner } from "./lib/k8s/external.ts";
import { defaultMonitoringOptions, setupMonitoring, stopMonitoring } from "./lib/k8s/mod.ts";
import { repoPath } from "./lib/paths.ts";

const spec = {
  name: "setup-monitoring",
  summary:
    "Phase 0: install or upgrade kube-prometheus-stack with helm, wait for its pods, port-forward Prometheus and Grafana.",
  flags: {
    "dry-run": { type: "boolean" as const, description: "print the exact commands; run nothing" },
    stop: {
      type: "boolean" as const,
      description: "stop the port-forwards started earlier, then exit",
    },
    "show-password": {
      type: "boolean" as const,
      description: "print the Grafana admin password (never printed otherwise)",
    },
    "no-port-forward": { type: "boolean" as const, description: "skip the port-forwards" },
    "with-trivy": {
      type: "boolean" as const,
      description:
        "also install trivy-operator (chart 0.31.0, namespace trivy-system): the security panels and CVEDetected need it",
    },
    context: {
      type: "string" as const,
      description: "kube context (default: current)",
      valueName: "name",
    },
    release: { type: "string" as const, description: "helm release name", default: "monitoring" },
    namespace: { type: "string" as const, description: "namespace", default: "monitoring" },
    values: {
      type: "string" as const,
      description: "values file (default: k8s/kube-prometheus-stack-values.yaml)",
      valueName: "path",
    },
    "chart-version": {
      type: "string" as const,
      description:
        "chart version (default: 88.5.3, the one the values file was checked against; 'latest' for the newest)",
      valueName: "version",
    },
    "prometheus-port": {
      type: "string" as const,
      description: "local port for Prometheus",
      default: "9090",
    },
    "grafana-port": {
      type: "string" as const,
      description: "local port for Grafana",
      default: "3000",
    },
    timeout: {
      type: "string" as const,
      description: "how long to wait for the pods",
      default: "5m",
    },
  },
  epilog: [
    "Needs helm 3.8+ and kubectl 1.24+ on PATH and a reachable cluster (except with --dry-run).",
    "Port-forward pids live in .stack/ (OBSKIT_STATE_DIR); stop them with --stop.",
    "Password by hand: kubectl get secret monitoring-grafana -n monitoring -o jsonpath='{.data.admin-password}' | base64 -d",
  ].join("\n"),
};

interface Flags {
  "dry-run"?: boolean;
  stop?: boolean;
  "show-password"?: boolean;
  "no-port-forward"?: boolean;
  "with-trivy"?: boolean;
  context?: string;
  release: string;
  namespace: string;
  values?: string;
  "chart-version"?: string;
  "prometheus-port": string;
  "grafana-port": string;
  timeout: string;
}

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    const runner = new Runner(flags["dry-run"] ?? false);
    const o = {
      ...defaultMonitoringOptions(),
      context: flags.context,
      release: flags.release,
      namespace: flags.namespace,
      ...(flags.values ? { valuesFile: resolve(flags.values) } : {}),
      ...(flags["chart-version"]
        ? { chartVersion: flags["chart-version"] === "latest" ? undefined : flags["chart-version"] }
        : {}),
      prometheusPort: intFlag("prometheus-port", flags["prometheus-port"]),
      grafanaPort: intFlag("grafana-port", flags["grafana-port"]),
      waitTimeoutMs: durationFlag("timeout", flags.timeout),
      portForward: !flags["no-port-forward"],
      showPassword: flags["show-password"] ?? false,
      ...(flags["with-trivy"]
        ? { trivyValuesFile: repoPath("k8s", "trivy-operator-values.yaml") }
        : {}),
    };
    if (runner.dryRun) runner.say("dry run: nothing is executed; these are the commands, in order");
    if (flags.stop) return await stopMonitoring(runner, o);
    await setupMonitoring(runner, o);
  });
}
