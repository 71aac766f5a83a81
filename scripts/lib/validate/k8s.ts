/**
 * TestOTELCollector, Kubernetes side: every manifest in k8s/ against the
 * Kubernetes OpenAPI schemas shipped by npm `kubernetes-models` (offline),
 * the ConfigMap's collector config byte-identical to the config file, the
 * DaemonSet image pinned to the builder's version, hardening, RBAC scope and
 * NetworkPolicy ports.
 */
import "./quiet.ts";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { validate as vNamespace } from "kubernetes-models/_schemas/IoK8sApiCoreV1Namespace";
import { validate as vServiceAccount } from "kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount";
import { validate as vConfigMap } from "kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap";
import { validate as vService } from "kubernetes-models/_schemas/IoK8sApiCoreV1Service";
import { validate as vSecret } from "kubernetes-models/_schemas/IoK8sApiCoreV1Secret";
import { validate as vDaemonSet } from "kubernetes-models/_schemas/IoK8sApiAppsV1DaemonSet";
import { validate as vDeployment } from "kubernetes-models/_schemas/IoK8sApiAppsV1Deployment";
import { validate as vClusterRole } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRole";
import { validate as vClusterRoleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRoleBinding";
import { validate as vRole } from "kubernetes-models/_schemas/IoK8sApiRbacV1Role";
import { validate as vRoleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1RoleBinding";
import { validate as vNetworkPolicy } from "kubernetes-models/_schemas/IoK8sApiNetworkingV1NetworkPolicy";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { JAEGER_VERSION } from "../tools/mod.ts";
import {
  BUILDER_MANIFEST,
  COLLECTOR_CONFIG,
  COLLECTOR_MANIFEST,
  collectorValidate,
} from "./collector.ts";
import { type ManifestDoc, unknownFieldProblems } from "./k8s_strict.ts";
import {
  exists,
  isMap,
  type Json,
  lineAt,
  listFiles,
  type Problem,
  readYaml,
  SourceError,
  type YamlSource,
} from "./source.ts";
import {
  type Check,
  fail,
  memo,
  missingTool,
  type Outcome,
  result,
  type ValidateContext,
} from "./types.ts";

export const CONFIGMAP_KEY = "otel-collector-config.yaml";
export const JAEGER_MANIFEST = "k8s/jaeger.yaml";
export const JAEGER_CONFIGMAP_KEY = "jaeger.yaml";

/**
 * The image tag of the Jaeger v2 release built from a module version: the v2
 * line began at v1.63.0 / v2.0.0 and each release since carries both tags
 * (v1.76.0 is v2.13.0, CHANGELOG.md of the module).
 */
export function jaegerImageTag(moduleVersion: string): string {
  const m = /^v1\.(\d+)\.(\d+)$/.exec(moduleVersion);
  if (!m || Number(m[1]) < 63) {
    throw new Error(`not a Jaeger v1.63+ module version: ${moduleVersion}`);
  }
  return `2.${Number(m[1]) - 63}.${m[2]}`;
}

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}
type Validator = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

const SCHEMAS: Record<string, Validator> = {
  "v1/Namespace": vNamespace as Validator,
  "v1/ServiceAccount": vServiceAccount as Validator,
  "v1/ConfigMap": vConfigMap as Validator,
  "v1/Service": vService as Validator,
  "v1/Secret": vSecret as Validator,
  "apps/v1/DaemonSet": vDaemonSet as Validator,
  "apps/v1/Deployment": vDeployment as Validator,
  "rbac.authorization.k8s.io/v1/ClusterRole": vClusterRole as Validator,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": vClusterRoleBinding as Validator,
  "rbac.authorization.k8s.io/v1/Role": vRole as Validator,
  "rbac.authorization.k8s.io/v1/RoleBinding": vRoleBinding as Validator,
  "networking.k8s.io/v1/NetworkPolicy": vNetworkPolicy as Validator,
};

/** prometheus-operator kinds, validated by the package's classes (its CRD schemas). */
const OPERATOR_KINDS: Record<string, new (o: never) => { validate(): void }> = {
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
};

/** The label kube-prometheus-stack's Prometheus selects rules and monitors by (release name). */
export const RELEASE_LABEL = { release: "monitoring" };

function ajvMessage(e: AjvError): string {
  const where = e.instancePath || "/";
  if (e.keyword === "required") {
    return `${where}: missing required field '${e.params.missingProperty}'`;
  }
  if (e.keyword === "enum") {
    return `${where}: must be one of ${JSON.stringify(e.params.allowedValues)}`;
  }
  if (e.keyword === "type") return `${where}: must be ${e.params.type}`;
  if (e.keyword === "format") return `${where}: must match format ${e.params.format}`;
  return `${where}: ${e.message ?? `${e.keyword} ${JSON.stringify(e.params)}`}`;
}

function loadManifests(ctx: ValidateContext): { docs: ManifestDoc[]; problems: Problem[] } {
  return memo(ctx, "k8s-manifests", () => {
    const docs: ManifestDoc[] = [];
    const problems: Problem[] = [];
    for (const rel of listFiles(ctx.root, "k8s", /\.ya?ml$/)) {
      try {
        const src = readYaml(ctx.root, rel);
        const objs = src.docs.map((d, index) => ({ src, index, obj: d.toJS() }))
          .filter((d) => d.obj !== null && d.obj !== undefined);
        // Helm values and other non-manifest YAML in k8s/ have no kind at all.
        if (objs.some((d) => isMap(d.obj) && ("kind" in d.obj || "apiVersion" in d.obj))) {
          docs.push(...objs);
        }
      } catch (err) {
        if (err instanceof SourceError) problems.push(...err.problems);
        else throw err;
      }
    }
    return { docs, problems };
  });
}

/** Schema problems of one manifest document. */
export function schemaProblems(doc: ManifestDoc): Problem[] {
  const { src, index, obj } = doc;
  const line = lineAt(src, [], index) ?? lineAt(src, ["kind"], index);
  if (!isMap(obj) || typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
    return [{ file: src.file, line, message: "document needs apiVersion and kind" }];
  }
  const id = `${obj.apiVersion}/${obj.kind}`;
  const name = `${obj.kind} ${obj.metadata?.name ?? "(no name)"}`;
  const at = (path: string) =>
    lineAt(src, path.split("/").filter(Boolean).map((p) => /^\d+$/.test(p) ? Number(p) : p), index);
  const Operator = OPERATOR_KINDS[id];
  if (Operator) {
    try {
      new Operator(obj as never).validate();
      return [];
    } catch (err) {
      return [{
        file: src.file,
        line,
        message: `${name}: ${(err as Error).message.split("\n")[0]}`,
      }];
    }
  }
  const v = SCHEMAS[id];
  if (!v) return [{ file: src.file, line, message: `${name}: no offline schema for ${id}` }];
  if (!obj.metadata?.name) {
    return [{ file: src.file, line, message: `${obj.kind}: metadata.name is required` }];
  }
  if (v(obj)) return [];
  return (v.errors ?? []).slice(0, 5).map((e) => ({
    file: src.file,
    line: at(e.instancePath) ?? line,
    message: `${name}: ${ajvMessage(e)}`,
  }));
}

function collectorDocs(ctx: ValidateContext): ManifestDoc[] {
  return loadManifests(ctx).docs.filter((d) => d.src.file === COLLECTOR_MANIFEST);
}

function find(docs: ManifestDoc[], kind: string): ManifestDoc[] {
  return docs.filter((d) => d.obj?.kind === kind);
}

/** Reads a file's text, or undefined when missing. */
function text(ctx: ValidateContext, rel: string): string | undefined {
  try {
    return Deno.readTextFileSync(join(ctx.root, rel));
  } catch {
    return undefined;
  }
}

function firstDiffLine(a: string, b: string): number {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) if (la[i] !== lb[i]) return i + 1;
  return 0;
}

