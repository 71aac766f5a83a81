import { strict as assert } from "node:assert";
import { join } from "node:path";
import { UsageError } from "../scripts/lib/cli.ts";
import {
  buildPolicy,
  type CheckRow,
  formatMatchers,
  formatTable,
  gateQueries,
  judge,
  overall,
  parseMatchers,
  parsePolicyFile,
  queryScalar,
  runGate,
} from "../scripts/lib/gate/mod.ts";
import { freePorts, stackDown, stackUp } from "../scripts/lib/stack/mod.ts";
import { pathsMix, runLoad, type TrafficMix } from "../scripts/lib/load/mod.ts";
import { spawnInstrumentedApp, startPrometheus } from "../scripts/lib/load/load_target.ts";
import { freePort } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import { analyzePromQL } from "../scripts/lib/promql.ts";
import { findTool, missing, runScript, YAML_ENV } from "./support.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
/** Reads and parses the repository's gate policy (YAML). */
const readsPolicy = { permissions: { ...unit.permissions, read: true, env: YAML_ENV } } as const;
/** Picks a free loopback port and runs gate.ts as a subprocess against it. */
const cli = { permissions: { net: true, run: true, read: true, write: false } } as const;
/** A real Prometheus (and the app, the collector) on loopback ports. */
const realPrometheus = {
  permissions: { net: true, run: true, read: true, env: true, write: true },
} as const;

// ---------------------------------------------------------------- unit tests

Deno.test({
  name: "gate: label matchers parse and print back",
  ...unit,
  fn() {
    assert.deepEqual(parseMatchers('job="api"'), [{ name: "job", op: "=", value: "api" }]);
    assert.deepEqual(parseMatchers('{env!~"dev|test", track=canary}'), [
      { name: "env", op: "!~", value: "dev|test" },
      { name: "track", op: "=", value: "canary" },
    ]);
    assert.equal(formatMatchers(parseMatchers('a="x\\"y",b!=z')), 'a="x\\"y",b!="z"');
    assert.throws(() => parseMatchers("job"), UsageError);
    assert.throws(() => parseMatchers('job="a" env="b"'), UsageError);
    assert.throws(() => parseMatchers("1job=a"), UsageError);
  },
});

Deno.test({
  name: "gate: every query the gate runs is valid PromQL over the contract metrics",
  ...unit,
  fn() {
    const p = buildPolicy({}, {
      job: "instrumented-app",
      canaryLabel: "track=canary",
      maxLatencyRatio: "1.2",
      maxErrorRateIncrease: "0.01",
    });
    const qs = gateQueries(p);
    assert.equal(qs.length, 8);
    for (const q of qs) {
      const a = analyzePromQL(q.expr);
      assert.deepEqual(a.errors, [], `${q.expr}: ${JSON.stringify(a.errors)}`);
      for (const m of a.metrics) {
        assert.ok(
          ["http_requests_total", "http_request_duration_seconds_bucket"].includes(m),
          `${q.expr} uses ${m}`,
        );
      }
    }
    const canary = qs.find((q) => q.scope === "canary" && q.id === "p95_latency")!;
    assert.match(canary.expr, /job="instrumented-app",track="canary"/);
    const base = qs.find((q) => q.scope === "baseline" && q.id === "error_rate")!;
    assert.match(base.expr, /track!="canary",status=~"5\.\."/);
    assert.match(base.expr, /or vector\(0\)/);
  },
});

