/**
 * Phase 1: Jaeger (the cluster's trace backend) and the OpenTelemetry
 * Collector DaemonSet into the reader's cluster (`kubectl apply`, safe to
 * rerun), each with a rollout wait, then the ServiceMonitor and PodMonitor
 * that kube-prometheus-stack scrapes by, a port-forward of OTLP and the
 * health port, and a health check.
 */
import { resolve } from "node:path";
import { durationFlag, intFlag, parseFlags, runMain } from "./lib/cli.ts";
import { Runner } from "./lib/k8s/external.ts";
import { defaultCollectorOptions, deployCollector, stopCollector } from "./lib/k8s/mod.ts";

const spec = {
  name: "deploy-collector",
  summary:
    "Phase 1: apply Jaeger and the collector DaemonSet, wait for their rollouts, apply the monitors, port-forward 4317/4318/13133 and check the collector's health.",
  flags: {
    "dry-run": { type: "boolean" as const, description: "print the exact commands; run nothing" },
    stop: {
      type: "boolean" as const,
      description: "stop the port-forward started earlier, then exit",
    },
    "no-port-forward": {
      type: "boolean" as const,
      description: "skip the port-forward and health check",
    },
    context: {
      type: "string" as const,
      description: "kube context (default: current)",
      valueName: "name",
    },
    manifest: {
      type: "string" as const,
      description: "collector manifest (default: k8s/otel-collector-deployment.yaml)",
      valueName: "path",
    },
    "jaeger-manifest": {
      type: "string" as const,
      description: "trace backend manifest, applied first (default: k8s/jaeger.yaml)",
      valueName: "path",
    },
    "monitors-manifest": {
      type: "string" as const,
      description: "ServiceMonitor/PodMonitor manifest, applied last (default: k8s/monitors.yaml)",
      valueName: "path",
    },
    "otlp-grpc-port": {
      type: "string" as const,
      description: "local port for OTLP gRPC",
      default: "4317",
    },
    "otlp-http-port": {
      type: "string" as const,
      description: "local port for OTLP HTTP",
      default: "4318",
    },
    "health-port": {
      type: "string" as const,
      description: "local port for the health check",
      default: "13133",
    },
    timeout: { type: "string" as const, description: "rollout timeout", default: "5m" },
  },
  epilog: [
    "Needs kubectl 1.24+ on PATH and a reachable cluster (except with --dry-run), with phase 0",
    "done first: the monitors' kinds (ServiceMonitor, PodMonitor) come with kube-prometheus-stack.",
    "The port-forward pid lives in .stack/ (OBSKIT_STATE_DIR); stop it with --stop.",
  ].join("\n"),
};

interface Flags {
  "dry-run"?: boolean;
  stop?: boolean;
  "no-port-forward"?: boolean;
  context?: string;
  manifest?: string;
  "jaeger-manifest"?: string;
  "monitors-manifest"?: string;
  "otlp-grpc-port": string;
  "otlp-http-port": string;
  "health-port": string;
  timeout: string;
}

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    const runner = new Runner(flags["dry-run"] ?? false);
    if (runner.dryRun) runner.say("dry run: nothing is executed; these are the commands, in order");
    if (flags.stop) return await stopCollector(runner);
    await deployCollector(runner, {
      ...defaultCollectorOptions(),
      context: flags.context,
      ...(flags.manifest ? { manifest: resolve(flags.manifest) } : {}),
      ...(flags["jaeger-manifest"] ? { jaegerManifest: resolve(flags["jaeger-manifest"]) } : {}),
      ...(flags["monitors-manifest"]
        ? { monitorsManifest: resolve(flags["monitors-manifest"]) }
        : {}),
      otlpGrpcPort: intFlag("otlp-grpc-port", flags["otlp-grpc-port"]),
      otlpHttpPort: intFlag("otlp-http-port", flags["otlp-http-port"]),
      healthPort: intFlag("health-port", flags["health-port"]),
      rolloutTimeoutMs: durationFlag("timeout", flags.timeout),
      portForward: !flags["no-port-forward"],
    });
  });
}