export function configMapProblems(docs: ManifestDoc[], configText: string): Problem[] {
  const cms = find(docs, "ConfigMap").filter((d) => d.obj?.data && CONFIGMAP_KEY in d.obj.data);
  if (cms.length === 0) {
    return [{ file: COLLECTOR_MANIFEST, message: `no ConfigMap with data."${CONFIGMAP_KEY}"` }];
  }
  const problems: Problem[] = [];
  for (const d of cms) {
    const embedded: string = d.obj.data[CONFIGMAP_KEY];
    if (embedded !== configText) {
      const n = firstDiffLine(embedded, configText);
      problems.push({
        file: d.src.file,
        line: lineAt(d.src, ["data", CONFIGMAP_KEY], d.index),
        message:
          `ConfigMap ${d.obj.metadata?.name} has drifted from ${COLLECTOR_CONFIG} (first difference at its line ${n}); run 'deno task validate --sync-configmap'`,
      });
    }
  }
  return problems;
}

function containers(d: ManifestDoc): Json[] {
  const c = d.obj?.spec?.template?.spec?.containers;
  return Array.isArray(c) ? c : [];
}

export function imagePinProblems(docs: ManifestDoc[], pin: string): Problem[] {
  const problems: Problem[] = [];
  const ds = find(docs, "DaemonSet");
  if (ds.length === 0) return [{ file: COLLECTOR_MANIFEST, message: "no DaemonSet" }];
  for (const d of ds) {
    containers(d).forEach((c, i) => {
      const image = String(c.image ?? "");
      const m = /^(.*):([^:/]+)$/.exec(image);
      const tag = m?.[2];
      if (!/opentelemetry-collector/.test(image)) return;
      if (tag !== pin) {
        problems.push({
          file: d.src.file,
          line: lineAt(d.src, ["spec", "template", "spec", "containers", i, "image"], d.index),
          message: `DaemonSet image ${image} has tag ${
            tag ?? "(none)"
          }, the collector pin is ${pin} (${BUILDER_MANIFEST})`,
        });
      }
    });
  }
  return problems;
}

