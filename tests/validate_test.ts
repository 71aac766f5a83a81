/**
 * `deno task validate` end to end: the repository passes; a copy of the
 * configs with one injected fault fails (exit 1) with the file and the
 * problem named. Runs the real CLI, promtool and (when built) the collector.
 */
import assert from "node:assert";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForHttp } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import { loadCatalog } from "../scripts/lib/validate/catalog.ts";
import { syncConfigMap } from "../scripts/lib/validate/k8s.ts";
import { IN_CI, missing, TEMP_ENV, YAML_ENV } from "./support.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
const TEMP_YAML_ENV = [...TEMP_ENV, ...YAML_ENV];
/** Runs validate.ts as a subprocess on the repository. */
const cli = { permissions: { net: false, run: true, read: true, write: false } } as const;
/** Copies the configs to a temp folder, injects a fault, runs validate.ts on the copy. */
const fault = { permissions: { ...cli.permissions, write: true, env: TEMP_ENV } } as const;
/** Copies the configs to a temp folder and edits the copy in-process (no subprocess). */
const tempCopy = {
  permissions: { ...unit.permissions, read: true, write: true, env: TEMP_YAML_ENV },
} as const;
/** Reads the catalog, starts both apps on loopback ports and scrapes them. */
const apps = { permissions: { ...cli.permissions, net: true, env: YAML_ENV } } as const;

interface Report {
  class: string;
  name: string;
  status: "pass" | "fail" | "skip";
  reason: string;
  problems: { file: string; line?: number; message: string }[];
}

async function validate(
  args: string[],
): Promise<{ code: number; checks: Report[]; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-env",
      "--allow-read",
      "--allow-write=/tmp",
      "--allow-net=127.0.0.1,localhost",
      repoPath("scripts", "validate.ts"),
      "--json",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  let checks: Report[] = [];
  try {
    checks = JSON.parse(text).checks;
  } catch {
    // usage errors print no JSON
  }
  return { code: out.code, checks, stderr };
}

/** Copies the validated folders to a temp dir; returns its path. */
function copyConfigs(): string {
  const dir = mkdtempSync(join(tmpdir(), "obskit-validate-"));
  for (const d of ["config", "k8s", "rules", "dashboards"]) {
    cpSync(repoPath(d), join(dir, d), { recursive: true });
  }
  return dir;
}

function edit(dir: string, rel: string, from: string | RegExp, to: string): void {
  const path = join(dir, rel);
  const before = readFileSync(path, "utf8");
  const after = before.replace(from, to);
  assert.notStrictEqual(after, before, `fault not injected into ${rel}: ${from}`);
  writeFileSync(path, after);
}

function failed(checks: Report[], name: RegExp): Report {
  const r = checks.find((c) => name.test(c.name));
  assert(r, `no check matching ${name}; have ${checks.map((c) => c.name).join(" | ")}`);
  assert.strictEqual(r.status, "fail", `${r.name} should fail, got ${r.status}: ${r.reason}`);
  return r;
}

