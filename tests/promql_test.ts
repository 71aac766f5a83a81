import assert, { deepStrictEqual, strictEqual as assertEquals } from "node:assert";
import {
  analyzePromQL,
  inFamilies,
  promqlErrors,
  referencedMetrics,
  substituteGrafanaVariables,
  unknownMetrics,
} from "../scripts/lib/promql.ts";
import { knownFamilies, loadCatalog, parseCatalog } from "../scripts/lib/validate/catalog.ts";
import { YAML_ENV } from "./support.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
/** Unit tests that parse YAML (and read the repository's catalog). */
const yamlUnit = { permissions: { net: false, run: false, write: false, env: YAML_ENV } } as const;
const readsRepo = { permissions: { ...yamlUnit.permissions, read: true } } as const;

Deno.test({
  name: "promql: a valid expression has no errors and names its metrics",
  ...unit,
  fn() {
    const a = analyzePromQL(
      'sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))',
    );
    assertEquals(a.errors.length, 0);
    deepStrictEqual(a.metrics, ["http_requests_total"]);
  },
});

Deno.test({
  name: "promql: syntax errors carry offset, line and column",
  ...unit,
  fn() {
    const errs = promqlErrors("sum(rate(foo[5m]) by (le)");
    assert(errs.length > 0, "unbalanced parenthesis must be an error");
    assertEquals(errs[0].line, 1);
    assertEquals(errs[0].column, errs[0].offset + 1);
    const multi = promqlErrors("sum(\n  rate(foo[5m])\n  ) )");
    assert(multi.length > 0);
    assertEquals(multi[0].line, 3);
  },
});

Deno.test({
  name: "promql: an unterminated expression is reported once per position",
  ...unit,
  fn() {
    const errs = promqlErrors("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m");
    assert(errs.length >= 1);
    assertEquals(new Set(errs.map((e) => e.offset)).size, errs.length);
    assert(errs.some((e) => e.message === "unexpected end of expression"));
  },
});

Deno.test({
  name: "promql: empty expression is an error",
  ...unit,
  fn() {
    assertEquals(promqlErrors("   ")[0].message, "empty expression");
  },
});

Deno.test({
  name: "promql: metric names come from selectors, not labels or functions",
  ...unit,
  fn() {
    deepStrictEqual(
      referencedMetrics(
        'histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket{job="rate"}[5m]))) > on (job) group_left up',
      ),
      ["http_request_duration_seconds_bucket", "up"],
    );
    deepStrictEqual(referencedMetrics('{__name__="node_load1", instance="a"}'), ["node_load1"]);
    // A regex on __name__ names no single metric.
    deepStrictEqual(referencedMetrics('{__name__=~"node_.*"}'), []);
    deepStrictEqual(referencedMetrics("http_requests:rate5m * 2"), ["http_requests:rate5m"]);
  },
});

Deno.test({
  name: "promql: Grafana variables are substituted outside strings only",
  ...unit,
  fn() {
    assertEquals(
      substituteGrafanaVariables('rate(x{job=~"$job"}[$__rate_interval]) / ${__range_s}'),
      'rate(x{job=~"$job"}[5m]) / 21600',
    );
    assertEquals(substituteGrafanaVariables("rate(x[[[interval]]])"), "rate(x[5m])");
    const a = analyzePromQL('sum(rate(x{ns="${namespace:regex}"}[$__interval]))', {
      grafana: true,
    });
    assertEquals(a.errors.length, 0);
    // Without substitution the same text is not PromQL.
    assert(promqlErrors("rate(x[$__interval])").length > 0);
  },
});

Deno.test({
  name: "promql: histogram series belong to their family; recordings are excluded",
  ...unit,
  fn() {
    const fam = new Set(["http_request_duration_seconds", "up"]);
    assert(inFamilies("http_request_duration_seconds_bucket", fam));
    assert(inFamilies("http_request_duration_seconds_count", fam));
    assert(!inFamilies("http_request_duration_bucket", fam));
    deepStrictEqual(
      unknownMetrics(
        ["up", "http_request_duration_seconds_sum", "http_latency:p99", "nope_total"],
        fam,
        new Set(["http_latency:p99"]),
      ),
      ["nope_total"],
    );
  },
});

Deno.test({
  name: "catalog: the shipped catalog parses, separates emitted from exporter metrics",
  ...readsRepo,
  async fn() {
    const c = await loadCatalog();
    assert(c.emitted.some((e) => e.name === "http_requests_total"));
    assert(c.metrics.length >= 50, `catalog is broad (${c.metrics.length})`);
    for (const e of c.metrics) assert(e.exporter, `${e.name} names its exporter`);
    const names = [...c.emitted, ...c.metrics].map((e) => e.name);
    assertEquals(new Set(names).size, names.length, "no duplicate names");
    const known = knownFamilies(c);
    for (
      const m of [
        "kube_pod_container_status_restarts_total",
        "node_cpu_seconds_total",
        "container_memory_working_set_bytes",
        "kubelet_volume_stats_used_bytes",
        "otelcol_exporter_send_failed_spans_total",
        "trivy_image_vulnerabilities",
      ]
    ) assert(known.has(m), m);
  },
});

Deno.test({
  name: "catalog: an entry without exporter is rejected with the file named",
  ...yamlUnit,
  fn() {
    let msg = "";
    try {
      parseCatalog("metrics:\n  - name: foo\n    type: gauge\n", "x.yaml");
    } catch (err) {
      msg = (err as Error).message;
    }
    assert(msg.includes("x.yaml") && msg.includes("foo") && msg.includes("exporter"), msg);
  },
});