function mebibytes(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(String(q));
  if (!m) return undefined;
  const f: Record<string, number> = {
    "": 1 / 1048576,
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    K: 1000 / 1048576,
    M: 1e6 / 1048576,
    G: 1e9 / 1048576,
  };
  return Number(m[1]) * f[m[2] ?? ""];
}

/** Security context, probes, resources, host namespaces. */
export function hardeningProblems(
  docs: ManifestDoc[],
  healthPort: number,
  kinds = ["DaemonSet"],
): Problem[] {
  const problems: Problem[] = [];
  for (const d of docs.filter((d) => kinds.includes(d.obj?.kind))) {
    const spec = d.obj.spec?.template?.spec ?? {};
    const base = ["spec", "template", "spec"];
    const p = (message: string, path: (string | number)[] = []) =>
      problems.push({
        file: d.src.file,
        line: lineAt(d.src, [...base, ...path], d.index),
        message,
      });
    for (const hostNs of ["hostNetwork", "hostPID"]) {
      if (spec[hostNs] === true) {
        const line = lineAt(d.src, [...base, hostNs], d.index) ?? 0;
        const above = d.src.text.split("\n").slice(Math.max(0, line - 6), line).join("\n");
        if (!/#.*receiver/i.test(above)) {
          p(`${hostNs}: true without a comment naming the receiver that needs it`, [hostNs]);
        }
      }
    }
    containers(d).forEach((c, i) => {
      const at = ["containers", i];
      const sc = c.securityContext ?? {};
      const podSc = spec.securityContext ?? {};
      if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) {
        p(`container ${c.name}: runAsNonRoot is not true`, [...at, "securityContext"]);
      }
      if (sc.readOnlyRootFilesystem !== true) {
        p(`container ${c.name}: readOnlyRootFilesystem is not true`, [...at, "securityContext"]);
      }
      if (sc.allowPrivilegeEscalation !== false) {
        p(`container ${c.name}: allowPrivilegeEscalation is not false`, [...at, "securityContext"]);
      }
      const drop: string[] = sc.capabilities?.drop ?? [];
      if (!drop.includes("ALL")) {
        p(`container ${c.name}: capabilities.drop lacks ALL`, [...at, "securityContext"]);
      }
      if ((sc.capabilities?.add ?? []).length) {
        p(`container ${c.name}: adds capabilities`, [...at, "securityContext"]);
      }
      if (sc.privileged) p(`container ${c.name}: privileged`, [...at, "securityContext"]);
      const named = new Map<string, number>(
        (c.ports ?? []).map((pt: Json) => [pt.name, pt.containerPort]),
      );
      for (const probe of ["livenessProbe", "readinessProbe"]) {
        const port = c[probe]?.httpGet?.port;
        const n = typeof port === "string" ? named.get(port) : port;
        if (n !== healthPort) {
          p(`container ${c.name}: ${probe} must be an HTTP GET on the health port ${healthPort}`, [
            ...at,
          ]);
        }
      }
      for (const kind of ["requests", "limits"]) {
        const r = c.resources?.[kind] ?? {};
        if (!r.cpu || !r.memory) {
          p(`container ${c.name}: resources.${kind} needs cpu and memory`, [...at, "resources"]);
        }
      }
    });
  }
  return problems;
}

