/**
 * `deno task stack up --topology cluster`: the local stack shaped like the
 * cluster, with the cluster's own configs.
 *
 *   - the collector runs config/otel-collector-config.yaml exactly as the
 *     ConfigMap carries it (no local overlay), endpoints and ports from its
 *     environment; its k8s_attributes processor talks to the real
 *     kube-apiserver of `deno task control-plane up` (kubeconfig instead of a
 *     service account: there is no pod to mount one into);
 *   - Prometheus scrapes what kube-prometheus-stack would scrape from our
 *     ServiceMonitor and PodMonitor (k8s/monitors.yaml): each endpoint becomes
 *     the scrape config prometheus-operator generates (job name, honor_labels,
 *     the operator's target labels, the monitor's relabelings), with the pods
 *     it would discover given as static targets carrying the discovery labels;
 *   - the apps push OTLP and are scraped only where a monitor selects them.
 */
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from "yaml";
import { CheckFailed } from "../cli.ts";
import { readState as controlPlaneState } from "../control_plane/mod.ts";
import { isAlive } from "../process.ts";
import { repoPath } from "../paths.ts";
import type { StackPorts } from "./mod.ts";

export type Topology = "local" | "cluster";
export const TOPOLOGIES: readonly Topology[] = ["local", "cluster"];

export const MONITORS_FILE = repoPath("k8s", "monitors.yaml");
export const COLLECTOR_MANIFEST = repoPath("k8s", "otel-collector-deployment.yaml");

// deno-lint-ignore no-explicit-any
type Obj = any;

/** A pod the cluster's monitors would discover, standing in for one here. */
export interface LocalPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Container port name -> the local port that serves it. */
  ports: Record<string, number>;
  container: string;
  node: string;
}

/**
 * The pods of the cluster topology: one collector pod (the DaemonSet's pod
 * template labels) and the pull app's pod as its manifest would label it
 * for the PodMonitor (obskit.io/scrape=true, app.kubernetes.io/name).
 */
export function localPods(ports: StackPorts, node: string): LocalPod[] {
  const docs = parseAllDocuments(Deno.readTextFileSync(COLLECTOR_MANIFEST)).map((d) => d.toJS());
  const ds = docs.find((d: Obj) => d?.kind === "DaemonSet");
  if (!ds) throw new CheckFailed(`${COLLECTOR_MANIFEST} has no DaemonSet`);
  return [
    {
      namespace: ds.metadata.namespace,
      name: `${ds.metadata.name}-local`,
      labels: ds.spec.template.metadata.labels,
      ports: {
        "prom-exporter": ports.collectorPromExporter,
        "telemetry": ports.collectorTelemetry,
      },
      container: ds.spec.template.spec.containers[0].name,
      node,
    },
    {
      namespace: "default",
      name: "metrics-pull-app-local",
      labels: { "app.kubernetes.io/name": "metrics-pull-app", "obskit.io/scrape": "true" },
      ports: { metrics: ports.pull },
      container: "app",
      node,
    },
  ];
}

/** Services of the collector manifest (the ServiceMonitor selects among them). */
function services(): Obj[] {
  return parseAllDocuments(Deno.readTextFileSync(COLLECTOR_MANIFEST))
    .map((d) => d.toJS())
    .filter((d: Obj) => d?.kind === "Service");
}

function matches(labels: Record<string, string>, selector: Obj): boolean {
  return Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v);
}

function inNamespaces(ns: string, selector: Obj, own: string): boolean {
  if (selector?.any) return true;
  const names: string[] = selector?.matchNames ?? [own];
  return names.includes(ns);
}

/** Prometheus' label-name form of a Kubernetes label (`app.kubernetes.io/name` -> `app_kubernetes_io_name`). */
function labelName(k: string): string {
  return k.replace(/[^a-zA-Z0-9_]/g, "_");
}

