/**
 * Test support for the Kubernetes/Grafana phases (used by tests/*_test.ts,
 * never by a script). Runs a task's script the way `deno task` does (same permissions, read
 * from deno.json), with a controlled PATH (so kubectl/helm are present or
 * absent on purpose), an isolated state folder and an empty kubeconfig:
 * no test ever reaches a reader's cluster. Two API servers for tests: the
 * real one (`realApi`: kube-apiserver + etcd started by `deno task
 * control-plane` on free loopback ports, used wherever an API server can
 * answer) and the stand-in (`standInApi`), kept only for what needs pods:
 * readiness polling and the Grafana secret of a helm release.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../scripts/lib/net.ts";
import { REPO_ROOT, repoPath, toolsDir } from "../scripts/lib/paths.ts";

/**
 * The real tool: the tools folder's bin/ first (`deno task tools --k8s` builds kubectl
 * there), then this machine's PATH; null when neither has it.
 */
export function onPath(tool: string): string | null {
  const built = join(toolsDir(), "bin", tool);
  if (existsSync(built)) return built;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return null;
}

/** `deno run` arguments of a task line in deno.json (flags and script). */
export function taskRunArgs(task: string): string[] {
  const tasks = JSON.parse(readFileSync(repoPath("deno.json"), "utf8")).tasks as Record<
    string,
    string
  >;
  const line = tasks[task];
  if (!line) throw new Error(`no task ${task} in deno.json`);
  const words = line.split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") throw new Error(`task ${task} is not 'deno run'`);
  return words.slice(1);
}

export interface Sandbox {
  dir: string;
  stateDir: string;
  /** PATH folder: empty unless tools are linked into it. */
  binDir: string;
  kubeconfig: string;
  cleanup(): void;
}

/**
 * A temp folder with state/, bin/ (linking the named real tools found here)
 * and a kubeconfig. `stateInRepo` puts the state folder under the
 * repository's .stack/ instead, where the tasks' --allow-write lets them write.
 */