/** memory_limiter's limit below the container's memory limit. */
export function memoryLimiterProblems(
  docs: ManifestDoc[],
  cfgSrc: YamlSource,
  cfg: Json,
): Problem[] {
  const problems: Problem[] = [];
  const ml = cfg?.processors?.memory_limiter;
  if (!ml) return [{ file: cfgSrc.file, message: "no memory_limiter processor" }];
  for (const d of find(docs, "DaemonSet")) {
    containers(d).forEach((c, i) => {
      const limit = mebibytes(c.resources?.limits?.memory);
      if (limit === undefined) return;
      const line = lineAt(
        d.src,
        ["spec", "template", "spec", "containers", i, "resources"],
        d.index,
      );
      if (typeof ml.limit_mib === "number") {
        if (ml.limit_mib > 0.8 * limit) {
          problems.push({
            file: cfgSrc.file,
            line: lineAt(cfgSrc, ["processors", "memory_limiter", "limit_mib"]),
            message:
              `memory_limiter.limit_mib ${ml.limit_mib} exceeds 80% of the container limit ${limit}Mi (${d.src.file}:${line})`,
          });
        }
        if (typeof ml.spike_limit_mib === "number" && ml.spike_limit_mib >= ml.limit_mib) {
          problems.push({
            file: cfgSrc.file,
            line: lineAt(cfgSrc, ["processors", "memory_limiter", "spike_limit_mib"]),
            message: "memory_limiter.spike_limit_mib must be below limit_mib",
          });
        }
      } else if (typeof ml.limit_percentage !== "number") {
        problems.push({
          file: cfgSrc.file,
          message: "memory_limiter has neither limit_mib nor limit_percentage",
        });
      }
    });
  }
  return problems;
}

/**
 * What the k8s_attributes processors of a config read from the API server,
 * as its v0.159.0 source starts informers: pods always (unless passthrough);
 * namespaces, ReplicaSets, nodes and Jobs only for the attributes that need
 * them (k8s.deployment.name comes from the ReplicaSet's name by default).
 */
export function k8sAttributesNeeds(cfg: Json): Map<string, Set<string>> {
  const needed = new Map<string, Set<string>>();
  const add = (res: string) => needed.set(res, new Set(["get", "list", "watch"]));
  const procs = isMap(cfg?.processors) ? cfg.processors : {};
  for (const [id, p] of Object.entries(procs as Record<string, Json>)) {
    if (id.split("/")[0] !== "k8s_attributes" || p?.passthrough === true) continue;
    add("pods");
    const meta: string[] = p?.extract?.metadata ?? [];
    const from = [...(p?.extract?.labels ?? []), ...(p?.extract?.annotations ?? [])]
      .map((r: Json) => r?.from ?? "pod");
    if (from.includes("namespace") || meta.includes("k8s.cluster.uid")) add("namespaces");
    if (
      from.includes("deployment") || meta.includes("k8s.deployment.uid") ||
      p?.extract?.deployment_name_from_replicaset === false
    ) add("replicasets");
    if (from.includes("node") || meta.includes("k8s.node.uid")) add("nodes");
    if (from.includes("job") || meta.includes("k8s.cronjob.uid")) add("jobs");
  }
  return needed;
}

/** The ClusterRole grants exactly what the config's discovery and k8s_attributes need. */
export function rbacProblems(docs: ManifestDoc[], cfg: Json): Problem[] {
  const problems: Problem[] = [];
  const jobs: Json[] = cfg?.receivers?.prometheus?.config?.scrape_configs ?? [];
  const roles = new Set<string>();
  for (const j of jobs) for (const sd of j.kubernetes_sd_configs ?? []) roles.add(sd.role);
  const needed = k8sAttributesNeeds(cfg);
  const resFor: Record<string, string[]> = {
    pod: ["pods"],
    node: ["nodes"],
    service: ["services"],
    endpoints: ["endpoints", "services", "pods"],
    endpointslice: ["endpointslices", "services", "pods"],
    ingress: ["ingresses"],
  };
  for (const r of roles) {
    for (const res of resFor[r] ?? []) {
      needed.set(res, new Set([...(needed.get(res) ?? []), "list", "watch"]));
    }
  }
  const crs = find(docs, "ClusterRole");
  if (needed.size && crs.length === 0) {
    return [{ file: COLLECTOR_MANIFEST, message: "no ClusterRole for pod lookups" }];
  }
  const granted = new Map<string, Set<string>>();
  for (const d of crs) {
    (d.obj.rules ?? []).forEach((rule: Json, i: number) => {
      const line = lineAt(d.src, ["rules", i], d.index);
      for (const res of rule.resources ?? []) {
        const verbs: string[] = rule.verbs ?? [];
        if (res === "*" || verbs.includes("*")) {
          problems.push({
            file: d.src.file,
            line,
            message: `ClusterRole ${d.obj.metadata.name}: wildcard grant`,
          });
        }
        const want = needed.get(res);
        if (!want) {
          problems.push({
            file: d.src.file,
            line,
            message:
              `ClusterRole ${d.obj.metadata.name} grants '${res}', which neither the config's discovery nor k8s_attributes uses`,
          });
          continue;
        }
        for (const v of verbs) {
          if (!want.has(v)) {
            problems.push({
              file: d.src.file,
              line,
              message: `ClusterRole grants '${v}' on ${res}; the config needs only ${
                [...want].join(", ")
              }`,
            });
          }
          granted.set(res, new Set([...(granted.get(res) ?? []), v]));
        }
      }
    });
  }
  for (const [res, verbs] of needed) {
    for (const v of verbs) {
      if (!granted.get(res)?.has(v)) {
        problems.push({
          file: COLLECTOR_MANIFEST,
          message: `ClusterRole lacks '${v}' on ${res}, which the config needs`,
        });
      }
    }
  }
  return problems;
}

