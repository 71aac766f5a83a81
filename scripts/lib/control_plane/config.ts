/**
 * The control plane's configuration as plain data: command lines of etcd and
 * kube-apiserver, the kubeconfig, the token file and the namespaces. No I/O,
 * so tests can read exactly what `up` runs.
 */

/** The namespaces the phases expect: phase 0 (helm --create-namespace) makes `monitoring`,
 * phase 1's manifest makes `observability`; neither can run here, so `up` makes both. */
export const NAMESPACES = ["monitoring", "observability"];

/** Default ports, as on a kubeadm node; a busy default is replaced by a free port. */
export const DEFAULT_PORTS = { apiserver: 6443, etcd: 2379, etcdPeer: 2380 };

export const CONTEXT = "obskit-control-plane";
export const ADMIN_USER = "obskit-admin";

export interface Ports {
  apiserver: number;
  etcd: number;
  etcdPeer: number;
}

export interface Layout {
  /** The control plane's folder under the state folder. */
  dir: string;
  etcdData: string;
  /** kube-apiserver writes its self-signed serving certificate here. */
  certDir: string;
  tokenFile: string;
  saKey: string;
  saPub: string;
  kubeconfig: string;
  stateFile: string;
  logDir: string;
}

export function layout(dir: string): Layout {
  return {
    dir,
    etcdData: `${dir}/etcd`,
    certDir: `${dir}/pki/serving`,
    tokenFile: `${dir}/pki/tokens.csv`,
    saKey: `${dir}/pki/sa.key`,
    saPub: `${dir}/pki/sa.pub`,
    kubeconfig: `${dir}/kubeconfig`,
    stateFile: `${dir}/state.json`,
    logDir: `${dir}/logs`,
  };
}

export function etcdArgs(l: Layout, p: Ports): string[] {
  const client = `http://127.0.0.1:${p.etcd}`;
  const peer = `http://127.0.0.1:${p.etcdPeer}`;
  return [
    "--name=obskit",
    `--data-dir=${l.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=obskit=${peer}`,
    // etcd 3.4 warns that its default "capnslog" logger is deprecated; zap logs to the log file.
    "--logger=zap",
    "--log-outputs=stderr",
  ];
}

export function apiserverArgs(l: Layout, p: Ports): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${p.etcd}`,
    // Loopback only: nothing outside this machine reaches it.
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    // The `kubernetes` Service's endpoints may not be loopback, and no pod would use them here.
    "--endpoint-reconciler-type=none",
    `--secure-port=${p.apiserver}`,
    // No --tls-cert-file: kube-apiserver generates a self-signed pair here.
    `--cert-dir=${l.certDir}`,
    `--token-auth-file=${l.tokenFile}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${l.saPub}`,
    `--service-account-signing-key-file=${l.saKey}`,
    "--service-cluster-ip-range=10.96.0.0/16",
    // Collector DaemonSets may ask for host ports/paths; validation, not a kubelet, judges them.
    "--allow-privileged=true",
    "--profiling=false",
  ];
}

/** kube-apiserver's static token file: token,user,uid,"groups". */
export function tokenFileText(token: string): string {
  return `${token},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`;
}

export function kubeconfigText(l: Layout, p: Ports, token: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${CONTEXT}`,
    "  cluster:",
    `    server: https://127.0.0.1:${p.apiserver}`,
    `    certificate-authority: ${l.certDir}/apiserver.crt`,
    "users:",
    `- name: ${ADMIN_USER}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    `- name: ${CONTEXT}`,
    "  context:",
    `    cluster: ${CONTEXT}`,
    `    user: ${ADMIN_USER}`,
    `current-context: ${CONTEXT}`,
    "",
  ].join("\n");
}

export function namespacesYaml(names: string[] = NAMESPACES): string {
  return names.map((n) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${n}\n`).join(
    "---\n",
  );
}

// ---------------------------------------------------------------------------
// --simulate-nodes: real controllers and scheduler, kwok in place of kubelets

/** The Node kwok manages: the annotation is its selector, the labels what DaemonSets look for. */
export const SIM_NODE = "kwok-node-0";
const KWOK_SELECTOR = "kwok.x-k8s.io/node=fake";

export function nodeYaml(name = SIM_NODE): string {
  return [
    "apiVersion: v1",
    "kind: Node",
    "metadata:",
    `  name: ${name}`,
    "  annotations:",
    "    kwok.x-k8s.io/node: fake",
    '    node.alpha.kubernetes.io/ttl: "0"',
    "  labels:",
    `    kubernetes.io/hostname: ${name}`,
    "    kubernetes.io/os: linux",
    "    kubernetes.io/arch: amd64",
    "    type: kwok",
    "spec: {}",
    "",
  ].join("\n");
}

/** Serving flags shared by the controller-manager and the scheduler: loopback, our kubeconfig. */
function componentServing(l: Layout, port: number): string[] {
  return [
    `--kubeconfig=${l.kubeconfig}`,
    `--authentication-kubeconfig=${l.kubeconfig}`,
    `--authorization-kubeconfig=${l.kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    // One instance of each: no election to wait for.
    "--leader-elect=false",
  ];
}

export function controllerManagerArgs(l: Layout, port: number): string[] {
  return [
    ...componentServing(l, port),
    `--service-account-private-key-file=${l.saKey}`,
    `--root-ca-file=${l.certDir}/apiserver.crt`,
    "--controllers=*",
  ];
}

export function schedulerArgs(l: Layout, port: number): string[] {
  return componentServing(l, port);
}

/**
 * kwok's configuration: its options stated (a config file's options are not
 * defaulted: a missing lease parallelism is a start-up error), then the
 * stages its module ships (node initialize + lease heartbeat, pod ready /
 * complete / delete). Its own file, so a reader's ~/.kwok is never read.
 */
export function kwokConfigText(stages: string): string {
  return [
    "apiVersion: config.kwok.x-k8s.io/v1alpha1",
    "kind: KwokConfiguration",
    "options:",
    "  nodeLeaseDurationSeconds: 40",
    "  nodeLeaseParallelism: 4",
    "  nodePlayStageParallelism: 4",
    "  podPlayStageParallelism: 4",
    "  podsOnNodeSyncParallelism: 1",
    "---",
    stages.trim(),
    "",
  ].join("\n");
}

export function kwokArgs(l: Layout, port: number): string[] {
  return [
    `--kubeconfig=${l.kubeconfig}`,
    `--config=${l.dir}/kwok.yaml`,
    `--manage-nodes-with-annotation-selector=${KWOK_SELECTOR}`,
    "--node-ip=127.0.0.1",
    `--server-address=127.0.0.1:${port}`,
    "--cidr=10.244.0.0/24",
  ];
}