async function faultCase(
  cls: string,
  inject: (dir: string) => void,
  check: RegExp,
  file: string,
  problem: RegExp,
): Promise<Report> {
  const dir = copyConfigs();
  try {
    inject(dir);
    const { code, checks, stderr } = await validate(["--root", dir, cls]);
    assert.strictEqual(code, 1, `exit code (stderr: ${stderr})`);
    const r = failed(checks, check);
    const p = r.problems.find((x) => x.file === file && problem.test(x.message));
    assert(p, `${r.name}: expected a problem in ${file} matching ${problem}; got ${r.reason}`);
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

Deno.test({
  name: "validate: the repository passes every check (exit 0)",
  ...cli,
  async fn() {
    const { code, checks, stderr } = await validate([]);
    const bad = checks.filter((c) => c.status === "fail").map((c) => `${c.name}: ${c.reason}`);
    assert.strictEqual(code, 0, `failures: ${bad.join("\n")} ${stderr}`);
    assert(checks.length >= 30, `${checks.length} checks`);
    for (
      const cls of [
        "TestOTELCollector",
        "TestGrafanaDashboard",
        "TestAlertRules",
        "TestInstrumentedApp",
      ]
    ) {
      assert(checks.some((c) => c.class === cls), cls);
    }
    const promtoolTests = checks.find((c) => c.name === "promtool test rules");
    assert.strictEqual(promtoolTests?.status, "pass", "promtool's unit tests ran and passed");
    if (IN_CI) {
      const collector = checks.find((c) => /real collector validates/.test(c.name));
      assert.strictEqual(collector?.status, "pass", "in CI the real collector's validate ran");
    }
  },
});

Deno.test({
  name: "validate: one class runs alone, as the chapter shows",
  ...cli,
  async fn() {
    const { code, checks } = await validate(["TestAlertRules"]);
    assert.strictEqual(code, 0);
    assert(checks.length > 0 && checks.every((c) => c.class === "TestAlertRules"));
  },
});

Deno.test({
  name: "validate: an unknown class is a usage error (exit 2)",
  ...cli,
  async fn() {
    const { code, stderr } = await validate(["TestNope"]);
    assert.strictEqual(code, 2);
    assert.match(stderr, /unknown check class 'TestNope'/);
  },
});

Deno.test({
  name: "validate fault: a pipeline naming an undefined exporter",
  ...fault,
  async fn() {
    const r = await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(
          d,
          "config/otel-collector-config.yaml",
          "exporters: [otlp_grpc/jaeger, debug]",
          "exporters: [otlp_grpc/jaeger, debug, otlp_grpc/tempo]",
        ),
      /every pipeline component is defined/,
      "config/otel-collector-config.yaml",
      /pipeline traces names exporter 'otlp_grpc\/tempo', which is not defined/,
    );
    assert(r.problems.every((p) => p.line && p.line > 1), "problem has a line");
  },
});

Deno.test({
  name: "validate fault: memory_limiter not first",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(
          d,
          "config/otel-collector-config.yaml",
          "processors: [memory_limiter, k8s_attributes, resource_detection, attributes, batch]\n      exporters: [prometheus]",
          "processors: [k8s_attributes, memory_limiter, resource_detection, attributes, batch]\n      exporters: [prometheus]",
        ),
      /memory_limiter first/,
      "config/otel-collector-config.yaml",
      /pipeline metrics: memory_limiter is processor #2, it must be first/,
    );
  },
});

Deno.test({
  name: "validate fault: an alert without severity",
  ...fault,
  async fn() {
    await faultCase(
      "TestAlertRules",
      (d) =>
        edit(
          d,
          "rules/alert-rules.yaml",
          /(- alert: HighErrorRate[\s\S]*?labels:\n)\s+severity: critical\n/,
          "$1",
        ),
      /every alert carries a severity label/,
      "rules/alert-rules.yaml",
      /alert HighErrorRate has no severity label/,
    );
  },
});

Deno.test({
  name: "validate fault: a PromQL syntax error in a panel",
  ...fault,
  async fn() {
    await faultCase(
      "TestGrafanaDashboard",
      (d) =>
        edit(
          d,
          "dashboards/grafana-dashboard-platform.json",
          '"expr": "sum by (job, endpoint) (http_requests:rate5m{job=~\\"$job\\"})"',
          '"expr": "sum by (job, endpoint) (http_requests:rate5m{job=~\\"$job\\"}"',
        ),
      /every panel's PromQL parses/,
      "dashboards/grafana-dashboard-platform.json",
      /panel 'Request Volume': PromQL syntax error/,
    );
  },
});

Deno.test({
  name: "validate fault: a panel querying a metric nobody emits",
  ...fault,
  async fn() {
    await faultCase(
      "TestGrafanaDashboard",
      (d) =>
        edit(
          d,
          "dashboards/grafana-dashboard-platform.json",
          'sum by (result) (rate(cache_requests_total{job=~\\"$job\\"}',
          'sum by (result) (rate(cache_lookups_total{job=~\\"$job\\"}',
        ),
      /every metric a panel queries/,
      "dashboards/grafana-dashboard-platform.json",
      /panel 'Cache Efficiency' queries cache_lookups_total, which no app emits/,
    );
  },
});

