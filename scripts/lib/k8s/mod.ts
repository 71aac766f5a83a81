// Kubernetes phases on a reader's cluster: helm/kubectl (external.ts), port-forwards (portforward.ts),
// the PrometheusRule (prometheus_rule.ts). Used by `setup-monitoring` (phase 0), `deploy-collector`
// (phase 1), `apply-rules` (phase 9) and `slo`.
/**
 * Phases 0 and 1: kube-prometheus-stack by helm
 * (`helm upgrade --install`, so a rerun upgrades instead of failing), the
 * collector DaemonSet by `kubectl apply`, pod readiness with progress, and
 * the port-forwards. Everything goes through a Runner, so `--dry-run`
 * prints the same command lines that a real run executes.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { CheckFailed, MissingPrerequisite, UsageError } from "../cli.ts";
import {
  displayPath,
  formatMs,
  helmArgs,
  kubectlArgs,
  type KubeTarget,
  preflight,
  Runner,
} from "./external.ts";
import { waitForHttp } from "../net.ts";
import { repoPath } from "../paths.ts";
import { type Forward, startForward, stopBackground } from "./portforward.ts";
import { progress } from "../spinner.ts";

export const CHART_REPO_NAME = "prometheus-community";
export const CHART_REPO_URL = "https://prometheus-community.github.io/helm-charts";
export const CHART = `${CHART_REPO_NAME}/kube-prometheus-stack`;
/** The chart version k8s/kube-prometheus-stack-values.yaml was checked against. */
export const CHART_VERSION = "88.5.3";
/**
 * trivy-operator (opt-in, `--with-trivy`): the security panels and the
 * CVEDetected alert read its trivy_* metrics. Chart 0.31.0 runs operator
 * v0.29.0 (its install guide pairs them).
 */
export const TRIVY_REPO_NAME = "aqua";
export const TRIVY_REPO_URL = "https://aquasecurity.github.io/helm-charts/";
export const TRIVY_CHART = `${TRIVY_REPO_NAME}/trivy-operator`;
export const TRIVY_CHART_VERSION = "0.31.0";
export const TRIVY_NAMESPACE = "trivy-system";
/** helm 3.8+ (OCI and `--create-namespace` behaviour we rely on); kubectl 1.24+. */
export const MIN_VERSIONS: Record<string, [number, number]> = {
  helm: [3, 8],
  kubectl: [1, 24],
};

// ---------------------------------------------------------------------------
// Phase 0: kube-prometheus-stack

export interface MonitoringOptions extends KubeTarget {
  release: string;
  namespace: string;
  valuesFile: string;
  chartVersion?: string;
  prometheusPort: number;
  grafanaPort: number;
  waitTimeoutMs: number;
  portForward: boolean;
  showPassword: boolean;
  /** Also install trivy-operator with this values file (undefined: not installed). */
  trivyValuesFile?: string;
}

export function defaultMonitoringOptions(): MonitoringOptions {
  return {
    release: "monitoring",
    namespace: "monitoring",
    valuesFile: repoPath("k8s", "kube-prometheus-stack-values.yaml"),
    chartVersion: CHART_VERSION,
    prometheusPort: 9090,
    grafanaPort: 3000,
    waitTimeoutMs: 5 * 60_000,
    portForward: true,
    showPassword: false,
  };
}

export function monitoringForwards(o: MonitoringOptions): Forward[] {
  return [
    {
      name: "prometheus",
      namespace: o.namespace,
      // Created by the operator for every Prometheus it runs, whatever the release name.
      resource: "svc/prometheus-operated",
      ports: [[o.prometheusPort, 9090]],
      stopWith: "deno task setup-monitoring --stop",
    },
    {
      name: "grafana",
      namespace: o.namespace,
      resource: `svc/${o.release}-grafana`,
      ports: [[o.grafanaPort, 80]],
      stopWith: "deno task setup-monitoring --stop",
    },
  ];
}

