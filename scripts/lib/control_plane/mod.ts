// README: a real Kubernetes control plane on loopback (etcd + kube-apiserver, token auth, RBAC, the prometheus-operator CRDs; no kubelet, so no pods) for `deno task control-plane up|down|status`.
/**
 * Lifecycle of the control plane: `up` starts etcd and kube-apiserver as
 * detached processes (pids recorded as they start, so `down` and Ctrl-C
 * can stop a partial start), writes a kubeconfig, applies the generated
 * CRDs and the namespaces the phases expect; `down` stops them by pid;
 * `status` says what runs. Idempotent: `up` on a healthy control plane only
 * re-applies the CRDs and namespaces.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CheckFailed, Interrupted, MissingPrerequisite, UsageError } from "../cli.ts";

export { Interrupted };
import { freePort, isListening } from "../net.ts";
import { stateDir } from "../paths.ts";
import {
  describeHolder,
  isAlive,
  portHolder,
  spawnDetached,
  stopProcess,
  tailFile,
} from "../process.ts";
import {
  CRD_FILES,
  crdDir,
  KUBERNETES_VERSION,
  kwokStagesFile,
  PROMETHEUS_OPERATOR_VERSION,
  resolveTool,
} from "../tools/mod.ts";
import {
  apiserverArgs,
  controllerManagerArgs,
  DEFAULT_PORTS,
  etcdArgs,
  kubeconfigText,
  kwokArgs,
  kwokConfigText,
  type Layout,
  layout,
  NAMESPACES,
  namespacesYaml,
  nodeYaml,
  type Ports,
  schedulerArgs,
  SIM_NODE,
  tokenFileText,
} from "./config.ts";

export { CONTEXT, NAMESPACES, SIM_NODE } from "./config.ts";

export const PODS_NOTE =
  "pods do not run here: there is no kubelet, scheduler or controller-manager; objects are validated and stored, nothing is scheduled";
export const SIMULATED_PODS_NOTE =
  `real controllers and scheduler place pods on node ${SIM_NODE}, which kwok marks Running and Ready: no container runs, so logs, exec and port-forward do not work`;

export interface ProcEntry {
  pid: number;
  startTime: number;
  port: number;
}

export interface ControlPlaneState {
  ports: Ports;
  etcd?: ProcEntry;
  apiserver?: ProcEntry;
  /** --simulate-nodes: real controllers and scheduler, kwok for the kubelet. */
  controllerManager?: ProcEntry;
  scheduler?: ProcEntry;
  kwok?: ProcEntry;
  kubeconfig: string;
  startedAt: string;
}

/** Absolute: the kubeconfig names the CA file, and kubectl reads relative paths from its own folder. */
export function controlPlaneDir(): string {
  return resolve(stateDir(), "control-plane");
}

export function paths(): Layout {
  return layout(controlPlaneDir());
}

export function readState(): ControlPlaneState | null {
  try {
    return JSON.parse(Deno.readTextFileSync(paths().stateFile)) as ControlPlaneState;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (err instanceof SyntaxError) {
      throw new CheckFailed(
        `${paths().stateFile} is damaged (${err.message}); remove it and the processes it named`,
      );
    }
    throw err;
  }
}

function writeState(s: ControlPlaneState): void {
  const l = paths();
  Deno.mkdirSync(l.dir, { recursive: true });
  Deno.writeTextFileSync(l.stateFile, JSON.stringify(s, null, 2) + "\n");
}

