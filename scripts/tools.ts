/**
 * `deno task tools`: install the pinned real components (collector built
 * with ocb, Jaeger v2, Prometheus/promtool/Alertmanager) into the tools
 * folder; with --k8s also a real control plane's programs (kube-apiserver,
 * kubectl, etcd) and the prometheus-operator CRDs; with --bench oha (cargo).
 * Idempotent; the logic is in scripts/lib/tools/mod.ts.
 */
import { parseFlags, runMain } from "./lib/cli.ts";
import { toolsDir } from "./lib/paths.ts";
import { formatElapsed } from "./lib/spinner.ts";
import {
  COLD_BUILD,
  COMPONENT_GROUPS,
  CONTROLLER_TOOLS_VERSION,
  installTools,
  KUBERNETES_VERSION,
  KWOK_VERSION,
  OHA_MIN_RUST,
  OHA_VERSION,
  PROMETHEUS_OPERATOR_VERSION,
  toolsTable,
} from "./lib/tools/mod.ts";

const spec = {
  name: "tools",
  summary:
    "Install the pinned real components (OpenTelemetry Collector via ocb, Jaeger v2, Sloth, VictoriaLogs, Prometheus, promtool, Alertmanager, node-exporter).",
  usage:
    "[--force] [--k8s] [--bench] [--only collector,jaeger,sloth,victorialogs,debian,k8s,bench]",
  flags: {
    force: { type: "boolean" as const, description: "rebuild even when already up to date" },
    k8s: {
      type: "boolean" as const,
      description:
        "also build kube-apiserver and kubectl, install etcd, generate the CRDs (deno task control-plane)",
    },
    bench: {
      type: "boolean" as const,
      description:
        `also build oha ${OHA_VERSION} with cargo (the load generator of deno task bench's latency case)`,
    },
    only: {
      type: "string" as const,
      description: `comma-separated subset of: ${COMPONENT_GROUPS.join(", ")}`,
      valueName: "list",
    },
  },
  epilog: [
    "Environment:",
    "  OBSKIT_TOOLS_DIR  where to install (default: .tools in the repository); binaries go to <dir>/bin",
    "",
    "Needs Go >= 1.26 on PATH to build the collector and Jaeger (a newer toolchain named by a",
    "module's go line is fetched through the Go module proxy). Prometheus and Alertmanager come",
    "from the Debian packages prometheus and prometheus-alertmanager (apt-get when run as root).",
    "A second run only checks the stamps and prints the table.",
    "",
    `A first run builds with empty Go caches: the collector (${COLD_BUILD.collector}) and Jaeger`,
    `(${COLD_BUILD.jaeger}) are the long ones. Each Go build says up front how many packages it`,
    "will compile (go list -deps) and shows them compiled of the total (go build -v) with an",
    "estimate of the time left; in a log, one line per 10 %.",
    "",
    `--bench (the 'bench' group, not in the default set): oha ${OHA_VERSION} with`,
    `'cargo install oha --locked' (Rust >= ${OHA_MIN_RUST}; ${COLD_BUILD.oha}).`,
    "",
    "--k8s (the 'k8s' group, not in the default set): kube-apiserver, kubectl,",
    `kube-controller-manager and kube-scheduler ${KUBERNETES_VERSION} built from the Go module`,
    `proxy, kwok ${KWOK_VERSION}, etcd from the Debian package etcd-server, controller-gen`,
    `${CONTROLLER_TOOLS_VERSION} and the PrometheusRule/ServiceMonitor/PodMonitor CRDs generated`,
    `from prometheus-operator ${PROMETHEUS_OPERATOR_VERSION}'s API types into <dir>/crds. With`,
    "empty Go caches this took 12 minutes on 2 cores; afterwards a run only checks the stamps.",
  ].join("\n"),
};

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<
      { force?: boolean; k8s?: boolean; bench?: boolean; only?: string }
    >(
      spec,
    );
    const started = performance.now();
    console.error(`tools folder: ${toolsDir()}`);
    const rows = await installTools({
      force: flags.force,
      k8s: flags.k8s,
      bench: flags.bench,
      only: flags.only?.split(",").map((s) => s.trim()).filter(Boolean),
    });
    console.log(toolsTable(rows));
    console.error(`done in ${formatElapsed(performance.now() - started)}`);
  });
}