export async function setupMonitoring(runner: Runner, o: MonitoringOptions): Promise<void> {
  readValues(o.valuesFile);
  if (o.trivyValuesFile) readValues(o.trivyValuesFile);
  await preflight(runner, { tools: ["helm", "kubectl"], minVersions: MIN_VERSIONS, ...o });
  runner.say("chart repository (--force-update: adding it again is not an error)");
  await runner.run(helmArgs(o, "repo", "add", CHART_REPO_NAME, CHART_REPO_URL, "--force-update"), {
    timeoutMs: 60_000,
    hint: "check network access to the chart repository",
  });
  await runner.run(helmArgs(o, "repo", "update", CHART_REPO_NAME), {
    timeoutMs: 120_000,
    hint: "check network access to the chart repository",
  });
  runner.say(`install or upgrade release '${o.release}' (safe to rerun)`);
  await runner.run(
    helmArgs(
      o,
      "upgrade",
      "--install",
      o.release,
      CHART,
      "--namespace",
      o.namespace,
      "--create-namespace",
      "--values",
      displayPath(o.valuesFile),
      ...(o.chartVersion ? ["--version", o.chartVersion] : []),
      "--timeout",
      formatMs(o.waitTimeoutMs),
    ),
    {
      timeoutMs: o.waitTimeoutMs + 60_000,
      hint:
        `see 'helm status ${o.release} -n ${o.namespace}' and 'kubectl get events -n ${o.namespace}'`,
    },
  );
  await waitForPods(runner, o, o.namespace, o.waitTimeoutMs);
  if (o.trivyValuesFile) await installTrivy(runner, o, o.trivyValuesFile);
  if (o.portForward) {
    for (const f of monitoringForwards(o)) await startForward(runner, o, f);
    runner.say(`Prometheus: http://127.0.0.1:${o.prometheusPort}`);
    runner.say(`Grafana:    http://127.0.0.1:${o.grafanaPort} (user admin)`);
  }
  await grafanaPassword(runner, o);
}

/**
 * trivy-operator after kube-prometheus-stack: its chart creates a
 * ServiceMonitor, a kind that chart brings.
 */
async function installTrivy(runner: Runner, o: MonitoringOptions, values: string): Promise<void> {
  runner.say(
    "trivy-operator: the security panels' and CVEDetected's trivy_* metrics (--with-trivy)",
  );
  const hint = "check network access to the chart repository";
  await runner.run(
    helmArgs(o, "repo", "add", TRIVY_REPO_NAME, TRIVY_REPO_URL, "--force-update"),
    { timeoutMs: 60_000, hint },
  );
  await runner.run(helmArgs(o, "repo", "update", TRIVY_REPO_NAME), { timeoutMs: 120_000, hint });
  await runner.run(
    helmArgs(
      o,
      "upgrade",
      "--install",
      "trivy-operator",
      TRIVY_CHART,
      "--namespace",
      TRIVY_NAMESPACE,
      "--create-namespace",
      "--values",
      displayPath(values),
      "--version",
      TRIVY_CHART_VERSION,
      "--timeout",
      formatMs(o.waitTimeoutMs),
    ),
    {
      timeoutMs: o.waitTimeoutMs + 60_000,
      hint:
        `see 'helm status trivy-operator -n ${TRIVY_NAMESPACE}' and 'kubectl get events -n ${TRIVY_NAMESPACE}'`,
    },
  );
  await waitForPods(runner, o, TRIVY_NAMESPACE, o.waitTimeoutMs);
}