Deno.test({
  name: "validate fault: the ConfigMap drifted from the config file",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(d, "k8s/otel-collector-deployment.yaml", "    limit_mib: 400", "    limit_mib: 450"),
      /ConfigMap carries the collector config/,
      "k8s/otel-collector-deployment.yaml",
      /ConfigMap otel-collector-config has drifted from config\/otel-collector-config.yaml/,
    );
  },
});

Deno.test({
  name: "validate fault: the DaemonSet image tag differs from the pin",
  ...fault,
  async fn() {
    const pin = /^\s+version: (\S+)$/m.exec(
      readFileSync(repoPath("config", "otelcol-builder.yaml"), "utf8"),
    )![1];
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(
          d,
          "k8s/otel-collector-deployment.yaml",
          `otel/opentelemetry-collector-contrib:${pin}`,
          "otel/opentelemetry-collector-contrib:0.99.0",
        ),
      /DaemonSet image tag equals the collector pin/,
      "k8s/otel-collector-deployment.yaml",
      new RegExp(`has tag 0\\.99\\.0, the collector pin is ${pin.replaceAll(".", "\\.")}`),
    );
  },
});

Deno.test({
  name: "validate fault: a YAML syntax error is reported with file:line",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(
          d,
          "config/otel-collector-config.yaml",
          "  memory_limiter:\n",
          "  memory_limiter: [\n",
        ),
      /collector configs are valid YAML/,
      "config/otel-collector-config.yaml",
      /^YAML: /,
    );
  },
});

Deno.test({
  name: "validate fault: a manifest field of the wrong type fails the Kubernetes schema",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(d, "k8s/otel-collector-deployment.yaml", "containerPort: 4317", "containerPort: otlp"),
      /Kubernetes schemas/,
      "k8s/otel-collector-deployment.yaml",
      /DaemonSet otel-collector: .*containerPort: must be integer/,
    );
  },
});

Deno.test({
  name: "validate fault: an unknown dashboard property fails Grafana's schema",
  ...fault,
  async fn() {
    await faultCase(
      "TestGrafanaDashboard",
      (d) =>
        edit(
          d,
          "dashboards/grafana-dashboard-platform.json",
          '"gridPos": {',
          '"gridPosition": 1, "gridPos": {',
        ),
      /Grafana's dashboard schema/,
      "dashboards/grafana-dashboard-platform.json",
      /unknown property 'gridPosition'/,
    );
  },
});

Deno.test({
  name: "validate fault: a promtool unit test that no longer holds",
  ignore: missing("promtool"),
  ...fault,
  async fn() {
    await faultCase(
      "TestAlertRules",
      (d) => edit(d, "rules/alert-rules.yaml", /(alert: HighErrorRate[\s\S]*?)> 0\.05/, "$1> 0.06"),
      /promtool test rules/,
      "rules/alert-rules.test.yaml",
      /HighErrorRate/,
    );
  },
});

Deno.test({
  name: "validate fault: the real collector rejects an unknown config field",
  ignore: missing("otelcol-obskit"),
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(
          d,
          "config/otel-collector-config.yaml",
          "    check_interval: 1s",
          "    check_intervall: 1s",
        ),
      /real collector validates/,
      "config/otel-collector-config.yaml",
      /otelcol-obskit validate: .*check_intervall/,
    );
  },
});