/** The programs `up` needs: built/installed by `deno task tools --k8s`. */
export function requireK8sTools(simulate = false): Record<string, string> {
  const missing: string[] = [];
  const found: Record<string, string> = {};
  if (simulate) {
    for (const t of ["kube-controller-manager", "kube-scheduler", "kwok"]) {
      const p = resolveTool(t);
      if (p) found[t] = p;
      else missing.push(t);
    }
    if (!existsSync(kwokStagesFile())) missing.push(`kwok's stages (${kwokStagesFile()})`);
  }
  const etcd = resolveTool("etcd");
  const apiserver = resolveTool("kube-apiserver");
  const kubectl = resolveTool("kubectl");
  if (!etcd) missing.push("etcd");
  if (!apiserver) missing.push("kube-apiserver");
  if (!kubectl) missing.push("kubectl");
  const crds = CRD_FILES.filter((f) => !existsSync(join(crdDir(), f)));
  if (crds.length) missing.push(`the CRDs in ${crdDir()}`);
  if (missing.length) {
    throw new MissingPrerequisite(
      `${missing.join(", ")} not found`,
      "run 'deno task tools --k8s' (as root, so it can apt-get install etcd-server)",
    );
  }
  return { ...found, etcd: etcd!, apiserver: apiserver!, kubectl: kubectl! };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl against the control plane's kubeconfig (never the user's). */
export async function kubectl(
  args: string[],
  opts: { stdin?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  const bin = resolveTool("kubectl");
  if (!bin) throw new MissingPrerequisite("kubectl not found", "run 'deno task tools --k8s'");
  const child = new Deno.Command(bin, {
    args: ["--kubeconfig", paths().kubeconfig, ...args],
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs ?? 60_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** First line of kubectl's error output, for one-line messages. */
function firstError(r: KubectlResult): string {
  return (r.stderr.trim().split("\n").find((l) => l.trim()) ?? `exit ${r.code}`).trim();
}

/**
 * The port for one listener: the flag's value must be free; without a flag
 * the default is used when free, else a free port is chosen (say so).
 */
async function choosePort(
  what: string,
  flag: string,
  wanted: number | undefined,
  fallback: number,
  say: (line: string) => void,
): Promise<number> {
  const port = wanted ?? fallback;
  if (!(await isListening(port))) return port;
  const holder = await portHolder(port);
  const who = holder ? describeHolder(holder) : "another process";
  if (wanted !== undefined) {
    throw new UsageError(`--${flag} ${port} is in use by ${who}; pick another port`);
  }
  const free = freePort();
  say(`${what}: port ${port} is in use by ${who}; using ${free}`);
  return free;
}

/** Creates the service-account key pair and the admin token once; later runs reuse them. */
function ensureSecrets(l: Layout): string {
  Deno.mkdirSync(l.certDir, { recursive: true });
  if (!existsSync(l.saKey) || !existsSync(l.saPub)) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    Deno.writeTextFileSync(l.saKey, privateKey.export({ type: "pkcs8", format: "pem" }) as string, {
      mode: 0o600,
    });
    Deno.writeTextFileSync(l.saPub, publicKey.export({ type: "spki", format: "pem" }) as string);
  }
  let token = "";
  try {
    token = Deno.readTextFileSync(l.tokenFile).split(",")[0].trim();
  } catch { /* first run */ }
  if (!/^[0-9a-f]{64}$/.test(token)) {
    token = randomBytes(32).toString("hex");
    Deno.writeTextFileSync(l.tokenFile, tokenFileText(token), { mode: 0o600 });
  }
  return token;
}

async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

async function etcdHealthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, {
      signal: AbortSignal.timeout(2000),
    });
    const body = await res.text();
    return res.ok && /"health"\s*:\s*"true"/.test(body);
  } catch {
    return false;
  }
}

async function apiserverReady(): Promise<{ ok: boolean; why: string }> {
  const r = await kubectl(["get", "--raw", "/readyz", "--request-timeout=5s"], {
    timeoutMs: 10_000,
  });
  return { ok: r.code === 0 && r.stdout.trim() === "ok", why: firstError(r) };
}