Deno.test({
  name: "gate: policy file, flags override it, unknown keys and bad values are usage errors",
  ...readsPolicy,
  async fn() {
    const file = parsePolicyFile(await Deno.readTextFile(repoPath("config/gate-policy.yaml")));
    const p = buildPolicy(file, {});
    assert.equal(formatMatchers(p.selector), 'job="platform-app"');
    assert.equal(p.window, "5m");
    assert.equal(p.maxErrorRate, 0.05);
    const q = buildPolicy(file, { window: "30s", maxP99: "0.3", selector: 'service="x"' });
    assert.equal(q.window, "30s");
    assert.equal(q.maxP99Seconds, 0.3);
    assert.equal(formatMatchers(q.selector), 'service="x"');
    assert.throws(() => parsePolicyFile("treshold: 1\n"), /unknown key 'treshold'/);
    assert.throws(() => parsePolicyFile("thresholds: {p90_seconds: 1}\n"), /unknown key/);
    assert.throws(() => parsePolicyFile("a: [\n"), UsageError);
    assert.throws(() => buildPolicy({}, {}), /--job/);
    assert.throws(() => buildPolicy({}, { job: "a", window: "5 minutes" }), UsageError);
    assert.throws(() => buildPolicy({}, { job: "a", maxErrorRate: "5%" }), UsageError);
    assert.throws(() => buildPolicy({}, { job: "a", maxErrorRate: "2" }), UsageError);
    assert.throws(() => buildPolicy({}, { job: "a", maxLatencyRatio: "1.2" }), /--canary-label/);
    const off = buildPolicy(parsePolicyFile("job: a\nthresholds: {p99_seconds: off}\n"), {
      maxP95: "off",
    });
    assert.equal(off.maxP99Seconds, undefined);
    assert.equal(off.maxP95Seconds, undefined);
    assert.equal(off.maxErrorRate, 0.05);
    assert.deepEqual(
      judge(off, new Map([["service/requests", 100], ["service/error_rate", 0]])).map((r) =>
        r.metric
      ),
      ["requests", "error_rate"],
    );
    assert.throws(() => buildPolicy({}, { job: "a", canaryLabel: "track!=x" }), UsageError);
    // A request count is a whole number, from a flag or from the file.
    for (const bad of ["1.5", "1e3", "0x10", "-1", " 7", "ten"]) {
      assert.throws(
        () => buildPolicy({}, { job: "a", minRequests: bad }),
        /--min-requests .*whole number/,
        bad,
      );
    }
    assert.throws(
      () => buildPolicy(parsePolicyFile("job: a\nmin_requests: 2.5\n"), {}),
      /min_requests .*whole number/,
    );
    assert.equal(buildPolicy({}, { job: "a", minRequests: "0" }).minRequests, 0);
    assert.equal(buildPolicy({}, { job: "a", minRequests: "250" }).minRequests, 250);
    assert.equal(buildPolicy(parsePolicyFile("job: a\nmin_requests: 20\n"), {}).minRequests, 20);
  },
});

Deno.test({
  name: "gate: verdicts at the threshold edges; too little traffic is inconclusive",
  ...unit,
  fn() {
    const p = buildPolicy({}, { job: "a", maxErrorRate: "0.05", maxP95: "0.5", maxP99: "1" });
    const vals = (n: number | null, err: number | null, p95: number | null, p99: number | null) =>
      new Map<string, number | null>([
        ["service/requests", n],
        ["service/error_rate", err],
        ["service/p95_latency", p95],
        ["service/p99_latency", p99],
      ]);
    const verdicts = (rows: CheckRow[]) => rows.map((r) => `${r.metric}:${r.verdict}`);
    assert.equal(overall(judge(p, vals(100, 0.05, 0.5, 1))).exitCode, 0); // at the limit passes
    const over = judge(p, vals(100, 0.0501, 0.5, 1));
    assert.deepEqual(verdicts(over), [
      "requests:pass",
      "error_rate:fail",
      "p95_latency:pass",
      "p99_latency:pass",
    ]);
    assert.equal(overall(over).exitCode, 1);
    assert.equal(overall(judge(p, vals(100, 0, 0.51, 1))).exitCode, 1);
    assert.equal(overall(judge(p, vals(9, 0, 0.1, 0.1))).exitCode, 2); // min_requests 10
    assert.equal(overall(judge(p, vals(null, null, null, null))).exitCode, 2);
    assert.equal(overall(judge(p, vals(100, 0, null, 0.1))).exitCode, 2);
    assert.equal(overall([]).exitCode, 2);

    const c = buildPolicy({}, {
      job: "a",
      canaryLabel: "track=canary",
      maxErrorRateIncrease: "0.01",
      maxLatencyRatio: "1.5",
    });
    const cv = (cErr: number, bErr: number, cP95: number, bP95: number, bN = 100) =>
      new Map<string, number | null>([
        ["canary/requests", 100],
        ["canary/error_rate", cErr],
        ["canary/p95_latency", cP95],
        ["canary/p99_latency", cP95],
        ["baseline/requests", bN],
        ["baseline/error_rate", bErr],
        ["baseline/p95_latency", bP95],
        ["baseline/p99_latency", bP95],
      ]);
    assert.equal(overall(judge(c, cv(0.02, 0.015, 0.3, 0.2))).exitCode, 0);
    const worse = judge(c, cv(0.03, 0.015, 0.31, 0.2));
    assert.equal(overall(worse).exitCode, 1);
    assert.deepEqual(
      worse.filter((r) => r.verdict === "fail").map((r) => r.metric),
      ["error_rate_increase", "p95_ratio", "p99_ratio"],
    );
    assert.equal(overall(judge(c, cv(0.02, 0.015, 0.3, 0.2, 3))).exitCode, 2); // thin baseline
    assert.match(
      formatTable({
        ...overall(worse),
        prometheus: "x",
        selector: 'job="a"',
        window: "5m",
        checks: worse,
        queries: [],
      }),
      /p95_ratio\s+canary vs baseline\s+1\.55x\s+<= 1\.50x\s+FAIL/,
    );
  },
});