Deno.test({
  name: "validate --sync-configmap logic restores a drifted ConfigMap byte for byte",
  ...tempCopy,
  fn() {
    const dir = copyConfigs();
    try {
      const manifest = "k8s/otel-collector-deployment.yaml";
      edit(dir, manifest, "    limit_mib: 400", "    limit_mib: 450");
      assert.strictEqual(syncConfigMap(dir), true);
      assert.strictEqual(
        readFileSync(join(dir, manifest), "utf8"),
        readFileSync(repoPath(manifest), "utf8"),
      );
      assert.strictEqual(syncConfigMap(dir), false, "second sync changes nothing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
});

/** Starts an app on a free loopback port; returns its base URL and a stopper. */
async function startApp(script: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", repoPath("apps", script), "--port", String(port), "--host", "127.0.0.1"],
    // No collector here: OTLP export goes to a closed port and is dropped.
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${freePort()}`, LOG_LEVEL: "ERROR" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/health`, 30_000);
  } catch (err) {
    child.kill("SIGKILL");
    await child.status;
    throw err;
  }
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

function exposedFamilies(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
}

Deno.test({
  name: "catalog: every metric listed as emitted by prom-client is exposed by the apps",
  ...apps,
  async fn() {
    const catalog = await loadCatalog();
    const promClient = catalog.emitted.filter((e) => /prom-client/.test(e.source ?? ""));
    assert(promClient.length >= 8);
    const app = await startApp("instrument_app.ts");
    const pull = await startApp("metrics_pull.ts");
    try {
      for (const path of ["/api/data", "/api/admin", "/nope", "/health"]) {
        await (await fetch(`${app.url}${path}`)).body?.cancel();
      }
      await (await fetch(`${pull.url}/api/items`)).body?.cancel();
      const appFamilies = exposedFamilies(await (await fetch(`${app.url}/metrics`)).text());
      const pullFamilies = exposedFamilies(await (await fetch(`${pull.url}/metrics`)).text());
      for (const e of promClient) {
        assert(appFamilies.has(e.name), `instrumented app exposes ${e.name}`);
        if (/metrics-pull-app/.test(e.source ?? "")) {
          assert(pullFamilies.has(e.name), `metrics-pull app exposes ${e.name}`);
        }
      }
    } finally {
      await app.stop();
      await pull.stop();
    }
  },
});

Deno.test({
  name: "validate fault: a deprecated component alias (otlp for otlp_grpc)",
  ignore: missing("otelcol-obskit"),
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) => {
        const f = "config/otel-collector-config.yaml";
        writeFileSync(
          join(d, f),
          readFileSync(join(d, f), "utf8").replaceAll("otlp_grpc/jaeger", "otlp/jaeger"),
        );
      },
      /real collector validates/,
      "config/otel-collector-config.yaml",
      /exporter type 'otlp' is not a canonical name/,
    );
  },
});

Deno.test({
  name: "validate fault: a metric listed twice in the catalog",
  ...fault,
  async fn() {
    await faultCase(
      "TestAlertRules",
      (d) =>
        writeFileSync(
          join(d, "config/metric-catalog.yaml"),
          readFileSync(join(d, "config/metric-catalog.yaml"), "utf8") +
            "  - name: node_load1\n    type: gauge\n    exporter: node-exporter\n    help: again.\n",
        ),
      /metric catalog is well formed/,
      "config/metric-catalog.yaml",
      /node_load1 is listed twice/,
    );
  },
});

Deno.test({
  name: "validate fault: a misspelt manifest field (what kubectl --validate=strict rejects)",
  ...fault,
  async fn() {
    const r = await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(
          d,
          "k8s/otel-collector-deployment.yaml",
          "            initialDelaySeconds: 30",
          "            initialDelaySecond: 30",
        ),
      /Kubernetes schemas/,
      "k8s/otel-collector-deployment.yaml",
      /DaemonSet otel-collector: unknown field 'initialDelaySecond' at \/spec\/template\/spec\/containers\/0\/livenessProbe/,
    );
    const p = r.problems.find((x) => /initialDelaySecond/.test(x.message))!;
    const lines = readFileSync(repoPath("k8s", "otel-collector-deployment.yaml"), "utf8").split(
      "\n",
    );
    assert.match(lines[p.line! - 1], /initialDelaySeconds: 30/, "the line points at the field");
  },
});

