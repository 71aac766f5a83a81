/**
 * verify (phases 11/12): query rewriting, the catalog's local/cluster split,
 * the trace-shape rule, dashboard extraction, and the checks against a real
 * Prometheus (started alone on a free port, scraping itself) including the
 * CLI's table, fixes and exit status. The full run with apps and traces is
 * in e2e_test.ts.
 */
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { repoPath } from "../scripts/lib/paths.ts";
import { freePorts, stackDown, stackUp } from "../scripts/lib/stack/mod.ts";
import { loadCatalog } from "../scripts/lib/validate/catalog.ts";
import {
  checkCurrentSeries,
  checkTargets,
  checkTraceShape,
  currentSeriesQuery,
  dashboardQueries,
  type JaegerTrace,
  metricSource,
  promQuery,
  promTargets,
  retryReporter,
  runnableQuery,
  runVerify,
} from "../scripts/lib/verify/mod.ts";
import { missing } from "./support.ts";

Deno.test("runnableQuery: template variables match anything, intervals become durations", () => {
  assert.equal(
    runnableQuery(
      'sum(rate(http_requests_total{job="$job", status=~"5.."}[$__rate_interval]))',
      "1m",
    ),
    'sum(rate(http_requests_total{job=~".*", status=~"5.."}[1m]))',
  );
  assert.equal(runnableQuery('up{namespace=~"${namespace}"}'), 'up{namespace=~".*"}');
  assert.equal(runnableQuery('up{job!="$job"}'), 'up{job!~"^$"}');
  assert.equal(runnableQuery("rate(x_total[$__interval])", "2m"), "rate(x_total[2m])");
  assert.equal(runnableQuery('up{job="prometheus"}'), 'up{job="prometheus"}');
});

Deno.test("metricSource: apps, recording rules and local services are local; cluster exporters are not", async () => {
  const catalog = await loadCatalog();
  assert.equal(metricSource("http_requests_total", catalog).local, true);
  assert.equal(metricSource("http_request_duration_seconds_bucket", catalog).local, true);
  assert.equal(metricSource("http_requests:rate5m", catalog).local, true);
  const ksm = catalog.metrics.find((m) => m.exporter === "kube-state-metrics");
  assert.ok(ksm, "the catalog lists kube-state-metrics metrics");
  assert.deepEqual(metricSource(ksm.name, catalog), {
    local: false,
    exporter: "kube-state-metrics",
  });
  const otelcol = catalog.metrics.find((m) => m.exporter?.startsWith("otel-collector"));
  assert.ok(otelcol);
  assert.equal(metricSource(otelcol.name, catalog).local, true);
  // `stack up` runs node-exporter: the node panels and NodeHigh* rules have local data.
  assert.deepEqual(metricSource("node_cpu_seconds_total", catalog), {
    local: true,
    exporter: "node-exporter",
  });
});

function span(
  spanID: string,
  operationName: string,
  parent?: string,
): JaegerTrace["spans"][number] {
  return {
    traceID: "t1",
    spanID,
    operationName,
    startTime: 1,
    processID: "p1",
    references: parent ? [{ refType: "CHILD_OF", traceID: "t1", spanID: parent }] : [],
  };
}

Deno.test("checkTraceShape: root with both children passes; a wrong parent or missing child fails", () => {
  const processes = { p1: { serviceName: "trace-demo-service" } };
  const good: JaegerTrace = {
    traceID: "t1",
    processes,
    spans: [
      span("a", "process_user_request"),
      span("b", "validate_user_action", "a"),
      span("c", "perform_action", "a"),
    ],
  };
  assert.equal(checkTraceShape(good).ok, true);
  const wrongParent: JaegerTrace = {
    ...good,
    spans: [good.spans[0], good.spans[1], span("c", "perform_action", "b")],
  };
  const r = checkTraceShape(wrongParent);
  assert.equal(r.ok, false);
  assert.match(r.detail, /perform_action's parent is b, not a/);
  const missingChild: JaegerTrace = { ...good, spans: good.spans.slice(0, 2) };
  assert.match(checkTraceShape(missingChild).detail, /no perform_action span/);
  const otherService: JaegerTrace = { ...good, processes: { p1: { serviceName: "x" } } };
  assert.match(checkTraceShape(otherService).detail, /service is x/);
});

async function fixtureDashboards(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "obskit-dash-" });
  const dashboard = {
    title: "Fixture",
    panels: [
      { title: "Prometheus up", targets: [{ refId: "A", expr: 'up{job="$job"}' }] },
      {
        title: "Row",
        type: "row",
        panels: [
          { title: "Pods ready", targets: [{ refId: "A", expr: "sum(kube_pod_status_ready)" }] },
          {
            title: "Pull app",
            targets: [{ refId: "A", expr: 'http_requests_total{job="metrics-pull-app"}' }],
          },
        ],
      },
      { title: "Text", type: "text" },
    ],
  };
  await Deno.writeTextFile(join(dir, "fixture.json"), JSON.stringify(dashboard));
  await Deno.writeTextFile(join(dir, "broken.json"), "{not json");
  return dir;
}