/** Prints the Grafana admin password only when asked; otherwise says how to get it. */
export async function grafanaPassword(runner: Runner, o: MonitoringOptions): Promise<void> {
  const cmd = kubectlArgs(
    o,
    "get",
    "secret",
    `${o.release}-grafana`,
    "--namespace",
    o.namespace,
    "--output",
    "jsonpath={.data.admin-password}",
  );
  if (!o.showPassword) {
    runner.say("Grafana admin password: rerun with --show-password to print it");
    return;
  }
  const r = await runner.run(cmd, {
    quiet: true,
    secret: true,
    timeoutMs: 30_000,
    note: "base64-decoded and printed (--show-password)",
    hint: `is the release '${o.release}' installed in '${o.namespace}'?`,
  });
  if (runner.dryRun) return;
  const password = new TextDecoder().decode(
    Uint8Array.from(atob(r.stdout.trim()), (c) => c.charCodeAt(0)),
  );
  runner.print(`Grafana admin password: ${password}`);
}

export async function stopMonitoring(runner: Runner, o: MonitoringOptions): Promise<void> {
  for (const f of monitoringForwards(o)) await stopBackground(runner, f.name);
}

// ---------------------------------------------------------------------------
// Pod readiness with progress

export interface PodProgress {
  ready: number;
  total: number;
  /** Pods not ready yet, with the most telling reason. */
  waiting: { name: string; reason: string }[];
}

export interface PodJson {
  metadata: { name: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      state?: { waiting?: { reason?: string }; terminated?: { reason?: string } };
    }[];
  };
}

/** Summarises `kubectl get pods -o json`: finished (Succeeded) pods count as ready. */
export function podProgress(json: { items: PodJson[] }): PodProgress {
  const p: PodProgress = { ready: 0, total: 0, waiting: [] };
  for (const pod of json.items) {
    p.total++;
    const st = pod.status ?? {};
    const ready = st.phase === "Succeeded" ||
      (st.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
    if (ready) {
      p.ready++;
      continue;
    }
    const reason = (st.containerStatuses ?? [])
      .map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason)
      .find((r) => r) ?? st.phase ?? "Unknown";
    p.waiting.push({ name: pod.metadata.name, reason });
  }
  return p;
}

export function progressLine(p: PodProgress): string {
  const waiting = p.waiting.slice(0, 4).map((w) => `${w.name} ${w.reason}`).join(", ");
  const more = p.waiting.length > 4 ? `, +${p.waiting.length - 4} more` : "";
  return `pods Ready ${p.ready}/${p.total}${waiting ? ` (waiting: ${waiting}${more})` : ""}`;
}