function metaLabels(pod: LocalPod, extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {
    __meta_kubernetes_namespace: pod.namespace,
    __meta_kubernetes_pod_name: pod.name,
    __meta_kubernetes_pod_node_name: pod.node,
    __meta_kubernetes_pod_container_name: pod.container,
    ...extra,
  };
  for (const [k, v] of Object.entries(pod.labels)) {
    out[`__meta_kubernetes_pod_label_${labelName(k)}`] = v;
  }
  return out;
}

/** A monitor's relabelings in Prometheus' own spelling. */
function relabelConfigs(relabelings: Obj[] | undefined): Obj[] {
  return (relabelings ?? []).map((r: Obj) => {
    const out: Obj = {};
    if (r.sourceLabels) out.source_labels = r.sourceLabels;
    if (r.separator !== undefined) out.separator = r.separator;
    if (r.targetLabel) out.target_label = r.targetLabel;
    if (r.regex !== undefined) out.regex = r.regex;
    if (r.replacement !== undefined) out.replacement = r.replacement;
    if (r.action) out.action = r.action.toLowerCase();
    return out;
  });
}

/**
 * The scrape configs prometheus-operator generates for k8s/monitors.yaml,
 * with `pods` as the discovered targets: per endpoint, job name
 * `serviceMonitor|podMonitor/<namespace>/<name>/<index>`, the operator's
 * target labels (namespace, service, pod, container port name as
 * `endpoint`, and `job`: the Service's name, or the jobLabel's value), then
 * the endpoint's own relabelings.
 */
export function monitorScrapeConfigs(
  pods: LocalPod[],
  opts: { monitorsText?: string; scrapeInterval?: string } = {},
): Obj[] {
  const monitors = parseAllDocuments(opts.monitorsText ?? Deno.readTextFileSync(MONITORS_FILE))
    .map((d) => d.toJS())
    .filter(Boolean);
  const out: Obj[] = [];
  for (const m of monitors) {
    const ns = m.metadata.namespace;
    const kind = m.kind;
    if (kind !== "ServiceMonitor" && kind !== "PodMonitor") continue;
    if (m.spec.selector?.matchExpressions?.length) {
      // Not emulated: refuse rather than silently select differently from the operator.
      throw new CheckFailed(
        `${m.metadata.name}: matchExpressions selectors are not supported by --topology cluster`,
      );
    }
    const endpoints: Obj[] = kind === "ServiceMonitor"
      ? m.spec.endpoints
      : m.spec.podMetricsEndpoints;
    endpoints.forEach((ep: Obj, i: number) => {
      const targets: Obj[] = [];
      for (const pod of pods) {
        if (!inNamespaces(pod.namespace, m.spec.namespaceSelector, ns)) continue;
        const port = pod.ports[ep.port];
        if (port === undefined) continue;
        let extra: Record<string, string> = {};
        if (kind === "ServiceMonitor") {
          // The Service selected by the monitor whose selector picks this pod.
          const svc = services().find((s) =>
            s.metadata.namespace === pod.namespace && matches(s.metadata.labels, m.spec.selector) &&
            Object.entries(s.spec.selector ?? {}).every(([k, v]) => pod.labels[k] === v) &&
            (s.spec.ports ?? []).some((p: Obj) => p.name === ep.port)
          );
          if (!svc) continue;
          extra = { __meta_kubernetes_service_name: svc.metadata.name };
          for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) {
            extra[`__meta_kubernetes_service_label_${labelName(k)}`] = String(v);
          }
        } else if (!matches(pod.labels, m.spec.selector)) continue;
        targets.push({
          targets: [`127.0.0.1:${port}`],
          labels: { ...metaLabels(pod, extra), __meta_kubernetes_pod_container_port_name: ep.port },
        });
      }
      const prefix = kind === "ServiceMonitor" ? "serviceMonitor" : "podMonitor";
      // As prometheus-operator writes them: a default job (the Service's name, or
      // <namespace>/<monitor> for a PodMonitor), then the jobLabel's value where the
      // target has one (regex (.+): an empty or absent label keeps the default).
      const defaultJob = kind === "ServiceMonitor"
        ? { source_labels: ["__meta_kubernetes_service_name"], target_label: "job" }
        : { target_label: "job", replacement: `${ns}/${m.metadata.name}` };
      const jobLabelRule = m.spec.jobLabel
        ? [{
          source_labels: [
            `__meta_kubernetes_${kind === "ServiceMonitor" ? "service" : "pod"}_label_${
              labelName(m.spec.jobLabel)
            }`,
          ],
          target_label: "job",
          regex: "(.+)",
          replacement: "${1}",
        }]
        : [];
      const operatorLabels: Obj[] = [
        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
        ...(kind === "ServiceMonitor"
          ? [{ source_labels: ["__meta_kubernetes_service_name"], target_label: "service" }]
          : []),
        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
        { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
        { target_label: "endpoint", replacement: ep.port },
        defaultJob,
        ...jobLabelRule,
      ];
      out.push({
        job_name: `${prefix}/${ns}/${m.metadata.name}/${i}`,
        ...(ep.honorLabels ? { honor_labels: true } : {}),
        scrape_interval: opts.scrapeInterval ?? ep.interval ?? "30s",
        metrics_path: ep.path ?? "/metrics",
        static_configs: targets,
        relabel_configs: [...operatorLabels, ...relabelConfigs(ep.relabelings)],
      });
    });
  }
  return out;
}