/** Polls `check` until true; throws with the component's log tail on timeout or exit. */
async function waitFor(
  what: string,
  entry: ProcEntry,
  logFile: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (signal?.aborted) return;
    if (await check()) return;
    if (!(await isAlive(entry.pid, entry.startTime))) {
      throw new CheckFailed(
        `${what} exited during start-up; last lines of ${logFile}:\n${tailFile(logFile, 8)}`,
      );
    }
    await sleep(250, signal);
  }
  throw new CheckFailed(
    `${what} not ready after ${Math.round(timeoutMs / 1000)} s; last lines of ${logFile}:\n${
      tailFile(logFile, 8)
    }`,
  );
}

export interface UpOptions {
  /** Also run kube-controller-manager, kube-scheduler and kwok with one simulated node. */
  simulateNodes?: boolean;
  apiserverPort?: number;
  etcdPort?: number;
  etcdPeerPort?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  say?: (line: string) => void;
}

export interface UpResult {
  state: ControlPlaneState;
  /** False when it was already running and healthy. */
  started: boolean;
}

/** Applies the CRDs and namespaces (server-side apply: a rerun changes nothing). */
export async function applyBaseObjects(say: (line: string) => void = () => {}): Promise<void> {
  const files = CRD_FILES.map((f) => join(crdDir(), f));
  const crd = await kubectl(
    [
      "apply",
      "--server-side",
      "--field-manager=obskit-control-plane",
      ...files.flatMap((f) => ["-f", f]),
    ],
    { timeoutMs: 120_000 },
  );
  if (crd.code !== 0) throw new CheckFailed(`applying the CRDs failed: ${firstError(crd)}`);
  const names = CRD_FILES.map((f) =>
    `crd/${f.replace(/^monitoring\.coreos\.com_/, "").replace(/\.yaml$/, "")}.monitoring.coreos.com`
  );
  const est = await kubectl(["wait", "--for=condition=Established", "--timeout=60s", ...names], {
    timeoutMs: 90_000,
  });
  if (est.code !== 0) throw new CheckFailed(`the CRDs were not established: ${firstError(est)}`);
  say(
    `CRDs established: PrometheusRule, ServiceMonitor, PodMonitor (prometheus-operator ${PROMETHEUS_OPERATOR_VERSION} API types)`,
  );
  // Client-side apply, as phase 1's own `kubectl apply` of the same Namespace: no ownership warning.
  const ns = await kubectl(["apply", "-f", "-"], { stdin: namespacesYaml(), timeoutMs: 60_000 });
  if (ns.code !== 0) throw new CheckFailed(`creating the namespaces failed: ${firstError(ns)}`);
  say(`namespaces: ${NAMESPACES.join(", ")}`);
}

/** Stops recorded processes (kube-apiserver first, then etcd); returns what it stopped. */
async function stopRecorded(
  s: ControlPlaneState,
): Promise<{ stopped: string[]; failed: string[] }> {
  const stopped: string[] = [];
  const failed: string[] = [];
  const order = [
    ["kwok", s.kwok],
    ["kube-scheduler", s.scheduler],
    ["kube-controller-manager", s.controllerManager],
    ["kube-apiserver", s.apiserver],
    ["etcd", s.etcd],
  ] as const;
  for (const [name, e] of order) {
    if (!e) continue;
    const alive = await isAlive(e.pid, e.startTime);
    if (await stopProcess(e.pid, e.startTime, 10_000)) {
      if (alive) stopped.push(`${name} (pid ${e.pid})`);
    } else failed.push(`${name} (pid ${e.pid}) did not stop`);
  }
  return { stopped, failed };
}

/**
 * Runs `fn` holding the control plane's lock (a file created exclusively,
 * holding our pid), so two `up`/`down` on one state folder do not race. A
 * lock whose pid is gone is stale and taken over; a live holder is waited
 * for up to `waitMs`, then CheckFailed names it.
 */