export async function waitForPods(
  runner: Runner,
  target: KubeTarget,
  namespace: string,
  timeoutMs: number,
  intervalMs = 2000,
): Promise<void> {
  const cmd = kubectlArgs(target, "get", "pods", "--namespace", namespace, "--output", "json");
  if (runner.dryRun) {
    await runner.run(cmd, {
      note: `polled every ${intervalMs / 1000}s until every pod is Ready (timeout ${
        formatMs(timeoutMs)
      })`,
    });
    return;
  }
  const deadline = Date.now() + timeoutMs;
  let last = "";
  let lastPrinted = 0;
  let p: PodProgress = { ready: 0, total: 0, waiting: [] };
  // On a terminal a spinner redraws one line; elsewhere a line per change.
  const spin = runner.interactive ? progress(`waiting for the pods in ${namespace}`) : null;
  try {
    while (Date.now() < deadline) {
      const r = await runner.run(cmd, { quiet: true, timeoutMs: 30_000 });
      p = podProgress(JSON.parse(r.stdout));
      const line = progressLine(p);
      spin?.update(line);
      if (!spin && (line !== last || Date.now() - lastPrinted > 15_000)) {
        runner.say(line);
        last = line;
        lastPrinted = Date.now();
      }
      if (p.total > 0 && p.ready === p.total) {
        spin?.succeed(line);
        return;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    spin?.fail(progressLine(p));
  }
  const first = p.waiting[0]?.name;
  throw new CheckFailed(
    `not every pod in '${namespace}' is Ready after ${formatMs(timeoutMs)}: ${progressLine(p)}${
      first ? `; look with 'kubectl describe pod ${first} -n ${namespace}'` : ""
    }`,
  );
}

// ---------------------------------------------------------------------------
// Phase 1: Jaeger, the collector DaemonSet, the monitors

export interface CollectorOptions extends KubeTarget {
  manifest: string;
  /** The trace backend the collector exports to, applied and waited for first. */
  jaegerManifest: string;
  /** ServiceMonitor/PodMonitor (kinds from phase 0's chart), applied last. */
  monitorsManifest: string;
  otlpGrpcPort: number;
  otlpHttpPort: number;
  healthPort: number;
  rolloutTimeoutMs: number;
  portForward: boolean;
}

export function defaultCollectorOptions(): CollectorOptions {
  return {
    manifest: repoPath("k8s", "otel-collector-deployment.yaml"),
    jaegerManifest: repoPath("k8s", "jaeger.yaml"),
    monitorsManifest: repoPath("k8s", "monitors.yaml"),
    otlpGrpcPort: 4317,
    otlpHttpPort: 4318,
    healthPort: 13133,
    rolloutTimeoutMs: 5 * 60_000,
    portForward: true,
  };
}

export interface CollectorWorkload {
  kind: string;
  name: string;
  namespace: string;
  /** A Service exposing 4317, 4318 and 13133, when the manifest has one. */
  service?: string;
}

interface K8sObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { ports?: { port?: number }[] };
}

/** The objects of a manifest; a missing file or a YAML error is said in one line. */
export function manifestObjects(manifestPath: string): K8sObject[] {
  let text: string;
  try {
    text = readFileSync(manifestPath, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") throw err;
    throw new MissingPrerequisite(
      `${displayPath(manifestPath)} not found`,
      "pass its path (--manifest, --jaeger-manifest, --monitors-manifest), or restore the file from the repository",
    );
  }
  const docs = parseAllDocuments(text);
  const objs: K8sObject[] = [];
  for (const d of docs) {
    if (d.errors.length) {
      throw new UsageError(`${displayPath(manifestPath)}: ${d.errors[0].message.split("\n")[0]}`);
    }
    const o = d.toJS() as K8sObject | null;
    if (o && typeof o === "object") objs.push(o);
  }
  return objs;
}

/** Reads the manifest's workload (DaemonSet, else Deployment) and the Service in front of it. */
export function collectorWorkload(manifestPath: string): CollectorWorkload {
  const objs = manifestObjects(manifestPath);
  const workload = objs.find((o) => o.kind === "DaemonSet") ??
    objs.find((o) => o.kind === "Deployment");
  if (!workload?.metadata?.name) {
    throw new UsageError(`${displayPath(manifestPath)} has no DaemonSet or Deployment`);
  }
  const namespace = workload.metadata.namespace ?? "default";
  const wanted = [4317, 4318, 13133];
  const service = objs.find((o) =>
    o.kind === "Service" && (o.metadata?.namespace ?? "default") === namespace &&
    wanted.every((p) => (o.spec?.ports ?? []).some((sp) => sp.port === p))
  );
  return {
    kind: workload.kind!.toLowerCase(),
    name: workload.metadata.name,
    namespace,
    service: service?.metadata?.name,
  };
}

export function collectorForward(o: CollectorOptions, w: CollectorWorkload): Forward {
  return {
    name: "collector",
    namespace: w.namespace,
    resource: w.service ? `svc/${w.service}` : `${w.kind}/${w.name}`,
    ports: [[o.otlpGrpcPort, 4317], [o.otlpHttpPort, 4318], [o.healthPort, 13133]],
    stopWith: "deno task deploy-collector --stop",
  };
}

/** `kubectl apply` of one manifest, a restart when its ConfigMap changed, and the rollout wait. */
async function applyAndRollOut(
  runner: Runner,
  o: CollectorOptions,
  manifest: string,
  w: CollectorWorkload,
): Promise<void> {
  const applied = await runner.run(kubectlArgs(o, "apply", "-f", displayPath(manifest)), {
    timeoutMs: 120_000,
    hint:
      "read the error above; 'kubectl apply --dry-run=server -f FILE' shows what the cluster rejects",
  });
  const workloadRef = `${w.kind}/${w.name}`;
  const configChanged = /^configmap\/\S+ configured$/m.test(applied.stdout);
  if (runner.dryRun || configChanged) {
    // A changed ConfigMap does not restart the pods that read it.
    await runner.run(
      kubectlArgs(o, "rollout", "restart", workloadRef, "--namespace", w.namespace),
      {
        timeoutMs: 60_000,
        note: "only when apply reports a ConfigMap 'configured'",
      },
    );
  }
  await runner.run(
    kubectlArgs(
      o,
      "rollout",
      "status",
      workloadRef,
      "--namespace",
      w.namespace,
      `--timeout=${formatMs(o.rolloutTimeoutMs)}`,
    ),
    {
      timeoutMs: o.rolloutTimeoutMs + 30_000,
      hint:
        `look with 'kubectl get pods -n ${w.namespace}' and 'kubectl logs ${workloadRef} -n ${w.namespace}'`,
    },
  );
}

export async function deployCollector(runner: Runner, o: CollectorOptions): Promise<void> {
  // Every manifest is read before anything runs: a missing or broken one stops here.
  const jaeger = collectorWorkload(o.jaegerManifest);
  const w = collectorWorkload(o.manifest);
  manifestObjects(o.monitorsManifest);
  await preflight(runner, { tools: ["kubectl"], minVersions: MIN_VERSIONS, ...o });
  runner.say("Jaeger, the collector's trace backend (creates or updates; safe to rerun)");
  await applyAndRollOut(runner, o, o.jaegerManifest, jaeger);
  runner.say("the collector (creates or updates; safe to rerun)");
  await applyAndRollOut(runner, o, o.manifest, w);
  runner.say("what Prometheus scrapes: ServiceMonitor and PodMonitor (safe to rerun)");
  await runner.run(kubectlArgs(o, "apply", "-f", displayPath(o.monitorsManifest)), {
    timeoutMs: 120_000,
    note: "kinds from phase 0's kube-prometheus-stack",
    hint:
      "'no matches for kind ServiceMonitor' means kube-prometheus-stack is not installed: run phase 0 (deno task setup-monitoring) first",
  });
  const workloadRef = `${w.kind}/${w.name}`;
  if (!o.portForward) return;
  await startForward(runner, o, collectorForward(o, w));
  const health = `http://127.0.0.1:${o.healthPort}/`;
  if (runner.dryRun) {
    runner.print(`# then: GET ${health} must answer 200 (collector health_check)`);
    return;
  }
  try {
    await waitForHttp(health, 30_000, 500);
  } catch (err) {
    throw new CheckFailed(
      `collector health check failed: ${
        (err as Error).message
      }; look with 'kubectl logs ${workloadRef} -n ${w.namespace}'`,
    );
  }
  runner.say(`collector healthy: ${health}`);
  runner.say(
    `apps can export to http://127.0.0.1:${o.otlpHttpPort} (OTLP/HTTP) or 127.0.0.1:${o.otlpGrpcPort} (gRPC)`,
  );
}

export async function stopCollector(runner: Runner): Promise<void> {
  await stopBackground(runner, "collector");
}

/** Reads the values file (fails early with a clear message when it is missing or broken). */
export function readValues(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") throw err;
    throw new MissingPrerequisite(
      `${displayPath(path)} not found`,
      "pass --values PATH, or restore k8s/kube-prometheus-stack-values.yaml",
    );
  }
  const docs = parseAllDocuments(text);
  if (docs.length !== 1 || docs[0].errors.length) {
    throw new UsageError(`${displayPath(path)} is not a single valid YAML document`);
  }
  return docs[0].toJS();
}