/** The jobs of config/prometheus.yml that the cluster's monitors replace. */
export const MONITORED_JOBS = ["otel-collector", "otel-collector-telemetry", "metrics-pull-app"];

/**
 * config/prometheus.yml as the local stack renders it, with the app and
 * collector jobs replaced by what the cluster's monitors generate.
 */
export function clusterPrometheusConfig(
  localRendered: string,
  ports: StackPorts,
  opts: { scrapeInterval?: string; node?: string } = {},
): string {
  const doc = parseYaml(localRendered) as Obj;
  const pods = localPods(ports, opts.node ?? "local-node");
  doc.scrape_configs = [
    ...(doc.scrape_configs ?? []).filter((s: Obj) => !MONITORED_JOBS.includes(s.job_name)),
    ...monitorScrapeConfigs(pods, { scrapeInterval: opts.scrapeInterval }),
  ];
  return "# Rendered by 'deno task stack up --topology cluster' from config/prometheus.yml and " +
    "k8s/monitors.yaml; do not edit.\n" + stringifyYaml(doc);
}

/**
 * The collector's environment in the cluster topology: the local one, plus
 * what the DaemonSet would give it and the kubeconfig of the local control
 * plane for k8s_attributes.
 */
export function clusterCollectorEnv(
  localEnv: Record<string, string>,
  kubeconfig: string,
): Record<string, string> {
  const env: Record<string, string> = {
    ...localEnv,
    K8S_AUTH_TYPE: "kubeConfig",
    KUBECONFIG: kubeconfig,
  };
  // The cluster config keeps its in-memory queue: no persisted-queue folder.
  delete env.OTELCOL_QUEUE_DIR;
  return env;
}

/**
 * The kubeconfig of a running `deno task control-plane up` in this state
 * folder; the cluster topology's collector needs its API server.
 */
export async function runningControlPlaneKubeconfig(): Promise<string> {
  const cp = controlPlaneState();
  const alive = cp?.apiserver && await isAlive(cp.apiserver.pid, cp.apiserver.startTime);
  if (!cp || !alive) {
    throw new CheckFailed(
      "--topology cluster runs the cluster's collector config, whose k8s_attributes processor " +
        "needs a Kubernetes API server: start one first with 'deno task control-plane up' " +
        "(same OBSKIT_STATE_DIR)",
    );
  }
  return cp.kubeconfig;
}