/** Port a `${env:VAR:-default}` endpoint listens on by default. */
export function defaultPort(endpoint: unknown): number | undefined {
  if (typeof endpoint !== "string") return undefined;
  const expanded = endpoint.replace(/\$\{env:[A-Z0-9_]+:-([^}]*)\}/g, "$1");
  const m = /:(\d+)$/.exec(expanded);
  return m ? Number(m[1]) : undefined;
}

/** Ports the collector listens on, from the config's defaults. */
export function listenPorts(
  cfg: Json,
): { receivers: number[]; health?: number; exporter?: number; telemetry?: number } {
  const receivers: number[] = [];
  const walk = (v: Json) => {
    if (isMap(v)) {
      for (const [k, c] of Object.entries(v)) {
        if ((k === "endpoint" || k === "listen_address") && defaultPort(c)) {
          receivers.push(defaultPort(c)!);
        } else if (k !== "config") walk(c);
      }
    }
  };
  walk(cfg?.receivers);
  const tel = cfg?.service?.telemetry?.metrics?.readers?.[0]?.pull?.exporter?.prometheus?.port;
  return {
    receivers: [...new Set(receivers)].sort((a, b) => a - b),
    health: defaultPort(cfg?.extensions?.health_check?.endpoint),
    exporter: defaultPort(cfg?.exporters?.prometheus?.endpoint),
    telemetry: defaultPort(`:${String(tel ?? "")}`),
  };
}

/** Services expose the chapter's ports; the NetworkPolicy admits only listening ones. */
export function networkProblems(docs: ManifestDoc[], cfg: Json): Problem[] {
  const problems: Problem[] = [];
  const ports = listenPorts(cfg);
  const chapter = [4317, 4318, 14250, 8889, 13133];
  const svcPorts = new Set<number>();
  for (const d of find(docs, "Service")) {
    for (const p of d.obj.spec?.ports ?? []) svcPorts.add(p.port);
  }
  for (const p of chapter) {
    if (!svcPorts.has(p)) {
      problems.push({ file: COLLECTOR_MANIFEST, message: `no Service exposes port ${p}` });
    }
  }
  const allowed = new Set(
    [...ports.receivers, ports.health, ports.exporter, ports.telemetry].filter((p): p is number =>
      !!p
    ),
  );
  const nps = find(docs, "NetworkPolicy");
  if (nps.length === 0) {
    return [...problems, { file: COLLECTOR_MANIFEST, message: "no NetworkPolicy" }];
  }
  const admitted = new Set<number>();
  for (const d of nps) {
    (d.obj.spec?.ingress ?? []).forEach((rule: Json, i: number) => {
      if (!rule.ports) {
        problems.push({
          file: d.src.file,
          line: lineAt(d.src, ["spec", "ingress", i], d.index),
          message: "NetworkPolicy ingress rule without ports admits every port",
        });
      }
      (rule.ports ?? []).forEach((p: Json, j: number) => {
        admitted.add(p.port);
        if (!allowed.has(p.port)) {
          problems.push({
            file: d.src.file,
            line: lineAt(d.src, ["spec", "ingress", i, "ports", j], d.index),
            message:
              `NetworkPolicy admits port ${p.port}, which is not a receiver, health or scrape port of the config`,
          });
        }
      });
    });
  }
  for (const p of [...ports.receivers, ports.health]) {
    if (p && !admitted.has(p)) {
      problems.push({
        file: COLLECTOR_MANIFEST,
        message: `NetworkPolicy does not admit port ${p}`,
      });
    }
  }
  return problems;
}

const matches = (labels: Json, selector: Json) =>
  isMap(selector?.matchLabels) &&
  Object.entries(selector.matchLabels).every(([k, v]) => labels?.[k] === v);

/**
 * ServiceMonitors and PodMonitors: labelled for the chart's Prometheus, and
 * a ServiceMonitor selects exactly one Service of k8s/ by labels and
 * namespace, names only ports that Service has, and keeps the apps' labels
 * (honorLabels) on the collector's Prometheus exporter port.
 */