// ------------------------------------------------ against a real Prometheus

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs scripts/gate.ts with the task's permissions (plus read access to `readDirs`). */
function runGateCli(args: string[], readDirs: string[] = []) {
  return runScript(
    "scripts/gate.ts",
    ["--allow-net", "--allow-env", `--allow-read=${[".", ...readDirs].join(",")}`],
    args,
  );
}

Deno.test({
  name: "gate CLI: unreachable Prometheus is inconclusive (exit 2), also with --json",
  ...cli,
  async fn() {
    const port = freePort(); // nothing listens
    const r = await runGateCli(["--job", "x", "--prometheus", `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unreachable/);
    const j = await runGateCli([
      "--job",
      "x",
      "--prometheus",
      `http://127.0.0.1:${port}`,
      "--json",
    ]);
    assert.equal(j.code, 2);
    assert.equal(JSON.parse(j.stdout).verdict, "inconclusive");
    const u = await runGateCli(["--prometheus", `http://127.0.0.1:${port}`]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /--job/);
    // A fractional request count is bad usage, refused before Prometheus is asked.
    const frac = await runGateCli([
      "--job",
      "x",
      "--min-requests",
      "1.5",
      "--prometheus",
      `http://127.0.0.1:${port}`,
    ]);
    assert.equal(frac.code, 2, frac.stderr);
    assert.match(frac.stderr, /^error: --min-requests must be a whole number/);
    assert.equal(frac.stderr.trim().split("\n").length, 1, frac.stderr);
  },
});

/** Scrape health of every target, to explain an unexpected verdict. */
async function targetHealth(promUrl: string): Promise<string> {
  try {
    const body = await (await fetch(`${promUrl}/api/v1/targets?state=active`)).json();
    return body.data.activeTargets.map((t: {
      labels: Record<string, string>;
      health: string;
      lastError: string;
      lastScrapeDuration: number;
    }) =>
      `${t.labels.job}/${t.labels.instance}${t.labels.track ? `/${t.labels.track}` : ""}: ` +
      `${t.health} ${t.lastError} (${t.lastScrapeDuration.toFixed(3)}s)`
    ).join("; ");
  } catch (err) {
    return `targets unavailable: ${(err as Error).message}`;
  }
}

/** The gate CLI with the test's short window and its thresholds. */
function gateCli(promUrl: string, extra: string[], readDirs: string[] = []) {
  return runGateCli([
    "--prometheus",
    promUrl,
    "--window",
    "8s",
    "--min-requests",
    "50",
    "--max-error-rate",
    "0.05",
    "--max-p99",
    "1",
    "--json",
    ...extra,
  ], readDirs);
}

const healthyMix = pathsMix(["/api/data"]);
/** Every 4th request fails: 25 % errors. */
const errorMix = pathsMix(["/api/data", "/api/data", "/api/data", "/error"]);

function check(json: string, scope: string, metric: string): CheckRow {
  const row = JSON.parse(json).checks.find((c: CheckRow) =>
    c.scope === scope && c.metric === metric
  );
  assert.ok(row, `no ${scope}/${metric} row in ${json}`);
  return row;
}

