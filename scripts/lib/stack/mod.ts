// The local stack: the real collector, Jaeger, Prometheus, Alertmanager (and the chapter's apps) as
// background processes on loopback. Used by `deno task stack`, `collector-local` (phase 2), `demo`
// (stack_demo.ts), and read (ports, state) by verify, doctor, gate, logs, view and bench.
/**
 * Every port is overridable so a test can run a complete second stack on
 * free ports next to a user's. Pids, logs, the rendered Prometheus config and data live in
 * stateDir() (git-ignored); `down` stops only the pids recorded there.
 *
 * Each started process is recorded twice: in stack.json (ports, settings,
 * every component) and in its own pids/<name>.json, written before
 * stack.json. A damaged stack.json then costs the ports of a stopped stack,
 * never the knowledge of what runs: `down` stops what the pid files name.
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { CheckFailed, durationFlag, Interrupted, MissingPrerequisite, UsageError } from "../cli.ts";
import { freePort, isListening } from "../net.ts";
import { repoPath, stateDir } from "../paths.ts";
import {
  describeHolder,
  isAlive,
  portHolder,
  spawnDetached,
  stopProcess,
  tailFile,
} from "../process.ts";
import { formatElapsed, progress, type ProgressOptions } from "../spinner.ts";
import { taskRunArgs } from "./stack_apps.ts";
import { formatTable, requireTool } from "../tools/mod.ts";
import {
  clusterCollectorEnv,
  clusterPrometheusConfig,
  runningControlPlaneKubeconfig,
  type Topology,
} from "./stack_cluster.ts";

/** Every port the stack uses (listens on, or scrapes). */
export interface StackPorts {
  otlpGrpc: number;
  otlpHttp: number;
  jaegerReceiverGrpc: number;
  jaegerReceiverThriftHttp: number;
  syslog: number;
  collectorPromExporter: number;
  collectorHealth: number;
  collectorPprof: number;
  collectorTelemetry: number;
  jaegerOtlpGrpc: number;
  jaegerOtlpHttp: number;
  jaegerQuery: number;
  jaegerQueryGrpc: number;
  jaegerHealth: number;
  prometheus: number;
  alertmanager: number;
  nodeExporter: number;
  victorialogs: number;
  viewer: number;
  /** Scrape targets only: the apps are not part of the stack. */
  app: number;
  pull: number;
}

export type PortKey = keyof StackPorts;

export interface PortSpec {
  key: PortKey;
  flag: string;
  env: string;
  default: number;
  /** Which component listens on it ("target" = scraped, not started by the stack). */
  component: ComponentName | "target";
  description: string;
}

/** Port flags and environment variables. Collector names follow the config's env contract. */
export const PORT_SPECS: PortSpec[] = [
  p(
    "otlpGrpc",
    "otlp-grpc-port",
    "OTELCOL_OTLP_GRPC_PORT",
    4317,
    "collector",
    "collector OTLP/gRPC",
  ),
  p(
    "otlpHttp",
    "otlp-http-port",
    "OTELCOL_OTLP_HTTP_PORT",
    4318,
    "collector",
    "collector OTLP/HTTP",
  ),
  p(
    "jaegerReceiverGrpc",
    "jaeger-grpc-port",
    "OTELCOL_JAEGER_GRPC_PORT",
    14250,
    "collector",
    "collector jaeger receiver gRPC",
  ),
  p(
    "jaegerReceiverThriftHttp",
    "jaeger-thrift-http-port",
    "OTELCOL_JAEGER_THRIFT_HTTP_PORT",
    14268,
    "collector",
    "collector jaeger receiver thrift/HTTP",
  ),
  p("syslog", "syslog-port", "OTELCOL_SYSLOG_PORT", 5514, "collector", "collector syslog receiver"),
  p(
    "collectorPromExporter",
    "prometheus-exporter-port",
    "OTELCOL_PROMETHEUS_EXPORTER_PORT",
    8889,
    "collector",
    "collector Prometheus exporter",
  ),
  p(
    "collectorHealth",
    "health-port",
    "OTELCOL_HEALTH_PORT",
    13133,
    "collector",
    "collector health_check",
  ),
  p("collectorPprof", "pprof-port", "OTELCOL_PPROF_PORT", 1777, "collector", "collector pprof"),
  p(
    "collectorTelemetry",
    "telemetry-port",
    "OTELCOL_TELEMETRY_PORT",
    8888,
    "collector",
    "collector own metrics",
  ),
  p(
    "jaegerOtlpGrpc",
    "jaeger-otlp-grpc-port",
    "JAEGER_OTLP_GRPC_PORT",
    14317,
    "jaeger",
    "Jaeger OTLP/gRPC (collector -> Jaeger)",
  ),
  p(
    "jaegerOtlpHttp",
    "jaeger-otlp-http-port",
    "JAEGER_OTLP_HTTP_PORT",
    14318,
    "jaeger",
    "Jaeger OTLP/HTTP",
  ),
  p("jaegerQuery", "jaeger-port", "JAEGER_QUERY_HTTP_PORT", 16686, "jaeger", "Jaeger UI/API"),
  p(
    "jaegerQueryGrpc",
    "jaeger-query-grpc-port",
    "JAEGER_QUERY_GRPC_PORT",
    16685,
    "jaeger",
    "Jaeger query gRPC",
  ),
  p("jaegerHealth", "jaeger-health-port", "JAEGER_HEALTH_PORT", 13134, "jaeger", "Jaeger health"),
  p("prometheus", "prometheus-port", "PROMETHEUS_PORT", 9090, "prometheus", "Prometheus"),
  p("alertmanager", "alertmanager-port", "ALERTMANAGER_PORT", 9093, "alertmanager", "Alertmanager"),
  p(
    "nodeExporter",
    "node-exporter-port",
    "NODE_EXPORTER_PORT",
    9100,
    "node-exporter",
    "node-exporter (this machine's CPU, memory, disks)",
  ),
  p(
    "victorialogs",
    "victorialogs-port",
    // OTELCOL_*: the collector's overlay reads it too, and every task that knows the stack's ports may read it.
    "OTELCOL_VICTORIALOGS_PORT",
    9428,
    "victorialogs",
    "VictoriaLogs (logs by trace id; UI at /select/vmui/)",
  ),
  p("viewer", "viewer-port", "VIEWER_PORT", 3000, "viewer", "viewer (dashboards, traces, alerts)"),
  p("app", "app-port", "APP_PORT", 8000, "target", "instrumented app (scraped)"),
  p("pull", "pull-port", "PULL_PORT", 5000, "target", "metrics-pull app (scraped)"),
];