export function monitorProblems(docs: ManifestDoc[], exporterPort: number | undefined): Problem[] {
  const problems: Problem[] = [];
  const monitors = docs.filter((d) =>
    d.obj?.apiVersion === "monitoring.coreos.com/v1" &&
    (d.obj?.kind === "ServiceMonitor" || d.obj?.kind === "PodMonitor")
  );
  if (!monitors.some((d) => d.obj.kind === "ServiceMonitor")) {
    problems.push({ file: "k8s/", message: "no ServiceMonitor for the collector" });
  }
  if (!monitors.some((d) => d.obj.kind === "PodMonitor")) {
    problems.push({ file: "k8s/", message: "no PodMonitor for the pull-model apps" });
  }
  const services = find(docs, "Service");
  for (const d of monitors) {
    const o = d.obj;
    const name = `${o.kind} ${o.metadata?.name}`;
    const at = (path: (string | number)[]) => lineAt(d.src, path, d.index);
    for (const [k, v] of Object.entries(RELEASE_LABEL)) {
      if (o.metadata?.labels?.[k] !== v) {
        problems.push({
          file: d.src.file,
          line: at(["metadata"]),
          message:
            `${name} lacks the label ${k}: ${v}, which kube-prometheus-stack's Prometheus selects monitors by`,
        });
      }
    }
    if (o.kind !== "ServiceMonitor") continue;
    const nsSel = o.spec?.namespaceSelector ?? {};
    const namespaces: string[] | null = nsSel.any
      ? null
      : nsSel.matchNames ?? [o.metadata?.namespace];
    const selected = services.filter((s) =>
      (namespaces === null || namespaces.includes(s.obj.metadata?.namespace ?? "default")) &&
      matches(s.obj.metadata?.labels, o.spec?.selector)
    );
    if (selected.length !== 1) {
      problems.push({
        file: d.src.file,
        line: at(["spec", "selector"]),
        message: `${name} selects ${selected.length} Services in k8s/ (${
          selected.map((s) => s.obj.metadata.name).join(", ") || "none"
        }); it must select exactly one, or pods are scraped twice or not at all`,
      });
      continue;
    }
    const svc = selected[0].obj;
    (o.spec?.endpoints ?? []).forEach((e: Json, i: number) => {
      const port = (svc.spec?.ports ?? []).find((p: Json) => p.name === e.port);
      if (!port) {
        problems.push({
          file: d.src.file,
          line: at(["spec", "endpoints", i, "port"]),
          message: `${name}: Service ${svc.metadata.name} has no port named '${e.port}'`,
        });
      } else if (port.port === exporterPort && e.honorLabels !== true) {
        problems.push({
          file: d.src.file,
          line: at(["spec", "endpoints", i]),
          message:
            `${name}: port ${e.port} is the collector's Prometheus exporter (${exporterPort}); without honorLabels: true every app's series gets the collector's job`,
        });
      }
    });
  }
  return problems;
}

/**
 * Jaeger (k8s/jaeger.yaml): its image is the v2 release of the module that
 * `deno task tools` builds (the binary the tests run), its Deployment is
 * hardened with probes on its config's health port, and a Service answers
 * at the collector's JAEGER_OTLP_ENDPOINT.
 */
