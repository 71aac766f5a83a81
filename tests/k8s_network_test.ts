/**
 * The collector's network surface in k8s/otel-collector-deployment.yaml:
 * who may reach which port (ingress), where the collector may connect
 * (egress), and no hostPort opening a node port by default.
 */
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { repoPath } from "../scripts/lib/paths.ts";
import { YAML_ENV } from "./support.ts";

const readsRepo = { permissions: { read: true, env: YAML_ENV } } as const;

/** Label that opts an application namespace into sending telemetry (and being scraped). */
const TELEMETRY_LABEL = "obskit.io/telemetry";

interface Peer {
  namespaceSelector?: { matchLabels?: Record<string, string> };
  podSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: { cidr: string };
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: { port: number; protocol?: string }[];
}

// deno-lint-ignore no-explicit-any
function manifest(): any[] {
  const text = readFileSync(repoPath("k8s", "otel-collector-deployment.yaml"), "utf8");
  return parseAllDocuments(text).map((d) => d.toJS()).filter(Boolean);
}

function policy(): { policyTypes: string[]; ingress: Rule[]; egress?: Rule[] } {
  const np = manifest().find((d) => d.kind === "NetworkPolicy");
  assert.ok(np, "the collector has a NetworkPolicy");
  return np.spec;
}

const admits = (rule: Rule, port: number, protocol = "TCP") =>
  !rule.ports ||
  rule.ports.some((p) => p.port === port && (p.protocol ?? "TCP") === protocol);

const namespaces = (rule: Rule, side: "from" | "to") =>
  (rule[side] ?? []).map((p) => p.namespaceSelector?.matchLabels ?? {});

Deno.test({
  name:
    "collector ingress: receivers only from telemetry namespaces, scrape ports only from monitoring",
  ...readsRepo,
  fn() {
    const { ingress } = policy();
    for (const port of [4317, 4318, 14250, 14268, 5514]) {
      const rules = ingress.filter((r) => admits(r, port));
      assert.ok(rules.length > 0, `port ${port} is admitted`);
      for (const r of rules) {
        assert.ok(r.from?.length, `port ${port} is not open to every source`);
        for (const labels of namespaces(r, "from")) {
          assert.equal(
            labels[TELEMETRY_LABEL],
            "enabled",
            `port ${port} from ${JSON.stringify(labels)}`,
          );
        }
      }
    }
    for (const port of [8888, 8889]) {
      const rules = ingress.filter((r) => admits(r, port));
      assert.ok(rules.length > 0, `port ${port} is admitted`);
      for (const r of rules) {
        assert.deepEqual(namespaces(r, "from"), [{ "kubernetes.io/metadata.name": "monitoring" }]);
      }
    }
  },
});

Deno.test({
  name: "collector egress: DNS, the trace backend and the API server, not everything",
  ...readsRepo,
  fn() {
    const spec = policy();
    assert.ok(spec.policyTypes.includes("Egress"), "policyTypes includes Egress");
    const egress = spec.egress ?? [];
    const dns = egress.filter((r) => admits(r, 53, "UDP") && admits(r, 53, "TCP"));
    assert.ok(
      dns.some((r) =>
        r.to?.some((p) =>
          p.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === "kube-system"
        )
      ),
      "DNS (53 UDP and TCP) to kube-system",
    );
    assert.ok(
      egress.some((r) =>
        r.ports?.some((p) => p.port === 4317) &&
        namespaces(r, "to").some((l) => l["kubernetes.io/metadata.name"] === "observability")
      ),
      "OTLP/gRPC 4317 to the observability namespace (jaeger-collector)",
    );
    for (const port of [443, 6443]) {
      assert.ok(egress.some((r) => r.ports?.some((p) => p.port === port)), `API server ${port}`);
    }
    // A rule with neither ports nor peers would allow all egress.
    for (const r of egress) assert.ok(r.ports || r.to, "no allow-all egress rule");
  },
});

Deno.test({
  name: "collector DaemonSet opens no hostPort by default (syslog's is opt-in)",
  ...readsRepo,
  fn() {
    const ds = manifest().find((d) => d.kind === "DaemonSet");
    for (const c of ds.spec.template.spec.containers) {
      for (const p of c.ports ?? []) {
        assert.equal(p.hostPort, undefined, `${c.name} port ${p.name} has hostPort ${p.hostPort}`);
      }
    }
  },
});

Deno.test({
  name:
    "collector egress (issue 11): no Loki gateway (no phase deploys Loki), no pod scraping (Prometheus scrapes the apps)",
  ...readsRepo,
  fn() {
    const egress = policy().egress ?? [];
    for (const r of egress) {
      for (const labels of namespaces(r, "to")) {
        assert.notEqual(
          labels["kubernetes.io/metadata.name"],
          "monitoring",
          "no egress to monitoring",
        );
        assert.equal(labels[TELEMETRY_LABEL], undefined, "no egress to the apps' namespaces");
      }
      for (const port of [80, 8080]) assert.ok(!r.ports?.some((p) => p.port === port), `${port}`);
    }
  },
});

Deno.test({
  name:
    "collector RBAC (issue 11): get/list/watch on pods for k8s_attributes, nothing more (no pod discovery job any more)",
  ...readsRepo,
  fn() {
    const role = manifest().find((d) => d.kind === "ClusterRole");
    assert.deepEqual(role.rules, [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
    ]);
  },
});