Deno.test({
  name: "validate fault: a panel query Prometheus rejects (rate of an instant vector)",
  ignore: missing("promtool"),
  ...fault,
  async fn() {
    await faultCase(
      "TestGrafanaDashboard",
      (d) =>
        edit(
          d,
          "dashboards/grafana-dashboard-platform.json",
          'sum by (result) (rate(cache_requests_total{job=~\\"$job\\"}[$__rate_interval]))',
          'sum by (result) (rate(cache_requests_total{job=~\\"$job\\"}))',
        ),
      /accepted by Prometheus/,
      "dashboards/grafana-dashboard-platform.json",
      /panel 'Cache Efficiency': Prometheus rejects the query: .*expected type range vector/,
    );
  },
});

Deno.test({
  name: "validate fault: an alert linking to a dashboard that does not exist",
  ...fault,
  async fn() {
    await faultCase(
      "TestAlertRules",
      (d) => edit(d, "rules/alert-rules.yaml", "/d/obskit-security", "/d/security-dashboard"),
      /alert dashboard links/,
      "rules/alert-rules.yaml",
      /alert CVEDetected links to dashboard 'security-dashboard', which no dashboards\/\*\.json has as uid/,
    );
  },
});

// --- issue 11: Jaeger, monitors and k8s_attributes RBAC --------------------------

Deno.test({
  name: "validate fault (issue 11): the Jaeger image is not the v2 release of the built module",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(d, "k8s/jaeger.yaml", "jaegertracing/jaeger:2.13.0", "jaegertracing/jaeger:latest"),
      /^Jaeger: /,
      "k8s/jaeger.yaml",
      /image jaegertracing\/jaeger:latest is not jaegertracing\/jaeger:2\.13\.0, the v2 release of the Jaeger module the tools build \(v1\.76\.0\)/,
    );
  },
});

Deno.test({
  name: "validate fault (issue 11): Jaeger with a writable root filesystem",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(d, "k8s/jaeger.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
      /^Jaeger: /,
      "k8s/jaeger.yaml",
      /container jaeger: readOnlyRootFilesystem is not true/,
    );
  },
});

Deno.test({
  name: "validate fault (issue 11): the real jaeger rejects an unknown field in its ConfigMap",
  ignore: missing("jaeger"),
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) => edit(d, "k8s/jaeger.yaml", "max_traces: 20000", "max_tracez: 20000"),
      /^Jaeger: /,
      "k8s/jaeger.yaml",
      /jaeger validate: .*max_tracez/,
    );
  },
});

Deno.test({
  name:
    "validate fault (issue 11): the ServiceMonitor scrapes the exporter without honorLabels (every app would be job=otel-collector)",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) => edit(d, "k8s/monitors.yaml", "      honorLabels: true\n", ""),
      /ServiceMonitor and PodMonitor/,
      "k8s/monitors.yaml",
      /port prom-exporter is the collector's Prometheus exporter \(8889\); without honorLabels: true/,
    );
  },
});

Deno.test({
  name:
    "validate fault (issue 11): a monitor without release: monitoring (the chart's Prometheus would ignore it)",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(d, "k8s/monitors.yaml", /(kind: PodMonitor[\s\S]*?) {4}release: monitoring\n/, "$1"),
      /ServiceMonitor and PodMonitor/,
      "k8s/monitors.yaml",
      /PodMonitor obskit-pull-apps lacks the label release: monitoring/,
    );
  },
});

Deno.test({
  name:
    "validate fault (issue 11): a ServiceMonitor field of the wrong type fails the operator's schema",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) => edit(d, "k8s/monitors.yaml", "honorLabels: true", 'honorLabels: "yes"'),
      /k8s manifests validate/,
      "k8s/monitors.yaml",
      /ServiceMonitor otel-collector: .*honorLabels/,
    );
  },
});

Deno.test({
  name: "validate fault (issue 11): the ClusterRole lacks what k8s_attributes needs",
  ...fault,
  async fn() {
    await faultCase(
      "TestOTELCollector",
      (d) =>
        edit(
          d,
          "k8s/otel-collector-deployment.yaml",
          'verbs: ["get", "list", "watch"]',
          'verbs: ["list", "watch"]',
        ),
      /ClusterRole grants only what/,
      "k8s/otel-collector-deployment.yaml",
      /ClusterRole lacks 'get' on pods, which the config needs/,
    );
  },
});