export function jaegerProblems(
  docs: ManifestDoc[],
  collectorDocs: ManifestDoc[],
  moduleVersion: string,
): Problem[] {
  const problems: Problem[] = [];
  const deps = find(docs, "Deployment");
  if (deps.length !== 1) {
    return [{ file: JAEGER_MANIFEST, message: "needs exactly one Deployment" }];
  }
  const dep = deps[0];
  const want = `jaegertracing/jaeger:${jaegerImageTag(moduleVersion)}`;
  containers(dep).forEach((c, i) => {
    if (c.image !== want) {
      problems.push({
        file: dep.src.file,
        line: lineAt(dep.src, ["spec", "template", "spec", "containers", i, "image"], dep.index),
        message:
          `image ${c.image} is not ${want}, the v2 release of the Jaeger module the tools build (${moduleVersion})`,
      });
    }
  });
  const cm = find(docs, "ConfigMap").find((d) => d.obj?.data?.[JAEGER_CONFIGMAP_KEY]);
  if (!cm) {
    return [...problems, {
      file: JAEGER_MANIFEST,
      message: `no ConfigMap with data."${JAEGER_CONFIGMAP_KEY}"`,
    }];
  }
  let cfg: Json;
  try {
    cfg = parseYaml(cm.obj.data[JAEGER_CONFIGMAP_KEY]);
  } catch (err) {
    return [...problems, {
      file: cm.src.file,
      line: lineAt(cm.src, ["data", JAEGER_CONFIGMAP_KEY], cm.index),
      message: `the embedded config is not YAML: ${(err as Error).message.split("\n")[0]}`,
    }];
  }
  const health = defaultPort(cfg?.extensions?.healthcheckv2?.http?.endpoint);
  if (!health) {
    problems.push({
      file: cm.src.file,
      message: "the config has no healthcheckv2 HTTP endpoint for the probes",
    });
  } else problems.push(...hardeningProblems([dep], health, ["Deployment"]));
  // The collector's exporter endpoint names one of these Services and ports.
  const ds = find(collectorDocs, "DaemonSet")[0];
  const env = ds ? containers(ds).flatMap((c) => c.env ?? []) : [];
  const endpoint = env.find((e: Json) => e.name === "JAEGER_OTLP_ENDPOINT")?.value;
  const m = /^([a-z0-9-]+)\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?:(\d+)$/.exec(
    String(endpoint ?? ""),
  );
  const svc = m &&
    find(docs, "Service").find((d) =>
      d.obj.metadata?.name === m[1] && d.obj.metadata?.namespace === m[2] &&
      (d.obj.spec?.ports ?? []).some((p: Json) => p.port === Number(m[3]))
    );
  if (!svc) {
    problems.push({
      file: COLLECTOR_MANIFEST,
      message: `JAEGER_OTLP_ENDPOINT ${
        endpoint ?? "(unset)"
      } names no Service port in ${JAEGER_MANIFEST}`,
    });
  }
  return problems;
}

/** Rewrites the ConfigMap's embedded config from the config file. Returns true when it changed. */
export function syncConfigMap(root: string): boolean {
  const manifestPath = join(root, COLLECTOR_MANIFEST);
  const manifest = Deno.readTextFileSync(manifestPath);
  const config = Deno.readTextFileSync(join(root, COLLECTOR_CONFIG));
  const lines = manifest.split("\n");
  const start = lines.findIndex((l) => l === `  ${CONFIGMAP_KEY}: |`);
  if (start < 0) throw new Error(`${COLLECTOR_MANIFEST}: no '  ${CONFIGMAP_KEY}: |' line to sync`);
  let end = start + 1;
  while (end < lines.length && (lines[end] === "" || lines[end].startsWith("    "))) end++;
  // Keep blank lines that precede the next document with it.
  while (end > start + 1 && lines[end - 1] === "") end--;
  const body = config.replace(/\n$/, "").split("\n").map((l) => (l ? `    ${l}` : l));
  const out = [...lines.slice(0, start + 1), ...body, ...lines.slice(end)].join("\n");
  if (out === manifest) return false;
  Deno.writeTextFileSync(manifestPath, out);
  return true;
}

function withCollectorDocs(
  ctx: ValidateContext,
  body: (docs: ManifestDoc[], cfgSrc: YamlSource, cfg: Json) => Outcome | Promise<Outcome>,
): Outcome | Promise<Outcome> {
  if (!exists(join(ctx.root, COLLECTOR_MANIFEST))) {
    return fail([{ file: COLLECTOR_MANIFEST, message: "file is missing" }]);
  }
  const { problems } = loadManifests(ctx);
  const mine = problems.filter((p) => p.file === COLLECTOR_MANIFEST);
  if (mine.length) return fail(mine);
  let cfgSrc: YamlSource;
  try {
    cfgSrc = memo(ctx, `yaml-src:${COLLECTOR_CONFIG}`, () => readYaml(ctx.root, COLLECTOR_CONFIG));
  } catch (err) {
    if (err instanceof SourceError) return fail(err.problems);
    throw err;
  }
  return body(collectorDocs(ctx), cfgSrc, cfgSrc.docs[0]?.toJS() ?? {});
}