Deno.test("dashboardQueries: every panel target, nested rows included; unreadable files skipped", async () => {
  const dir = await fixtureDashboards();
  try {
    const qs = dashboardQueries(dir);
    assert.deepEqual(qs.map((q) => q.panel), ["Prometheus up", "Pods ready", "Pull app"]);
    assert.ok(qs.every((q) => q.dashboard === "Fixture" && q.file === "fixture.json"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dashboardQueries: the repository's dashboards parse", () => {
  for (const q of dashboardQueries(repoPath("dashboards"))) assert.ok(q.expr.trim().length > 0);
});

Deno.test({
  name:
    "verify against a real Prometheus: targets, fixes naming the missing app, cluster-only queries, CLI exit 1",
  ignore: missing("prometheus"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "obskit-verify-" });
    const dashboards = await fixtureDashboards();
    const before = Deno.env.get("OBSKIT_STATE_DIR");
    Deno.env.set("OBSKIT_STATE_DIR", state);
    try {
      const ports = await freePorts();
      await stackUp({
        ports,
        only: ["prometheus"],
        scrapeInterval: "1s",
        progress: { write: () => {} },
      });
      const prometheus = `http://127.0.0.1:${ports.prometheus}`;
      // Wait for Prometheus' first self-scrape.
      const deadline = Date.now() + 20_000;
      let results = await runVerify({
        prometheus,
        jaeger: "http://127.0.0.1:1",
        traces: false,
        dashboardsDir: dashboards,
      });
      while (
        Date.now() < deadline &&
        (results.find((r) => r.check === "target prometheus up")?.status !== "ok" ||
          // Every target scraped at least once (down ones are then "down", not "not scraped yet").
          results.some((r) => /^(not scraped yet|no targets yet)$/.test(r.found)))
      ) {
        await new Promise((r) => setTimeout(r, 500));
        results = await runVerify({
          prometheus,
          jaeger: "http://127.0.0.1:1",
          traces: false,
          dashboardsDir: dashboards,
        });
      }
      const by = (check: string) => results.find((r) => r.check === check)!;
      assert.equal(by("target prometheus up").status, "ok");
      assert.equal(by("target metrics-pull-app up").status, "fail");
      assert.match(by("target metrics-pull-app up").fix!, /is run-pull running\?/);
      // The instrumented app pushes: its series need the collector's exporter target.
      assert.equal(by("instrumented app requests pushed (job platform-app)").status, "fail");
      assert.equal(by("metrics-pull app requests scraped").status, "fail");
      assert.match(
        by("metrics-pull app requests scraped").fix!,
        /^no data for last_over_time\(http_requests_total\{job="metrics-pull-app",instance=~"127\\\\\.0\\\\\.0\\\\\.1:\d+"\}\[1m\]\): is run-pull running\?/,
      );
      assert.equal(by("Fixture / Prometheus up").status, "ok");
      assert.equal(by("Fixture / Pods ready").status, "skip");
      assert.match(by("Fixture / Pods ready").found, /kube-state-metrics/);
      assert.equal(by("Fixture / Pull app").status, "fail");
      assert.equal(by("Fixture / Pull app").found, "no series of http_requests_total");
      assert.match(by("Fixture / Pull app").fix!, /no series of http_requests_total \(our apps\)/);

      // The CLI: table, fixes, exit 1.
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", repoPath("scripts", "verify.ts"), "--metrics-only", "--no-dashboards"],
        env: { OBSKIT_STATE_DIR: state, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 1, text + new TextDecoder().decode(out.stderr));
      assert.match(text, /^\s+check\s+expected\s+found/m);
      assert.match(text, /^ok\s+target prometheus up\s+up\s+up/m);
      assert.match(
        text,
        /no data for last_over_time\(http_requests_total\{job="metrics-pull-app",.*: is run-pull running\?/,
      );
    } finally {
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true });
      await Deno.remove(dashboards, { recursive: true });
    }
  },
});

Deno.test("verify CLI: unreachable services exit 1 with fixes; bad flags exit 2", async () => {
  const run = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", repoPath("scripts", "verify.ts"), ...args],
      env: { NO_COLOR: "1", OBSKIT_STATE_DIR: "/nonexistent-obskit-state" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    };
  };
  const port = (await freePorts()).prometheus;
  const down = await run([
    "--prometheus-url",
    `http://127.0.0.1:${port}`,
    "--jaeger-url",
    `http://127.0.0.1:${port}`,
  ]);
  assert.equal(down.code, 1);
  assert.match(down.text, /FAIL\s+Prometheus API/);
  assert.match(down.text, /is Prometheus running at/);
  assert.match(down.text, /FAIL\s+push demo trace in Jaeger/);
  // --wait (the phase 11 and 12 tasks give one) waits for data, not for a service that is down.
  const started = Date.now();
  const waited = await run([
    "--metrics-only",
    "--wait",
    "60s",
    "--prometheus-url",
    `http://127.0.0.1:${port}`,
  ]);
  assert.equal(waited.code, 1);
  assert.match(waited.text, /is Prometheus running at/);
  assert.ok(
    Date.now() - started < 15_000,
    `an unreachable Prometheus took ${Date.now() - started} ms to report`,
  );
  assert.equal((await run(["--traces-only", "--metrics-only"])).code, 2);
  assert.equal((await run(["--trace-id", "xyz"])).code, 2);
  // A malformed URL is a usage error (one line, exit 2), not "Prometheus is not running".
  for (const args of [["--prometheus-url", "notaurl"], ["--jaeger-url", "ftp://x"]]) {
    const bad = await run(args);
    assert.equal(bad.code, 2, bad.text);
    assert.equal(bad.text.trim().split("\n").length, 1, bad.text);
    assert.match(bad.text, new RegExp(`^error: ${args[0]} must be an http\\(s\\) URL`));
  }
});