Deno.test({
  name:
    "gate against the local stack's Prometheus (job platform-app, pushed through the collector): 2 without traffic, pass healthy, fail on errors, 2 when quiet",
  ...realPrometheus,
  ignore: missing("prometheus"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The stack's own Prometheus (config/prometheus.yml rendered by `stack up`,
    // with the shipped rules) on free ports, in a private state folder.
    const state = await Deno.makeTempDir({ prefix: "obskit-gate-stack-" });
    const before = Deno.env.get("OBSKIT_STATE_DIR");
    Deno.env.set("OBSKIT_STATE_DIR", state);
    let app: Awaited<ReturnType<typeof spawnInstrumentedApp>> | undefined;
    try {
      const ports = await freePorts();
      await stackUp({
        ports,
        scrapeInterval: "1s",
        // The app pushes its metrics; the collector's exporter is what Prometheus scrapes.
        only: ["collector", "prometheus"],
        timeoutMs: 60_000,
        progress: { write: () => {} },
      });
      const promUrl = `http://127.0.0.1:${ports.prometheus}`;
      app = await spawnInstrumentedApp({
        port: ports.app,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.otlpHttp}`,
          OTEL_METRIC_EXPORT_INTERVAL: "1000",
        },
      });
      // Wait until the app's pushed series are scraped under its contract job name.
      const deadline = Date.now() + 30_000;
      while (
        ((await queryScalar(
          promUrl,
          'count_over_time(http_active_connections{job="platform-app"}[1m])',
        )) ?? 0) < 2
      ) {
        assert.ok(Date.now() < deadline, "Prometheus did not scrape the app within 30 s");
        await sleep(250);
      }
      const gate = (extra: string[] = []) => gateCli(promUrl, ["--job", "platform-app", ...extra]);

      // Only health checks so far: too little traffic to judge.
      const idle = await gate();
      assert.equal(idle.code, 2, idle.stdout + idle.stderr);
      assert.equal(JSON.parse(idle.stdout).verdict, "inconclusive");

      await runLoad({ target: app.url, rate: 30, durationMs: 10_000, mix: healthyMix });
      const healthy = await gate();
      assert.equal(
        healthy.code,
        0,
        healthy.stdout + healthy.stderr + (await targetHealth(promUrl)),
      );
      assert.equal(JSON.parse(healthy.stdout).verdict, "pass");
      assert.equal(check(healthy.stdout, "service", "error_rate").value, 0);
      const reqs = check(healthy.stdout, "service", "requests").value!;
      // Pushed metrics lag by an export and a scrape interval: the window sees most, not all.
      assert.ok(reqs > 100 && reqs < 400, `requests in 8 s at 30 rps: ${reqs}`);

      await runLoad({ target: app.url, rate: 30, durationMs: 10_000, mix: errorMix });
      const failing = await gate();
      assert.equal(
        failing.code,
        1,
        failing.stdout + failing.stderr + (await targetHealth(promUrl)),
      );
      assert.equal(JSON.parse(failing.stdout).verdict, "fail");
      const rate = check(failing.stdout, "service", "error_rate");
      assert.equal(rate.verdict, "fail");
      assert.ok(rate.value! > 0.15 && rate.value! < 0.35, `error rate ${rate.value}`);
      // The same through the library, and the table a person reads.
      const res = await runGate(
        buildPolicy({}, { job: "platform-app", window: "8s", minRequests: "50" }),
        promUrl,
      );
      assert.equal(res.exitCode, 1);
      assert.match(formatTable(res), /error_rate\s+service\s+\d+\.\d\d%\s+<= 5\.00%\s+FAIL/);

      // Quiet again: once the window has passed there is nothing to judge.
      await sleep(10_000);
      const quiet = await gate();
      assert.equal(quiet.code, 2, quiet.stdout + quiet.stderr);
    } finally {
      await app?.stop();
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "gate canary analysis on a real Prometheus: canary vs baseline by label; no series is 2",
  ...realPrometheus,
  ignore: missing("prometheus"),
  async fn() {
    const [stable, canary] = await Promise.all([spawnInstrumentedApp(), spawnInstrumentedApp()]);
    let prom: { url: string; stop(): Promise<void> } | undefined;
    try {
      prom = await startPrometheus(findTool("prometheus")!, {
        "gate-test-rollout": [
          { port: stable.port, labels: { track: "stable" } },
          { port: canary.port, labels: { track: "canary" } },
        ],
      });
      const promUrl = prom.url;
      const gate = () =>
        gateCli(promUrl, [
          "--job",
          "gate-test-rollout",
          "--canary-label",
          "track=canary",
          "--max-error-rate-increase",
          "0.01",
          "--max-latency-ratio",
          "3",
        ]);
      const traffic = (canaryMix: TrafficMix) =>
        Promise.all([
          runLoad({ target: stable.url, rate: 30, durationMs: 10_000, mix: healthyMix }),
          runLoad({ target: canary.url, rate: 30, durationMs: 10_000, mix: canaryMix }),
        ]);

      await traffic(healthyMix);
      const good = await gate();
      assert.equal(good.code, 0, good.stdout + good.stderr + (await targetHealth(promUrl)));
      assert.equal(check(good.stdout, "canary vs baseline", "error_rate_increase").value, 0);

      // A selector that matches nothing: inconclusive, never a pass.
      const none = await gateCli(promUrl, ["--job", "no-such-job"]);
      assert.equal(none.code, 2, none.stdout + none.stderr);
      assert.equal(JSON.parse(none.stdout).verdict, "inconclusive");
      assert.equal(check(none.stdout, "service", "requests").value, null);

      // Prometheus rejects the query (a broken regex): bad input, exit 2, one line.
      const broken = await gateCli(promUrl, ["--selector", 'job=~"("']);
      assert.equal(broken.code, 2, broken.stdout + broken.stderr);
      assert.match(broken.stderr, /^error: Prometheus rejected the query .*\n$/);
      // Something that is not Prometheus (the app itself): inconclusive, exit 2.
      const notProm = await runGateCli(["--prometheus", stable.url, "--job", "x"]);
      assert.equal(notProm.code, 2, notProm.stdout + notProm.stderr);
      assert.match(notProm.stderr, /HTTP 404/);

      await traffic(errorMix);
      const bad = await gate();
      assert.equal(bad.code, 1, bad.stdout + bad.stderr + (await targetHealth(promUrl)));
      assert.equal(check(bad.stdout, "canary vs baseline", "error_rate_increase").verdict, "fail");
      assert.equal(check(bad.stdout, "canary", "error_rate").verdict, "fail");
      assert.equal(check(bad.stdout, "baseline", "requests").verdict, "pass");
    } finally {
      await prom?.stop();
      await Promise.all([stable.stop(), canary.stop()]);
    }
  },
});

Deno.test({
  name: "gate on the OTel path: the app's OTLP metrics through the real collector into Prometheus",
  ...realPrometheus,
  ignore: missing("otelcol-obskit", "prometheus"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "obskit-gate-otel-" });
    const before = Deno.env.get("OBSKIT_STATE_DIR");
    Deno.env.set("OBSKIT_STATE_DIR", state);
    let app: Awaited<ReturnType<typeof spawnInstrumentedApp>> | undefined;
    try {
      const ports = await freePorts();
      await stackUp({
        ports,
        scrapeInterval: "1s",
        only: ["collector", "prometheus"],
        timeoutMs: 90_000,
        progress: { write: () => {} },
      });
      const promUrl = `http://127.0.0.1:${ports.prometheus}`;
      app = await spawnInstrumentedApp({
        port: ports.app,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.otlpHttp}`,
          OTEL_METRIC_EXPORT_INTERVAL: "1000",
        },
      });
      // The semantic-convention policy the example policy file describes.
      const policy = join(state, "otel-policy.yaml");
      await Deno.writeTextFile(
        policy,
        [
          // honor_labels on the collector's exporter: the app's service.name is its job.
          "job: platform-app",
          "metrics:",
          "  requests: http_server_request_duration_seconds_count",
          "  duration: http_server_request_duration_seconds",
          "  status_label: http_response_status_code",
          "",
        ].join("\n"),
      );
      await runLoad({ target: app.url, rate: 30, durationMs: 10_000, mix: errorMix });
      const r = await gateCli(promUrl, ["--policy", policy], [state]);
      assert.equal(r.code, 1, r.stdout + r.stderr + (await targetHealth(promUrl)));
      const rate = check(r.stdout, "service", "error_rate");
      assert.ok(rate.value! > 0.15 && rate.value! < 0.35, `error rate ${rate.value}`);
      const reqs = check(r.stdout, "service", "requests").value!;
      // Pushed metrics lag by an export and a scrape interval: the window sees most, not all.
      assert.ok(reqs > 100 && reqs < 400, `requests ${reqs}`);
      assert.match(
        JSON.parse(r.stdout).queries[0].expr,
        /http_server_request_duration_seconds_count/,
      );
    } finally {
      await app?.stop();
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "gate --slo on a real Prometheus with an hour of history: 20x the budget fails (1), within budget passes (0), no series is 2",
  ...realPrometheus,
  ignore: missing("prometheus", "promtool"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { backfill, history } = await import("./slo_support.ts");
    const state = await Deno.makeTempDir({ prefix: "obskit-gate-slo-" });
    const before = Deno.env.get("OBSKIT_STATE_DIR");
    Deno.env.set("OBSKIT_STATE_DIR", state);
    try {
      // platform-app: 5 h clean, then 70 min at 20 % errors (20x the 1 % budget);
      // metrics-pull-app: 6 h at 0.5 % errors (half the budget). No latency data
      // for the pull app's latency SLO beyond its counters: see below.
      await backfill(findTool("promtool")!, join(state, "data", "prometheus"), [
        history("platform-app", [
          { minutes: 300, rate: 600, bad: 0 },
          { minutes: 70, rate: 600, bad: 0.2 },
        ]),
        history("metrics-pull-app", [{ minutes: 370, rate: 600, bad: 0.005 }]),
      ]);
      const ports = await freePorts();
      await stackUp({
        ports,
        only: ["prometheus"],
        timeoutMs: 60_000,
        progress: { write: () => {} },
      });
      const promUrl = `http://127.0.0.1:${ports.prometheus}`;
      const slo = (id: string) => runGateCli(["--prometheus", promUrl, "--slo", id, "--json"]);

      const burning = await slo("platform-app-availability");
      assert.equal(burning.code, 1, burning.stdout + burning.stderr);
      const fast = check(burning.stdout, "service", "page_burn_1h_5m");
      assert.equal(fast.verdict, "fail");
      assert.ok(fast.value! > 18 && fast.value! < 22, `burn rate ${fast.value}`);
      // 70 min of errors over 6 h is 3.9x: under the 6x page window.
      const slow = check(burning.stdout, "service", "page_burn_6h_30m");
      assert.equal(slow.verdict, "pass");
      assert.ok(slow.value! > 3 && slow.value! < 5, `6h burn rate ${slow.value}`);

      const healthy = await slo("metrics-pull-app-availability");
      assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
      assert.ok(check(healthy.stdout, "service", "page_burn_1h_5m").value! < 1);
      // The latency SLO's bad events are slow requests: all fast here.
      const latency = await slo("platform-app-latency");
      assert.equal(latency.code, 0, latency.stdout + latency.stderr);

      // The table a person reads.
      const table = await runGateCli([
        "--prometheus",
        promUrl,
        "--slo",
        "platform-app-availability",
      ]);
      assert.equal(table.code, 1);
      assert.match(table.stdout, /page_burn_1h_5m\s+service\s+\d+\.\d\dx\s+<= 14\.40x\s+FAIL/);

      // Another Prometheus with no data at all: inconclusive.
      await stackDown();
      await Deno.remove(join(state, "data"), { recursive: true });
      await stackUp({
        ports,
        only: ["prometheus"],
        timeoutMs: 60_000,
        progress: { write: () => {} },
      });
      const none = await slo("platform-app-availability");
      assert.equal(none.code, 2, none.stdout + none.stderr);
      assert.equal(JSON.parse(none.stdout).verdict, "inconclusive");
      // Usage: unknown SLO, or service flags with --slo.
      const unknown = await slo("nope");
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /^error: no SLO 'nope' .*platform-app-availability/);
      const mixed = await runGateCli(["--prometheus", promUrl, "--slo", "x", "--job", "y"]);
      assert.equal(mixed.code, 2);
      assert.match(mixed.stderr, /--slo excludes --job/);
    } finally {
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
});