export const k8sChecks: Check[] = [
  {
    cls: "TestOTELCollector",
    name: "k8s manifests validate against Kubernetes schemas (offline, unknown fields too)",
    run: async (ctx) => {
      const loaded = loadManifests(ctx);
      const docs = loaded.docs;
      const problems = [...loaded.problems];
      if (docs.length === 0 && problems.length === 0) {
        return fail([{ file: "k8s/", message: "no manifests" }]);
      }
      for (const d of docs) problems.push(...schemaProblems(d));
      const known = new Set([...Object.keys(SCHEMAS), ...Object.keys(OPERATOR_KINDS)]);
      problems.push(...await unknownFieldProblems(docs, known));
      const files = new Set(docs.map((d) => d.src.file));
      return result(problems, `${docs.length} objects in ${[...files].join(", ")}`);
    },
  },
  {
    cls: "TestOTELCollector",
    name: "ConfigMap carries the collector config byte for byte",
    run: (ctx) =>
      withCollectorDocs(ctx, (docs) => {
        const cfg = text(ctx, COLLECTOR_CONFIG);
        if (cfg === undefined) {
          return fail([{ file: COLLECTOR_CONFIG, message: "file is missing" }]);
        }
        return result(configMapProblems(docs, cfg), `identical to ${COLLECTOR_CONFIG}`);
      }),
  },
  {
    cls: "TestOTELCollector",
    name: "DaemonSet image tag equals the collector pin",
    run: (ctx) =>
      withCollectorDocs(ctx, (docs) => {
        let pin: string;
        try {
          pin = String(readYaml(ctx.root, BUILDER_MANIFEST).docs[0]?.toJS()?.dist?.version ?? "");
        } catch (err) {
          if (err instanceof SourceError) return fail(err.problems);
          throw err;
        }
        if (!pin) return fail([{ file: BUILDER_MANIFEST, message: "dist.version is missing" }]);
        return result(imagePinProblems(docs, pin), pin);
      }),
  },
  {
    cls: "TestOTELCollector",
    name: "DaemonSet hardened (non-root, read-only fs, no capabilities, probes, resources)",
    run: (ctx) =>
      withCollectorDocs(ctx, (docs, _src, cfg) => {
        const health = listenPorts(cfg).health ?? 13133;
        return result(hardeningProblems(docs, health));
      }),
  },
  {
    cls: "TestOTELCollector",
    name: "memory_limiter below the container memory limit",
    run: (ctx) =>
      withCollectorDocs(ctx, (docs, src, cfg) => result(memoryLimiterProblems(docs, src, cfg))),
  },
  {
    cls: "TestOTELCollector",
    name: "ClusterRole grants only what discovery and k8s_attributes need",
    run: (ctx) => withCollectorDocs(ctx, (docs, _src, cfg) => result(rbacProblems(docs, cfg))),
  },
  {
    cls: "TestOTELCollector",
    name:
      "Jaeger: the v2 image of the built module, hardened, behind the collector's endpoint, config valid for the real jaeger",
    run: (ctx) =>
      withCollectorDocs(ctx, async (collector) => {
        const { docs: all, problems: loadProblems } = loadManifests(ctx);
        const docs = all.filter((d) => d.src.file === JAEGER_MANIFEST);
        const mine = loadProblems.filter((p) => p.file === JAEGER_MANIFEST);
        if (mine.length) return fail(mine);
        if (docs.length === 0) return fail([{ file: JAEGER_MANIFEST, message: "file is missing" }]);
        const problems = jaegerProblems(docs, collector, JAEGER_VERSION);
        const cm = find(docs, "ConfigMap").find((d) => d.obj?.data?.[JAEGER_CONFIGMAP_KEY]);
        if (problems.length || !cm) return result(problems);
        const bin = ctx.findTool("jaeger");
        if (!bin) return missingTool(ctx, JAEGER_MANIFEST, "jaeger", "run 'deno task tools'");
        const dir = Deno.makeTempDirSync({ prefix: "obskit-jaeger-validate-" });
        try {
          const file = join(dir, JAEGER_CONFIGMAP_KEY);
          Deno.writeTextFileSync(file, cm.obj.data[JAEGER_CONFIGMAP_KEY]);
          const v = await collectorValidate(bin, [file]);
          if (!v.ok) {
            problems.push({
              file: cm.src.file,
              line: lineAt(cm.src, ["data", JAEGER_CONFIGMAP_KEY], cm.index),
              message: `jaeger validate: ${v.message}`,
            });
          }
        } finally {
          Deno.removeSync(dir, { recursive: true });
        }
        return result(
          problems,
          `jaegertracing/jaeger:${jaegerImageTag(JAEGER_VERSION)}; jaeger validate: ok`,
        );
      }),
  },
  {
    cls: "TestOTELCollector",
    name: "ServiceMonitor and PodMonitor: release label, one Service, its ports, honorLabels",
    run: (ctx) =>
      withCollectorDocs(ctx, (_docs, _src, cfg) => {
        const all = loadManifests(ctx).docs;
        return result(
          monitorProblems(all, listenPorts(cfg).exporter),
          "collector's metrics Service and the pull-model apps' pods",
        );
      }),
  },
  {
    cls: "TestOTELCollector",
    name: "Services and NetworkPolicy ports match the config",
    run: (ctx) =>
      withCollectorDocs(ctx, (docs, _src, cfg) => {
        const p = listenPorts(cfg);
        return result(
          networkProblems(docs, cfg),
          `receivers ${p.receivers.join(",")}, health ${p.health}`,
        );
      }),
  },
];