export function sandbox(linkTools: string[] = [], opts: { stateInRepo?: boolean } = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "obskit-k8s-"));
  let stateDir = join(dir, "state");
  if (opts.stateInRepo) {
    mkdirSync(repoPath(".stack"), { recursive: true });
    stateDir = mkdtempSync(join(repoPath(".stack"), "k8s-test-"));
  } else mkdirSync(stateDir);
  const binDir = join(dir, "bin");
  mkdirSync(binDir);
  for (const t of linkTools) {
    const real = onPath(t);
    if (real) symlinkSync(real, join(binDir, t));
  }
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
  );
  return {
    dir,
    stateDir,
    binDir,
    kubeconfig,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      if (opts.stateInRepo) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface TaskResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runTask(
  task: string,
  args: string[],
  box: Sandbox,
  env: Record<string, string> = {},
): Promise<TaskResult> {
  const keep = ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"];
  const base: Record<string, string> = {};
  for (const k of keep) {
    const v = Deno.env.get(k);
    if (v !== undefined) base[k] = v;
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...taskRunArgs(task), ...args],
    cwd: REPO_ROOT,
    clearEnv: true,
    env: {
      ...base,
      PATH: box.binDir,
      OBSKIT_STATE_DIR: box.stateDir,
      KUBECONFIG: box.kubeconfig,
      NO_COLOR: "1",
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The command lines of a dry run: comment lines dropped, trailing `   # note` removed. */
export function commandLines(stdout: string): string[] {
  return stdout.split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => l.replace(/\s{3}# .*$/, ""));
}

/** Kubernetes/helm verbs that fail on a second run ("already exists"). */
export function nonIdempotent(lines: string[]): string[] {
  return lines.filter((l) =>
    /^helm( --kube-context \S+)? install\b/.test(l) ||
    /^kubectl( --context \S+)? create\b/.test(l) ||
    (/^helm( --kube-context \S+)? repo add\b/.test(l) && !l.includes("--force-update")) ||
    /^kubectl( --context \S+)? (replace|run|expose)\b/.test(l)
  );
}

// ---------------------------------------------------------------------------
// A real Kubernetes API server (deno task control-plane)

export interface RealApi {
  /** The control plane's kubeconfig (token auth, current context obskit-control-plane). */
  kubeconfig: string;
  ports: { apiserver: number; etcd: number; etcdPeer: number };
  /** Environment for runTask: our kubectl first on PATH, the tools folder. */
  env: Record<string, string>;
  /** The `up` command's output. */
  up: TaskResult;
  close(): Promise<void>;
}

/**
 * PATH for tasks run against the real API server: the tools folder's
 * kubectl (the same release as kube-apiserver, linked into the sandbox's
 * bin/) first, then the system folders for setsid, sh and cat.
 */
export function controlPlaneEnv(box: Sandbox): Record<string, string> {
  const kubectl = join(toolsDir(), "bin", "kubectl");
  if (existsSync(kubectl) && !existsSync(join(box.binDir, "kubectl"))) {
    symlinkSync(kubectl, join(box.binDir, "kubectl"));
  }
  return { PATH: `${box.binDir}:/usr/local/bin:/usr/bin:/bin`, OBSKIT_TOOLS_DIR: toolsDir() };
}

/**
 * Starts a real control plane in the sandbox's state folder on free ports
 * (`deno task control-plane up`, as a reader runs it; `simulateNodes` adds
 * the controller-manager, scheduler and a kwok node); close() runs
 * `down --purge`. Throws with the task's output when `up` fails.
 */
export async function realApi(
  box: Sandbox,
  opts: { simulateNodes?: boolean } = {},
): Promise<RealApi> {
  const env = controlPlaneEnv(box);
  const ports = { apiserver: freePort(), etcd: freePort(), etcdPeer: freePort() };
  const up = await runTask(
    "control-plane",
    [
      "up",
      "--port",
      String(ports.apiserver),
      "--etcd-port",
      String(ports.etcd),
      "--etcd-peer-port",
      String(ports.etcdPeer),
      ...(opts.simulateNodes ? ["--simulate-nodes"] : []),
    ],
    box,
    env,
  );
  const close = async () => {
    await runTask("control-plane", ["down", "--purge"], box, env);
  };
  if (up.code !== 0) {
    await close();
    throw new Error(`control-plane up failed (exit ${up.code}):\n${up.stdout}${up.stderr}`);
  }
  return {
    kubeconfig: join(box.stateDir, "control-plane", "kubeconfig"),
    ports,
    env,
    up,
    close,
  };
}

// ---------------------------------------------------------------------------
// A stand-in Kubernetes API endpoint (not Kubernetes)

export interface StandIn {
  /** "METHOD /path" of every non-discovery request, in order. */
  requests: string[];
  /** A kubeconfig whose current context points at the stand-in. */
  kubeconfig: string;
  close(): Promise<void>;
}

const resource = (name: string, kind: string, namespaced: boolean, shortNames: string[] = []) => ({
  name,
  singularName: kind.toLowerCase(),
  namespaced,
  kind,
  verbs: ["get", "list", "watch", "create", "update", "patch"],
  shortNames,
});

const GROUPS: Record<string, ReturnType<typeof resource>[]> = {
  "v1": [
    resource("pods", "Pod", true, ["po"]),
    resource("services", "Service", true, ["svc"]),
    resource("secrets", "Secret", true),
    resource("configmaps", "ConfigMap", true, ["cm"]),
    resource("serviceaccounts", "ServiceAccount", true, ["sa"]),
    resource("namespaces", "Namespace", false, ["ns"]),
  ],
  "apps/v1": [
    resource("daemonsets", "DaemonSet", true, ["ds"]),
    resource("deployments", "Deployment", true, ["deploy"]),
  ],
  "monitoring.coreos.com/v1": [resource("prometheusrules", "PrometheusRule", true, ["promrule"])],
  "rbac.authorization.k8s.io/v1": [
    resource("clusterroles", "ClusterRole", false),
    resource("clusterrolebindings", "ClusterRoleBinding", false),
  ],
  "networking.k8s.io/v1": [resource("networkpolicies", "NetworkPolicy", true)],
};

/**
 * Serves what the real kubectl asks before it acts: discovery (core, apps,
 * monitoring.coreos.com, rbac, networking), /version, /readyz, a pod list
 * in `monitoring` whose pods turn Ready on poll `podsReadyAfter`, and the
 * Grafana secret. Everything else is recorded and answers 404 NotFound, so
 * a test sees which object a command line addressed. Not Kubernetes: just
 * enough for kubectl to parse, discover and send its first real request.
 */
export function standInApi(
  dir: string,
  opts: { podsReadyAfter?: number; grafanaPassword?: string } = {},
): StandIn {
  const port = freePort();
  const requests: string[] = [];
  let polls = 0;
  const readyAfter = opts.podsReadyAfter ?? 1;
  const pod = (name: string, ready: boolean, reason?: string) => ({
    metadata: { name, namespace: "monitoring" },
    status: {
      phase: ready ? "Running" : "Pending",
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      containerStatuses: reason ? [{ name: "c", state: { waiting: { reason } } }] : [],
    },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    const ok = (body: unknown) => Response.json(body);
    if (path === "/api") return ok({ kind: "APIVersions", versions: ["v1"] });
    if (path === "/apis") {
      return ok({
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: Object.keys(GROUPS).filter((gv) => gv.includes("/")).map((gv) => ({
          name: gv.split("/")[0],
          versions: [{ groupVersion: gv, version: "v1" }],
          preferredVersion: { groupVersion: gv, version: "v1" },
        })),
      });
    }
    const gv = path === "/api/v1" ? "v1" : path.startsWith("/apis/") ? path.slice(6) : "";
    if (GROUPS[gv]) return ok({ kind: "APIResourceList", groupVersion: gv, resources: GROUPS[gv] });
    if (path === "/version") return ok({ major: "1", minor: "32", gitVersion: "v1.32.0-standin" });
    requests.push(`${req.method} ${path}`);
    if (path === "/readyz") return new Response("ok");
    if (req.method === "GET" && path === "/api/v1/namespaces/monitoring/pods") {
      polls++;
      const ready = polls >= readyAfter;
      return ok({
        kind: "PodList",
        apiVersion: "v1",
        metadata: {},
        items: [
          pod("monitoring-grafana-7d9", true),
          pod(
            "prometheus-monitoring-kube-prometheus-prometheus-0",
            ready,
            ready ? undefined : "ContainerCreating",
          ),
          pod(
            "monitoring-kube-prometheus-operator-5f6",
            ready,
            ready ? undefined : "ImagePullBackOff",
          ),
        ],
      });
    }
    if (
      req.method === "GET" && path === "/api/v1/namespaces/monitoring/secrets/monitoring-grafana"
    ) {
      return ok({
        kind: "Secret",
        apiVersion: "v1",
        metadata: { name: "monitoring-grafana", namespace: "monitoring" },
        data: { "admin-password": btoa(opts.grafanaPassword ?? "pr0m-0perator-secret") },
      });
    }
    return Response.json({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      code: 404,
      reason: "NotFound",
      message: `stand-in API: ${path} not found`,
    }, { status: 404 });
  });
  const kubeconfig = join(dir, `standin-kubeconfig-${port}`);
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: standin, cluster: {server: "http://127.0.0.1:${port}"}}]
contexts: [{name: standin, context: {cluster: standin, user: u}}]
current-context: standin
users: [{name: u, user: {token: t}}]
`,
  );
  return { requests, kubeconfig, close: () => server.shutdown() };
}

/** Runs `fn` with environment variables set, restoring them afterwards. */
export async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

/** Splits a printed command line back into words (undoing shellQuote's quoting). */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)) {
    words.push(m[1] !== undefined ? m[1].replaceAll(`'\\''`, "'") : m[2]);
  }
  return words;
}