export async function withLock<T>(fn: () => Promise<T>, waitMs = 180_000): Promise<T> {
  const dir = controlPlaneDir();
  Deno.mkdirSync(dir, { recursive: true });
  const lock = join(dir, "lock");
  const deadline = Date.now() + waitMs;
  while (true) {
    try {
      Deno.writeTextFileSync(lock, `${Deno.pid}\n`, { createNew: true });
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    let text = "";
    try {
      text = Deno.readTextFileSync(lock).trim();
    } catch {
      continue; // released meanwhile
    }
    const holder = Number(text);
    if (!/^\d+$/.test(text) || !(await isAlive(holder))) {
      try {
        if (Deno.readTextFileSync(lock).trim() === text) Deno.removeSync(lock);
      } catch { /* gone */ }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new CheckFailed(
        `another 'control-plane up' or 'down' (pid ${holder}) is using ${dir}; wait for it to finish`,
      );
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    try {
      if (Deno.readTextFileSync(lock).trim() === String(Deno.pid)) Deno.removeSync(lock);
    } catch { /* gone */ }
  }
}

/**
 * --simulate-nodes: the real kube-controller-manager and kube-scheduler,
 * and kwok managing one Node we create, so Deployments and DaemonSets get
 * pods that are scheduled and reach Ready (no containers). Each process is
 * recorded as it starts; a healthy recorded one is kept (idempotent).
 */
async function simulateNodes(
  state: ControlPlaneState,
  tools: Record<string, string>,
  opts: UpOptions,
  say: (line: string) => void,
): Promise<void> {
  const l = paths();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const alive = async (e?: ProcEntry) => e ? await isAlive(e.pid, e.startTime) : false;
  const start = async (
    name: string,
    key: "controllerManager" | "scheduler" | "kwok",
    args: (port: number) => string[],
  ) => {
    if (await alive(state[key])) return;
    const port = freePort();
    const logFile = join(l.logDir, `${name}.log`);
    const proc = await spawnDetached({ cmd: tools[name], args: args(port), logFile });
    state[key] = { ...proc, port };
    writeState(state);
    await waitFor(name, state[key]!, logFile, timeoutMs, () => isListening(port), opts.signal);
    say(`${name}: 127.0.0.1:${port} (pid ${proc.pid})`);
  };
  await start("kube-controller-manager", "controllerManager", (p) => controllerManagerArgs(l, p));
  if (opts.signal?.aborted) return;
  await start("kube-scheduler", "scheduler", (p) => schedulerArgs(l, p));
  if (opts.signal?.aborted) return;
  Deno.writeTextFileSync(
    join(l.dir, "kwok.yaml"),
    kwokConfigText(Deno.readTextFileSync(kwokStagesFile())),
  );
  await start("kwok", "kwok", (p) => kwokArgs(l, p));
  if (opts.signal?.aborted) return;
  const node = await kubectl(["apply", "-f", "-"], { stdin: nodeYaml(), timeoutMs: 60_000 });
  if (node.code !== 0) {
    throw new CheckFailed(`creating node ${SIM_NODE} failed: ${firstError(node)}`);
  }
  const ready = await kubectl(
    [
      "wait",
      "--for=condition=Ready",
      `node/${SIM_NODE}`,
      `--timeout=${Math.ceil(timeoutMs / 1000)}s`,
    ],
    { timeoutMs: timeoutMs + 10_000 },
  );
  if (ready.code !== 0) {
    throw new CheckFailed(
      `node ${SIM_NODE} not Ready: ${firstError(ready)}; see ${join(l.logDir, "kwok.log")}`,
    );
  }
  say(`node ${SIM_NODE} Ready (managed by kwok)`);
}

export function up(opts: UpOptions = {}): Promise<UpResult> {
  requireK8sTools(opts.simulateNodes);
  return withLock(() => upLocked(opts));
}

async function upLocked(opts: UpOptions): Promise<UpResult> {
  const say = opts.say ?? (() => {});
  const tools = requireK8sTools(opts.simulateNodes);
  const l = paths();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const previous = readState();
  if (previous?.etcd && previous.apiserver) {
    const etcdUp = await isAlive(previous.etcd.pid, previous.etcd.startTime);
    const apiUp = await isAlive(previous.apiserver.pid, previous.apiserver.startTime);
    if (etcdUp && apiUp && (await apiserverReady()).ok) {
      say(
        `already running: kube-apiserver on 127.0.0.1:${previous.apiserver.port}, etcd on 127.0.0.1:${previous.etcd.port}`,
      );
      await applyBaseObjects(say);
      if (opts.simulateNodes) await simulateNodes(previous, tools, opts, say);
      return { state: previous, started: false };
    }
  }
  if (previous) {
    // A partial or unhealthy earlier start: stop what is left, then start afresh (data is kept).
    const { stopped } = await stopRecorded(previous);
    if (stopped.length) say(`stopped the rest of an earlier start: ${stopped.join(", ")}`);
    Deno.removeSync(l.stateFile);
  }
  const ports: Ports = {
    apiserver: await choosePort(
      "kube-apiserver",
      "port",
      opts.apiserverPort,
      DEFAULT_PORTS.apiserver,
      say,
    ),
    etcd: await choosePort("etcd", "etcd-port", opts.etcdPort, DEFAULT_PORTS.etcd, say),
    etcdPeer: 0,
  };
  ports.etcdPeer = await choosePort(
    "etcd peer",
    "etcd-peer-port",
    opts.etcdPeerPort,
    DEFAULT_PORTS.etcdPeer,
    say,
  );
  if (new Set([ports.apiserver, ports.etcd, ports.etcdPeer]).size !== 3) {
    throw new UsageError(
      `the three ports must differ: ${ports.apiserver}, ${ports.etcd}, ${ports.etcdPeer}`,
    );
  }
  const token = ensureSecrets(l);
  Deno.mkdirSync(l.logDir, { recursive: true });
  Deno.writeTextFileSync(l.kubeconfig, kubeconfigText(l, ports, token), { mode: 0o600 });
  const state: ControlPlaneState = {
    ports,
    kubeconfig: l.kubeconfig,
    startedAt: new Date().toISOString(),
  };
  writeState(state);
  const interrupted = async (): Promise<never> => {
    const { stopped } = await stopRecorded(state);
    try {
      Deno.removeSync(l.stateFile);
    } catch { /* gone */ }
    throw new Interrupted(stopped);
  };
  try {
    const etcdLog = join(l.logDir, "etcd.log");
    const etcd = await spawnDetached({
      cmd: tools.etcd,
      args: etcdArgs(l, ports),
      logFile: etcdLog,
    });
    state.etcd = { ...etcd, port: ports.etcd };
    writeState(state);
    await waitFor(
      "etcd",
      state.etcd,
      etcdLog,
      timeoutMs,
      () => etcdHealthy(ports.etcd),
      opts.signal,
    );
    if (opts.signal?.aborted) return await interrupted();
    say(`etcd: 127.0.0.1:${ports.etcd} (pid ${etcd.pid})`);
    const apiLog = join(l.logDir, "kube-apiserver.log");
    const api = await spawnDetached({
      cmd: tools.apiserver,
      args: apiserverArgs(l, ports),
      logFile: apiLog,
    });
    state.apiserver = { ...api, port: ports.apiserver };
    writeState(state);
    await waitFor(
      "kube-apiserver",
      state.apiserver,
      apiLog,
      timeoutMs,
      async () => (await apiserverReady()).ok,
      opts.signal,
    );
    if (opts.signal?.aborted) return await interrupted();
    say(
      `kube-apiserver ${KUBERNETES_VERSION}: https://127.0.0.1:${ports.apiserver} (pid ${api.pid})`,
    );
    await applyBaseObjects(say);
    if (opts.signal?.aborted) return await interrupted();
    if (opts.simulateNodes) {
      await simulateNodes(state, tools, opts, say);
      if (opts.signal?.aborted) return await interrupted();
    }
  } catch (err) {
    if (err instanceof Interrupted) throw err;
    // A failed start leaves nothing running: the next 'up' starts clean.
    await stopRecorded(state);
    try {
      Deno.removeSync(l.stateFile);
    } catch { /* gone */ }
    throw err;
  }
  return { state, started: true };
}

export interface DownResult {
  stopped: string[];
  failed: string[];
  stillListening: number[];
  purged: boolean;
}

export async function down(opts: { purge?: boolean } = {}): Promise<DownResult> {
  if (!existsSync(controlPlaneDir())) {
    return { stopped: [], failed: [], stillListening: [], purged: false };
  }
  return await withLock(() => downLocked(opts));
}

async function downLocked(opts: { purge?: boolean }): Promise<DownResult> {
  const l = paths();
  const s = readState();
  const res: DownResult = { stopped: [], failed: [], stillListening: [], purged: false };
  if (s) {
    const r = await stopRecorded(s);
    res.stopped = r.stopped;
    res.failed = r.failed;
    const ports = [s.ports.apiserver, s.ports.etcd, s.ports.etcdPeer];
    for (const e of [s.controllerManager, s.scheduler, s.kwok]) if (e) ports.push(e.port);
    for (const port of ports) {
      if (port && (await isListening(port))) res.stillListening.push(port);
    }
    if (res.failed.length === 0) Deno.removeSync(l.stateFile);
  }
  if (opts.purge && res.failed.length === 0 && existsSync(l.dir)) {
    Deno.removeSync(l.dir, { recursive: true });
    res.purged = true;
  }
  return res;
}

export interface StatusRow {
  component: string;
  pid: string;
  address: string;
  state: string;
  healthy: boolean;
}

export async function status(): Promise<
  { rows: StatusRow[]; kubeconfig: string; simulated: boolean } | null
> {
  const s = readState();
  if (!s) return null;
  const rows: StatusRow[] = [];
  const etcdAlive = s.etcd ? await isAlive(s.etcd.pid, s.etcd.startTime) : false;
  const etcdOk = etcdAlive && (await etcdHealthy(s.ports.etcd));
  rows.push({
    component: "etcd",
    pid: s.etcd && etcdAlive ? String(s.etcd.pid) : "-",
    address: `http://127.0.0.1:${s.ports.etcd}`,
    state: !etcdAlive ? "not running" : etcdOk ? "healthy" : "not answering /health",
    healthy: etcdOk,
  });
  const apiAlive = s.apiserver ? await isAlive(s.apiserver.pid, s.apiserver.startTime) : false;
  const ready = apiAlive ? await apiserverReady() : { ok: false, why: "" };
  rows.push({
    component: "kube-apiserver",
    pid: s.apiserver && apiAlive ? String(s.apiserver.pid) : "-",
    address: `https://127.0.0.1:${s.ports.apiserver}`,
    state: !apiAlive ? "not running" : ready.ok ? "ready" : `not ready (${ready.why})`,
    healthy: ready.ok,
  });
  const simulated = Boolean(s.controllerManager || s.scheduler || s.kwok);
  for (
    const [name, e] of [
      ["kube-controller-manager", s.controllerManager],
      ["kube-scheduler", s.scheduler],
      ["kwok", s.kwok],
    ] as const
  ) {
    if (!simulated) break;
    const up = e ? await isAlive(e.pid, e.startTime) : false;
    const listening = up && e ? await isListening(e.port) : false;
    rows.push({
      component: name,
      pid: e && up ? String(e.pid) : "-",
      address: e ? `127.0.0.1:${e.port}` : "-",
      state: !up ? "not running" : listening ? "running" : "not listening",
      healthy: listening,
    });
  }
  rows.push({
    component: "pods",
    pid: "-",
    address: "-",
    state: simulated
      ? `simulated on node ${SIM_NODE} by kwok: scheduled and Ready, no containers run`
      : "none: no kubelet, scheduler or controller-manager here",
    healthy: true,
  });
  return { rows, kubeconfig: s.kubeconfig, simulated };
}