function p(
  key: PortKey,
  flag: string,
  env: string,
  dflt: number,
  component: ComponentName | "target",
  description: string,
): PortSpec {
  return { key, flag, env, default: dflt, component, description };
}

export function defaultPorts(): StackPorts {
  return Object.fromEntries(PORT_SPECS.map((s) => [s.key, s.default])) as unknown as StackPorts;
}

function parsePort(name: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    throw new UsageError(`${name} must be a port number 1..65535, got '${raw}'`);
  }
  return Number(raw);
}

/**
 * Ports from flags (`--prometheus-port 19090`), then environment
 * (`PROMETHEUS_PORT`), then the book's defaults.
 */
export function resolvePorts(
  flags: Record<string, unknown> = {},
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): StackPorts {
  const ports = defaultPorts();
  for (const s of PORT_SPECS) {
    const f = flags[s.flag];
    if (typeof f === "string" && f !== "") ports[s.key] = parsePort(`--${s.flag}`, f);
    else {
      const e = env(s.env);
      if (e !== undefined && e !== "") ports[s.key] = parsePort(s.env, e);
    }
  }
  return ports;
}

/**
 * A stack on free ports (for tests): every listening port and scrape target
 * distinct and bindable. Ports are drawn below the ephemeral range, so an
 * outgoing connection (which takes its local port from that range) cannot
 * occupy one between this choice and the component's bind.
 */
export function freePorts(): Promise<StackPorts> {
  const ports = defaultPorts();
  for (const s of PORT_SPECS) ports[s.key] = freePort();
  return Promise.resolve(ports);
}

export const COMPONENTS = [
  "jaeger",
  "victorialogs",
  "collector",
  "alertmanager",
  "node-exporter",
  "prometheus",
  "viewer",
] as const;
export type ComponentName = typeof COMPONENTS[number];
/** Apps a demo or test registers so `down` stops them too. */
export type AppName = "instrumented-app" | "metrics-pull";

export interface ComponentState {
  name: string;
  pid: number;
  startTime: number;
  /** The port shown in status and checked for health. */
  port: number;
  /** Every port it listens on (checked free before start, closed after stop). */
  ports: number[];
  healthUrl: string;
  logFile: string;
  command: string[];
  startedAt: string;
}

export interface StackState {
  version: 1;
  ports: StackPorts;
  scrapeInterval: string;
  rulesOverlay: string[];
  /** local (default) or cluster (stack_cluster.ts); absent in state files of older versions. */
  topology?: Topology;
  components: Record<string, ComponentState>;
}

export interface UpOptions {
  ports?: StackPorts;
  /** cluster: the cluster's collector config and monitor-derived scrape configs (stack_cluster.ts). */
  topology?: Topology;
  /** Prometheus scrape and rule evaluation interval (default 15s, tests use 1s). */
  scrapeInterval?: string;
  /** Extra rule files or folders (e.g. rules/test-overlay) loaded next to the shipped rules. */
  rulesOverlay?: string[];
  /** Health wait per component. */
  timeoutMs?: number;
  progress?: ProgressOptions;
  /** Only these components (default all). */
  only?: ComponentName[];
  /** Aborted (Ctrl-C): stop what this call started and throw Interrupted. */
  signal?: AbortSignal;
  /** How long to wait for another 'up'/'down' on the same state folder (default 120 s). */
  lockWaitMs?: number;
}

export { Interrupted };

/**
 * A scrape/evaluation interval as Prometheus wants it ("5s", "1m",
 * "500ms"), from any form durationFlag accepts ("5" is 5 s, "1.5s"
 * 1500ms); a bad value is a UsageError naming the flag.
 */