Deno.test("currentSeriesQuery: the job's current instances, exact, and samples of the last minute", () => {
  assert.equal(
    currentSeriesQuery("http_requests_total", "instrumented-app", ["127.0.0.1:8000"]),
    'last_over_time(http_requests_total{job="instrumented-app",instance=~"127\\\\.0\\\\.0\\\\.1:8000"}[1m])',
  );
  assert.equal(
    currentSeriesQuery("", "otel-collector", ["a:1", "b:2"], '__name__=~"x_.*"'),
    'last_over_time({job="otel-collector",instance=~"a:1|b:2",__name__=~"x_.*"}[1m])',
  );
  assert.equal(currentSeriesQuery("up", "nope", []), null);
});

Deno.test({
  name:
    "verify after a restart on other ports with the same data folder: only the current target's series count",
  ignore: missing("prometheus"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "obskit-verify-stale-" });
    const before = Deno.env.get("OBSKIT_STATE_DIR");
    Deno.env.set("OBSKIT_STATE_DIR", state);
    const quiet = { write: () => {} };
    const waitFor = async (what: string, cond: () => Promise<boolean>) => {
      const deadline = Date.now() + 30_000;
      while (!(await cond())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    try {
      const first = await freePorts();
      await stackUp({ ports: first, only: ["prometheus"], scrapeInterval: "1s", progress: quiet });
      const promA = `http://127.0.0.1:${first.prometheus}`;
      const series = async (url: string) =>
        await checkCurrentSeries(
          url,
          await promTargets(url),
          "x",
          "prometheus",
          "prometheus_build_info",
          "fix",
        );
      await waitFor(
        "the first run's self-scrape",
        async () => (await series(promA)).status === "ok",
      );
      await stackDown(); // keeps the data folder
      let second = await freePorts();
      while (second.prometheus === first.prometheus) second = await freePorts();
      await stackUp({ ports: second, only: ["prometheus"], scrapeInterval: "1s", progress: quiet });
      const promB = `http://127.0.0.1:${second.prometheus}`;
      const oldInstance = `127.0.0.1:${first.prometheus}`;
      const newInstance = `127.0.0.1:${second.prometheus}`;
      // The earlier run's series are still there (what made verify pass on old data)...
      const raw = await promQuery(promB, 'prometheus_build_info{job="prometheus"}');
      assert.ok(
        raw.some((r) => r.metric.instance === oldInstance),
        `old series visible: ${JSON.stringify(raw)}`,
      );
      // ...but the check looks only at the current target.
      let targets = await promTargets(promB);
      const first2 = await checkCurrentSeries(
        promB,
        targets,
        "x",
        "prometheus",
        "prometheus_build_info",
        "fix",
      );
      // Right after start Prometheus may list no target yet, or one not scraped yet.
      const health = targets.find((t) => t.labels.job === "prometheus")?.health ?? "unknown";
      if (health === "unknown") {
        assert.equal(first2.status, "fail", "not scraped yet: the old series do not count");
        const t = (await checkTargets(promB, ["prometheus"], targets))[0];
        assert.match(t.found, /^(not scraped yet|no targets yet)$/);
        assert.match(t.fix!, /wait .*verify --wait/);
      }
      await waitFor("the second run's self-scrape", async () => {
        targets = await promTargets(promB);
        return targets.some((t) => t.labels.job === "prometheus" && t.health === "up");
      });
      const q = currentSeriesQuery(
        "prometheus_build_info",
        "prometheus",
        targets.filter((t) => t.labels.job === "prometheus").map((t) => t.labels.instance),
      )!;
      await waitFor("current data", async () => (await promQuery(promB, q)).length > 0);
      const current = await promQuery(promB, q);
      assert.deepEqual([...new Set(current.map((r) => r.metric.instance))], [newInstance]);
    } finally {
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true });
    }
  },
});

Deno.test("retryReporter: at most one 'not passing yet' line per 10 s", () => {
  let t = 0;
  const lines: string[] = [];
  const report = retryReporter((l) => lines.push(l), 10_000, () => t);
  for (; t <= 25_000; t += 3000) report(4); // a retry every 3 s for 25 s
  assert.deepEqual(lines.length, 3); // at 0, 12 and 24 s
  assert.equal(lines[0], "… 4 check(s) not passing yet; retrying");
});