export function prometheusDuration(raw: string, flag = "scrape-interval"): string {
  const ms = durationFlag(flag, raw);
  if (!Number.isInteger(ms)) {
    throw new UsageError(`--${flag} must be a whole number of milliseconds, got '${raw}'`);
  }
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function lockPath(): string {
  return join(stateDir(), "stack.lock");
}

/**
 * Runs `fn` holding the state folder's lock (stack.lock, created
 * exclusively, holding our pid), so two `up`/`down` on one state folder do
 * not race. A lock whose pid is gone is stale and taken over; a live holder
 * is waited for up to `waitMs`, then CheckFailed names it.
 */
export async function withStackLock<T>(
  fn: () => Promise<T>,
  opts: { waitMs?: number; onWait?: (pid: number) => void; signal?: AbortSignal } = {},
): Promise<T> {
  Deno.mkdirSync(stateDir(), { recursive: true });
  const path = lockPath();
  const deadline = Date.now() + (opts.waitMs ?? 120_000);
  let told = false;
  while (true) {
    try {
      const f = Deno.openSync(path, { write: true, createNew: true });
      try {
        f.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
      } finally {
        f.close();
      }
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    let text = "";
    let age = 0;
    try {
      text = Deno.readTextFileSync(path).trim();
      age = Date.now() - (Deno.statSync(path).mtime?.getTime() ?? Date.now());
    } catch {
      continue; // released meanwhile
    }
    const holder = Number(text);
    const alive = /^\d+$/.test(text) && await isAlive(holder);
    // An empty lock is one being written right now, unless it is old (its writer died).
    if (!alive && (text !== "" || age > 5000)) {
      try {
        // Only remove the stale lock we read (another waiter may have replaced it).
        if (Deno.readTextFileSync(path).trim() === text) Deno.removeSync(path);
      } catch { /* gone */ }
      continue;
    }
    if (opts.signal?.aborted) throw new Interrupted([]);
    if (Date.now() >= deadline) {
      throw new CheckFailed(
        `another 'stack up' or 'stack down' (pid ${holder || "?"}) is using ${stateDir()}; ` +
          `wait for it to finish (or remove ${path} if that process is not ours)`,
      );
    }
    if (!told && holder) {
      told = true;
      opts.onWait?.(holder);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    return await fn();
  } finally {
    try {
      if (Deno.readTextFileSync(path).trim() === String(Deno.pid)) Deno.removeSync(path);
    } catch { /* gone */ }
  }
}

export function statePath(): string {
  return join(stateDir(), "stack.json");
}

export function logPath(name: string): string {
  return join(stateDir(), "logs", `${name}.log`);
}

/** The recorded stack, or null when there is none or stack.json is damaged (see readStateFile). */
export function readState(): StackState | null {
  return readStateFile().state;
}

/**
 * stack.json as found: `damaged` says why it cannot be used (truncated,
 * not JSON, wrong shape) while the file is there; both null when absent.
 */
export function readStateFile(): { state: StackState | null; damaged: string | null } {
  let text: string;
  try {
    text = Deno.readTextFileSync(statePath());
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { state: null, damaged: null };
    return { state: null, damaged: `unreadable: ${(err as Error).message}` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { state: null, damaged: `not valid JSON: ${(err as Error).message}` };
  }
  const d = doc as Partial<StackState> | null;
  if (
    !d || typeof d !== "object" || typeof d.ports !== "object" || d.ports === null ||
    typeof d.components !== "object" || d.components === null ||
    !Object.values(d.components).every(isComponentState)
  ) {
    return { state: null, damaged: "not a stack record (ports or components missing or wrong)" };
  }
  return { state: d as StackState, damaged: null };
}

function isComponentState(v: unknown): v is ComponentState {
  const c = v as Partial<ComponentState> | null;
  return !!c && typeof c === "object" && typeof c.name === "string" &&
    /^[a-z0-9-]+$/.test(c.name) && Number.isInteger(c.pid) && (c.pid ?? 0) > 1 &&
    typeof c.startTime === "number" && Array.isArray(c.ports) &&
    c.ports.every((p) => Number.isInteger(p));
}

/** Writes `text` to `path` atomically (a reader sees the old or the new file, never half). */
function writeAtomic(path: string, text: string): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  Deno.writeTextFileSync(tmp, text);
  Deno.renameSync(tmp, path);
}

function writeState(state: StackState): void {
  writeAtomic(statePath(), JSON.stringify(state, null, 2) + "\n");
}

/** One file per started process, so `down` finds it whatever happens to stack.json. */
export function pidsDir(): string {
  return join(stateDir(), "pids");
}

function pidFile(name: string): string {
  return join(pidsDir(), `${name}.json`);
}

function writePidFile(entry: ComponentState): void {
  writeAtomic(pidFile(entry.name), JSON.stringify(entry) + "\n");
}

function removePidFile(name: string): void {
  try {
    Deno.removeSync(pidFile(name));
  } catch { /* gone */ }
}

/** Every pid file: the usable entries, and the files that are damaged (with why). */
export function readPidFiles(): { entries: ComponentState[]; damaged: string[] } {
  const entries: ComponentState[] = [];
  const damaged: string[] = [];
  let names: string[];
  try {
    names = [...Deno.readDirSync(pidsDir())]
      .filter((e) => e.isFile && e.name.endsWith(".json"))
      .map((e) => e.name)
      .sort();
  } catch {
    return { entries, damaged };
  }
  for (const name of names) {
    const path = join(pidsDir(), name);
    try {
      const entry = JSON.parse(Deno.readTextFileSync(path));
      if (isComponentState(entry) && `${entry.name}.json` === name) entries.push(entry);
      else damaged.push(`${path} (not a process record)`);
    } catch (err) {
      damaged.push(`${path} (${(err as Error).message})`);
    }
  }
  return { entries, damaged };
}

/** Adds or replaces one entry in the state file (used for apps started by demo/tests). */
export function recordProcess(entry: ComponentState): void {
  const state = readState();
  if (!state) throw new Error("no local stack state: run 'deno task stack up' first");
  writePidFile(entry);
  state.components[entry.name] = entry;
  writeState(state);
}

export function forgetProcess(name: string): void {
  removePidFile(name);
  const state = readState();
  if (!state) return;
  delete state.components[name];
  writeState(state);
}

export const COLLECTOR_CONFIG = repoPath("config", "otel-collector-config.yaml");
export const COLLECTOR_LOCAL_CONFIG = repoPath("config", "otel-collector-local.yaml");
export const JAEGER_CONFIG = repoPath("config", "jaeger-local.yaml");
export const PROMETHEUS_CONFIG = repoPath("config", "prometheus.yml");
export const ALERTMANAGER_CONFIG = repoPath("config", "alertmanager.yml");

const HOST = "127.0.0.1";

/** Where the collector keeps its persistent sending queue (config/otel-collector-local.yaml). */
export function collectorQueueDir(): string {
  return resolve(stateDir(), "collector", "queue");
}

/** Where Jaeger's badger storage lives (config/jaeger-local.yaml): kept across restarts. */
export function jaegerDataDir(): string {
  return resolve(stateDir(), "jaeger");
}

/**
 * The collector's environment, per the config's env contract. `queueDir`
 * must be this collector's own: file_storage locks it, so a second collector
 * on the same folder (collector-local next to the stack) would not start.
 */
export function collectorEnv(
  ports: StackPorts,
  queueDir = collectorQueueDir(),
): Record<string, string> {
  return {
    OTELCOL_QUEUE_DIR: queueDir,
    OTELCOL_BIND_HOST: HOST,
    OTELCOL_OTLP_GRPC_PORT: String(ports.otlpGrpc),
    OTELCOL_OTLP_HTTP_PORT: String(ports.otlpHttp),
    OTELCOL_JAEGER_GRPC_PORT: String(ports.jaegerReceiverGrpc),
    OTELCOL_JAEGER_THRIFT_HTTP_PORT: String(ports.jaegerReceiverThriftHttp),
    OTELCOL_SYSLOG_PORT: String(ports.syslog),
    OTELCOL_PROMETHEUS_EXPORTER_PORT: String(ports.collectorPromExporter),
    OTELCOL_HEALTH_PORT: String(ports.collectorHealth),
    OTELCOL_PPROF_PORT: String(ports.collectorPprof),
    OTELCOL_TELEMETRY_PORT: String(ports.collectorTelemetry),
    OTELCOL_VICTORIALOGS_PORT: String(ports.victorialogs),
    JAEGER_OTLP_ENDPOINT: `${HOST}:${ports.jaegerOtlpGrpc}`,
    SAMPLING_PERCENTAGE: "100",
    // Locally, spans and metrics should show up in seconds, not after 10 s batches.
    OTELCOL_BATCH_TIMEOUT: "1s",
    DEPLOYMENT_ENV: "local",
    K8S_NAMESPACE: "local",
  };
}

export function jaegerEnv(ports: StackPorts): Record<string, string> {
  return {
    JAEGER_LISTEN_HOST: HOST,
    JAEGER_DATA_DIR: jaegerDataDir(),
    JAEGER_OTLP_GRPC_PORT: String(ports.jaegerOtlpGrpc),
    JAEGER_OTLP_HTTP_PORT: String(ports.jaegerOtlpHttp),
    JAEGER_QUERY_HTTP_PORT: String(ports.jaegerQuery),
    JAEGER_QUERY_GRPC_PORT: String(ports.jaegerQueryGrpc),
    JAEGER_HEALTH_PORT: String(ports.jaegerHealth),
  };
}

/** Files (not folders) an overlay names: a folder contributes its *.yaml / *.yml. */
export function overlayFiles(paths: string[]): string[] {
  const files: string[] = [];
  for (const raw of paths) {
    const path = isAbsolute(raw) ? raw : resolve(Deno.cwd(), raw);
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(path);
    } catch {
      throw new UsageError(`rules overlay ${raw} does not exist`);
    }
    if (st.isDirectory) {
      const found = [...Deno.readDirSync(path)]
        .filter((e) => e.isFile && /\.ya?ml$/.test(e.name) && !/\.test\.ya?ml$/.test(e.name))
        .map((e) => join(path, e.name))
        .sort();
      files.push(...found);
    } else files.push(path);
  }
  return files;
}

/**
 * Renders config/prometheus.yml for a stack on `ports`: scrape targets and
 * the Alertmanager address by job name, rule file paths made absolute (the
 * copy lives in the state folder), overlay rule files appended, optional
 * intervals. Everything else is the committed file as is.
 */
export function renderPrometheusConfig(
  ports: StackPorts,
  opts: { scrapeInterval?: string; rulesOverlay?: string[]; source?: string } = {},
): string {
  const source = opts.source ?? PROMETHEUS_CONFIG;
  // deno-lint-ignore no-explicit-any
  const doc = parseYaml(Deno.readTextFileSync(source)) as any;
  const byJob: Record<string, number> = {
    "metrics-pull-app": ports.pull,
    "otel-collector": ports.collectorPromExporter,
    "otel-collector-telemetry": ports.collectorTelemetry,
    "prometheus": ports.prometheus,
    "node-exporter": ports.nodeExporter,
  };
  for (const sc of doc.scrape_configs ?? []) {
    const port = byJob[sc.job_name];
    if (port === undefined) continue;
    sc.static_configs = [{ targets: [`${HOST}:${port}`] }];
  }
  const baseDir = dirname(source);
  doc.rule_files = [
    ...(doc.rule_files ?? []).map((f: string) => (isAbsolute(f) ? f : resolve(baseDir, f))),
    ...overlayFiles(opts.rulesOverlay ?? []),
  ];
  doc.alerting = {
    alertmanagers: [{ static_configs: [{ targets: [`${HOST}:${ports.alertmanager}`] }] }],
  };
  if (opts.scrapeInterval) {
    const interval = prometheusDuration(opts.scrapeInterval);
    doc.global = {
      ...(doc.global ?? {}),
      scrape_interval: interval,
      evaluation_interval: interval,
    };
  }
  return `# Rendered by 'deno task stack up' from ${source}; do not edit.\n` + stringifyYaml(doc);
}

interface ComponentPlan {
  name: ComponentName;
  /** Tool name, resolved with requireTool() when the component is started. */
  tool: string;
  /** An absolute command instead of a tool (the viewer runs on this Deno). */
  cmd?: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  ports: number[];
  healthUrl: string;
}

function portsOf(ports: StackPorts, component: ComponentName): number[] {
  return PORT_SPECS.filter((s) => s.component === component).map((s) => ports[s.key]);
}

/** How each component is started; resolves binaries (MissingPrerequisite when absent). */
export function planComponents(
  ports: StackPorts,
  opts: {
    scrapeInterval?: string;
    rulesOverlay?: string[];
    topology?: Topology;
    /** The control plane's kubeconfig (cluster topology). */
    kubeconfig?: string;
  } = {},
): ComponentPlan[] {
  for (const f of [COLLECTOR_CONFIG, COLLECTOR_LOCAL_CONFIG]) {
    if (!existsSync(f)) {
      throw new MissingPrerequisite(
        `collector config ${f} not found`,
        "it is part of the repository: check out the complete project",
      );
    }
  }
  const data = join(stateDir(), "data");
  const promConfig = join(stateDir(), "prometheus.yml");
  Deno.mkdirSync(stateDir(), { recursive: true });
  const cluster = opts.topology === "cluster";
  const rendered = renderPrometheusConfig(ports, opts);
  Deno.writeTextFileSync(
    promConfig,
    cluster
      ? clusterPrometheusConfig(rendered, ports, {
        scrapeInterval: opts.scrapeInterval ? prometheusDuration(opts.scrapeInterval) : undefined,
      })
      : rendered,
  );
  return [
    {
      name: "jaeger",
      tool: "jaeger",
      args: ["--config", JAEGER_CONFIG],
      env: jaegerEnv(ports),
      port: ports.jaegerQuery,
      ports: portsOf(ports, "jaeger"),
      healthUrl: `http://${HOST}:${ports.jaegerQuery}/api/services`,
    },
    {
      // Before the collector: its logs pipeline exports here (and retries meanwhile).
      name: "victorialogs",
      tool: "victoria-logs",
      args: [
        `-httpListenAddr=${HOST}:${ports.victorialogs}`,
        `-storageDataPath=${join(data, "victorialogs")}`,
        "-retentionPeriod=7d",
        // Its own request log would only repeat what the collector sends.
        "-loggerLevel=WARN",
      ],
      env: {},
      port: ports.victorialogs,
      ports: [ports.victorialogs],
      healthUrl: `http://${HOST}:${ports.victorialogs}/health`,
    },
    {
      name: "collector",
      tool: "otelcol-obskit",
      // The cluster topology runs the ConfigMap's config alone, as the DaemonSet does.
      args: cluster
        ? ["--config", COLLECTOR_CONFIG]
        : ["--config", COLLECTOR_CONFIG, "--config", COLLECTOR_LOCAL_CONFIG],
      env: cluster
        ? clusterCollectorEnv(collectorEnv(ports), opts.kubeconfig ?? "")
        : collectorEnv(ports),
      port: ports.collectorHealth,
      ports: portsOf(ports, "collector"),
      healthUrl: `http://${HOST}:${ports.collectorHealth}/`,
    },
    {
      name: "alertmanager",
      tool: "alertmanager",
      args: [
        `--config.file=${ALERTMANAGER_CONFIG}`,
        `--storage.path=${join(data, "alertmanager")}`,
        `--web.listen-address=${HOST}:${ports.alertmanager}`,
        // A single local instance: no gossip cluster (it would listen on 9094).
        "--cluster.listen-address=",
      ],
      env: {},
      port: ports.alertmanager,
      ports: [ports.alertmanager],
      healthUrl: `http://${HOST}:${ports.alertmanager}/-/ready`,
    },
    {
      name: "node-exporter",
      tool: "prometheus-node-exporter",
      args: [
        `--web.listen-address=${HOST}:${ports.nodeExporter}`,
        // What the node panels and NodeHigh* rules read, plus disks and load; not the dozens more.
        "--collector.disable-defaults",
        "--collector.cpu",
        "--collector.meminfo",
        "--collector.loadavg",
        "--collector.filesystem",
        "--collector.diskstats",
        "--collector.netdev",
        "--collector.uname",
      ],
      env: {},
      port: ports.nodeExporter,
      ports: [ports.nodeExporter],
      healthUrl: `http://${HOST}:${ports.nodeExporter}/metrics`,
    },
    {
      name: "prometheus",
      tool: "prometheus",
      args: [
        `--config.file=${promConfig}`,
        `--storage.tsdb.path=${join(data, "prometheus")}`,
        `--web.listen-address=${HOST}:${ports.prometheus}`,
        "--web.enable-lifecycle",
        "--storage.tsdb.retention.time=2d",
        // A histogram bucket's trace id (the exemplars the collector's exporter serves).
        "--enable-feature=exemplar-storage",
      ],
      env: {},
      port: ports.prometheus,
      ports: [ports.prometheus],
      healthUrl: `http://${HOST}:${ports.prometheus}/-/ready`,
    },
    {
      name: "viewer",
      tool: "deno",
      cmd: Deno.execPath(),
      // The `view` task's own permissions (deno.json), pointed at this stack.
      // --config: the viewer runs from the state folder, where Deno would not find deno.json.
      args: [
        "run",
        "--config",
        repoPath("deno.json"),
        ...taskRunArgs("view").slice(1),
        "--port",
        String(ports.viewer),
        "--prometheus",
        `http://${HOST}:${ports.prometheus}`,
        "--jaeger",
        `http://${HOST}:${ports.jaegerQuery}`,
        "--alertmanager",
        `http://${HOST}:${ports.alertmanager}`,
      ],
      // echarts reads NODE_ENV; production skips its development-time checks.
      env: { NO_COLOR: "1", NODE_ENV: "production" },
      port: ports.viewer,
      ports: [ports.viewer],
      healthUrl: `http://${HOST}:${ports.viewer}/-/healthy`,
    },
  ];
}

/** Fails naming the first taken port and its holder. */
export async function assertPortsFree(owner: string, ports: number[]): Promise<void> {
  for (const port of ports) {
    if (await isListening(port)) {
      const holder = await portHolder(port);
      throw new CheckFailed(
        `port ${port} (needed by ${owner}) is already in use by ${
          holder ? describeHolder(holder) : "another process"
        }; ` +
          `stop it or pick another port (see 'deno task stack --help')`,
      );
    }
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Waits for a started component's health URL; throws CheckFailed naming the
 * component, port and the last log lines when it dies or times out.
 */
async function waitHealthy(
  entry: ComponentState,
  timeoutMs: number,
  opts: ProgressOptions,
  signal?: AbortSignal,
): Promise<void> {
  const pr = progress(`${entry.name} on port ${entry.port}`, opts);
  const deadline = Date.now() + timeoutMs;
  let why = `not healthy within ${formatElapsed(timeoutMs)} (${entry.healthUrl})`;
  while (Date.now() < deadline) {
    if (signal?.aborted) {
      pr.fail("interrupted");
      throw new Interrupted([]);
    }
    if (!await isAlive(entry.pid, entry.startTime)) {
      why = "exited";
      break;
    }
    if (await healthy(entry.healthUrl)) {
      pr.succeed(`healthy, pid ${entry.pid}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  pr.fail(why);
  const tail = tailFile(entry.logFile, 15);
  throw new CheckFailed(
    `${entry.name} (port ${entry.port}) ${why}; last lines of ${entry.logFile}:\n${
      tail || "(log is empty)"
    }`,
  );
}

export interface UpResult {
  state: StackState;
  started: string[];
  alreadyRunning: string[];
}

/**
 * Starts the stack. Components recorded and alive are left alone (`up`
 * twice is a no-op); dead ones are restarted on their recorded ports. When
 * a component does not come up, what this call started is stopped again.
 */
export async function stackUp(opts: UpOptions = {}): Promise<UpResult> {
  // Validate before waiting for the lock or starting anything.
  if (opts.scrapeInterval) prometheusDuration(opts.scrapeInterval);
  return await withStackLock(() => stackUpLocked(opts), {
    waitMs: opts.lockWaitMs,
    signal: opts.signal,
    onWait: (pid) =>
      (opts.progress?.write ?? ((t: string) => Deno.stderr.writeSync(new TextEncoder().encode(t))))(
        `waiting for pid ${pid} ('stack up' or 'stack down' on ${stateDir()}) to finish\n`,
      ),
  });
}

async function stackUpLocked(opts: UpOptions): Promise<UpResult> {
  const file = readStateFile();
  if (file.damaged) {
    throw new CheckFailed(
      `${statePath()} is damaged (${file.damaged}); run 'deno task stack down' first ` +
        `(it finds what 'up' started from ${pidsDir()})`,
    );
  }
  const existing = file.state;
  if (!existing) {
    // Live processes recorded only in pid files (stack.json deleted by hand):
    // starting again would collide with them on their ports.
    const live = [];
    for (const e of readPidFiles().entries) {
      if (await isAlive(e.pid, e.startTime)) live.push(`${e.name} (pid ${e.pid})`);
    }
    if (live.length) {
      throw new CheckFailed(
        `${statePath()} is missing but ${live.join(", ")} still run from an earlier 'up'; ` +
          "run 'deno task stack down' first",
      );
    }
  }
  const ports = existing?.ports ?? opts.ports ?? resolvePorts();
  const scrapeInterval = existing?.scrapeInterval ?? opts.scrapeInterval ?? "";
  const rulesOverlay = existing?.rulesOverlay ?? (opts.rulesOverlay ?? []).map((r) => resolve(r));
  const topology: Topology = existing?.topology ?? opts.topology ?? "local";
  if (opts.topology && opts.topology !== topology) {
    throw new CheckFailed(
      `the stack in ${stateDir()} runs the ${topology} topology; ` +
        `run 'deno task stack down' before 'stack up --topology ${opts.topology}'`,
    );
  }
  const state: StackState = existing ?? {
    version: 1,
    ports,
    scrapeInterval,
    rulesOverlay,
    topology,
    components: {},
  };
  const wanted = opts.only ?? [...COMPONENTS];
  const kubeconfig = topology === "cluster" && wanted.includes("collector")
    ? await runningControlPlaneKubeconfig()
    : undefined;
  const plans = planComponents(ports, {
    scrapeInterval: scrapeInterval || undefined,
    rulesOverlay,
    topology,
    kubeconfig,
  })
    .filter((pl) => wanted.includes(pl.name));
  const alreadyRunning: string[] = [];
  const toStart: ComponentPlan[] = [];
  for (const plan of plans) {
    const rec = state.components[plan.name];
    if (rec && await isAlive(rec.pid, rec.startTime)) alreadyRunning.push(plan.name);
    else toStart.push(plan);
  }
  // Resolve binaries and check every port first so nothing starts when one is missing or taken.
  const commands = new Map(toStart.map((plan) => [plan.name, plan.cmd ?? requireTool(plan.tool)]));
  if (toStart.some((plan) => plan.name === "collector")) {
    for (const f of [COLLECTOR_CONFIG, COLLECTOR_LOCAL_CONFIG]) {
      if (!existsSync(f)) {
        throw new MissingPrerequisite(
          `collector config ${f} not found`,
          "it is part of the repository: check out the complete project",
        );
      }
    }
  }
  for (const plan of toStart) await assertPortsFree(plan.name, plan.ports);
  Deno.mkdirSync(join(stateDir(), "logs"), { recursive: true });
  Deno.mkdirSync(join(stateDir(), "data"), { recursive: true });
  const started: string[] = [];
  try {
    for (const plan of toStart) {
      if (opts.signal?.aborted) throw new Interrupted([]);
      const logFile = logPath(plan.name);
      Deno.writeTextFileSync(logFile, `--- started ${new Date().toISOString()}\n`, {
        append: true,
      });
      const cmd = commands.get(plan.name)!;
      const proc = await spawnDetached({
        cmd,
        args: plan.args,
        env: plan.env,
        logFile,
        cwd: stateDir(),
      });
      const entry: ComponentState = {
        name: plan.name,
        pid: proc.pid,
        startTime: proc.startTime,
        port: plan.port,
        ports: plan.ports,
        healthUrl: plan.healthUrl,
        logFile,
        command: [cmd, ...plan.args],
        startedAt: new Date().toISOString(),
      };
      // The pid file first: if stack.json is damaged later, `down` still finds this process.
      writePidFile(entry);
      state.components[plan.name] = entry;
      started.push(plan.name);
      writeState(state);
      await waitHealthy(entry, opts.timeoutMs ?? 60_000, opts.progress ?? {}, opts.signal);
    }
  } catch (err) {
    const stopped = [...started];
    for (const name of started.reverse()) {
      const e = state.components[name];
      if (await stopProcess(e.pid, e.startTime)) removePidFile(name);
      delete state.components[name];
    }
    if (Object.keys(state.components).length === 0) removeState();
    else writeState(state);
    if (err instanceof Interrupted) throw new Interrupted(stopped);
    throw err;
  }
  writeState(state);
  return { state, started, alreadyRunning };
}

function removeState(): void {
  try {
    Deno.removeSync(statePath());
  } catch { /* gone */ }
}

export interface DownResult {
  /** Names of the processes stopped (or found already gone). */
  stopped: string[];
  /** Ports still listening after the stop (should be empty). */
  stillListening: number[];
  /** What was done, one line per process: "prometheus (pid 123)", "jaeger (pid 9, had exited)". */
  details: string[];
  /** Damaged records and what was done about them (print them; stack.json, pid files). */
  notes: string[];
  /** Why `down` could not finish (a process it could not stop, or no way to tell what runs). */
  failures: string[];
}

/** Stops every recorded process (apps first, then the stack in reverse start order). */
export async function stackDown(
  opts: { only?: string[]; lockWaitMs?: number } = {},
): Promise<DownResult> {
  return await withStackLock(() => stackDownLocked(opts), { waitMs: opts.lockWaitMs });
}

async function stackDownLocked(opts: { only?: string[] }): Promise<DownResult> {
  const file = readStateFile();
  const pids = readPidFiles();
  const notes: string[] = [];
  const failures: string[] = [];
  // Both records of every process: stack.json's and its pid file (normally the same entry).
  const records: ComponentState[] = [...Object.values(file.state?.components ?? {})];
  for (const e of pids.entries) {
    if (!records.some((r) => r.name === e.name && r.pid === e.pid)) records.push(e);
  }
  for (const d of pids.damaged) notes.push(`pid file damaged, ignored: ${d}`);
  if (file.damaged) {
    if (pids.entries.length > 0) {
      notes.push(
        `${statePath()} is damaged (${file.damaged}); stopping what the pid files in ${pidsDir()} name`,
      );
    } else {
      failures.push(
        `${statePath()} is damaged (${file.damaged}) and ${pidsDir()} has no pid files: ` +
          "could not tell what 'stack up' started. Find its processes with 'ss -ltnp' " +
          "(and stop them by pid), then delete the file",
      );
    }
  }
  const order = records
    .filter((c) => !opts.only || opts.only.includes(c.name))
    .sort((a, b) => rank(b.name) - rank(a.name));
  const stopped: string[] = [];
  const details: string[] = [];
  for (const c of order) {
    const wasAlive = await isAlive(c.pid, c.startTime);
    if (!(await stopProcess(c.pid, c.startTime))) {
      failures.push(`${c.name} (pid ${c.pid}) did not stop, even on SIGKILL`);
      continue;
    }
    if (!stopped.includes(c.name)) stopped.push(c.name);
    details.push(`${c.name} (pid ${c.pid}${wasAlive ? "" : ", had exited"})`);
    removePidFile(c.name);
    if (file.state) delete file.state.components[c.name];
  }
  if (file.state) {
    if (Object.keys(file.state.components).length === 0) removeState();
    else writeState(file.state);
  } else if (file.damaged && failures.length === 0 && !opts.only) {
    // Everything it could have recorded is stopped: the damaged file has served its purpose.
    removeState();
    notes.push(`removed the damaged ${statePath()}`);
  }
  const stillListening: number[] = [];
  for (const c of order) {
    for (const port of c.ports) {
      // A closed listener can take a moment to disappear.
      let open = await isListening(port);
      for (let i = 0; open && i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        open = await isListening(port);
      }
      if (open && !stillListening.includes(port)) stillListening.push(port);
    }
  }
  return { stopped, stillListening, details, notes, failures };
}

function rank(name: string): number {
  const i = (COMPONENTS as readonly string[]).indexOf(name);
  return i === -1 ? 100 : i; // apps (not in COMPONENTS) stop first
}

export interface StatusRow {
  component: string;
  pid: number | null;
  port: number;
  running: boolean;
  healthy: boolean;
  url: string;
}

/**
 * One row per stack component (recorded or not: one never started, or
 * stopped by an interrupted `up`, is "not running") and per recorded app.
 * Healthy means the recorded pid is alive AND its health URL answers.
 * Empty when no stack is recorded at all.
 */
export async function stackStatus(): Promise<StatusRow[]> {
  const state = readState();
  if (!state) return [];
  const rows: StatusRow[] = [];
  const plans = notStartedRows(state);
  const names = [...new Set([...COMPONENTS, ...Object.keys(state.components)])]
    .sort((a, b) => rank(a) - rank(b));
  for (const name of names) {
    const c = state.components[name];
    if (!c) {
      rows.push(plans[name]);
      continue;
    }
    const running = await isAlive(c.pid, c.startTime);
    rows.push({
      component: c.name,
      pid: c.pid,
      port: c.port,
      running,
      healthy: running && await healthy(c.healthUrl),
      url: c.healthUrl,
    });
  }
  return rows;
}

/** Rows for components the state does not record, on the state's ports. */
function notStartedRows(state: StackState): Record<string, StatusRow> {
  const main: Record<ComponentName, number> = {
    jaeger: state.ports.jaegerQuery,
    collector: state.ports.collectorHealth,
    alertmanager: state.ports.alertmanager,
    "node-exporter": state.ports.nodeExporter,
    victorialogs: state.ports.victorialogs,
    prometheus: state.ports.prometheus,
    viewer: state.ports.viewer,
  };
  return Object.fromEntries(
    COMPONENTS.map((name) => [name, {
      component: name,
      pid: null,
      port: main[name],
      running: false,
      healthy: false,
      url: "",
    }]),
  );
}

export function statusTable(rows: StatusRow[]): string {
  return formatTable(
    ["component", "pid", "port", "healthy"],
    rows.map((r) => [
      r.component,
      r.pid === null ? "-" : r.running ? String(r.pid) : `${r.pid} (exited)`,
      String(r.port),
      r.pid === null ? "not running" : r.healthy ? "yes" : "no",
    ]),
  );
}

/** Log file of a component (from the state, else the default location). */
export function componentLog(name: string): string {
  return readState()?.components[name]?.logFile ?? logPath(name);
}

/** URLs of a running stack, for printing. */
export function stackUrls(ports: StackPorts): Record<string, string> {
  return {
    viewer: `http://localhost:${ports.viewer}`,
    prometheus: `http://localhost:${ports.prometheus}`,
    alertmanager: `http://localhost:${ports.alertmanager}`,
    jaeger: `http://localhost:${ports.jaegerQuery}`,
    otlpHttp: `http://localhost:${ports.otlpHttp}`,
    otlpGrpc: `localhost:${ports.otlpGrpc}`,
    collectorHealth: `http://localhost:${ports.collectorHealth}`,
  };
}

/**
 * Where the stack's services answer: the recorded stack's ports when one is
 * running from this state folder, else the book's ports (which is also what
 * `kubectl port-forward` to a cluster gives). Callers override with flags.
 */
export function currentPorts(): StackPorts {
  return readState()?.ports ?? resolvePorts();
}

/**
 * Removes what a stopped stack leaves in the state folder: Prometheus and
 * Alertmanager data, Jaeger's traces, the collector's queue, the rendered
 * Prometheus config, and with `logs`
 * the logs too. Refuses while a stack is recorded.
 */
export function purgeStackData(opts: { logs?: boolean } = {}): string[] {
  // The file, not readState(): a damaged stack.json may still stand for running processes.
  if (existsSync(statePath()) || readPidFiles().entries.length > 0) {
    throw new Error("a local stack is still recorded: run 'deno task stack down' first");
  }
  const removed: string[] = [];
  const targets = [
    join(stateDir(), "data"),
    join(stateDir(), "prometheus.yml"),
    pidsDir(),
    jaegerDataDir(),
    dirname(collectorQueueDir()),
  ];
  if (opts.logs) targets.push(join(stateDir(), "logs"));
  for (const t of targets) {
    try {
      Deno.removeSync(t, { recursive: true });
      removed.push(t);
    } catch { /* not there */ }
  }
  return removed;
}
