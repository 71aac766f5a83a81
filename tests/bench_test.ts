/**
 * The bench plumbing, not its timings: wrk's report is parsed, a missing wrk
 * is exit 2 naming the package, the A/B order and medians are right, a tiny
 * real wrk run against the real app works, and the CLI writes JSON and a
 * table. Benchmarks never fail on numbers, so nothing here asserts a speed.
 */
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { MissingPrerequisite } from "../scripts/lib/cli.ts";
import {
  type BenchResult,
  countSeries,
  formatMarkdown,
  headline,
  latencyAdded,
  median,
  roundOrder,
  spread,
  summarizeLatency,
  summarizeThroughput,
  sustained,
  telemetryDropped,
  type ThroughputRun,
} from "../scripts/lib/bench/mod.ts";
import { processCpuMs, startApp, startSinkCollector } from "../scripts/lib/bench/bench_procs.ts";
import {
  findOha,
  ohaArgs,
  ohaFailures,
  parseOhaJson,
  runOha,
} from "../scripts/lib/bench/bench_oha.ts";
import {
  findWrk,
  parseWrkDuration,
  parseWrkOutput,
  runWrk,
} from "../scripts/lib/bench/bench_wrk.ts";
import { freePort } from "../scripts/lib/net.ts";
import { findTool, missing, runScript, withReexportingCollector } from "./support.ts";

// A real `wrk --latency` report (Debian wrk 4.1.0), from this machine.
const WRK_REPORT = `Running 4s test @ http://127.0.0.1:18101/api/data
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.98ms    3.27ms  34.33ms   92.41%
    Req/Sec    12.20k     9.99k   47.11k    87.50%
  Latency Distribution
     50%  672.00us
     75%    1.01ms
     90%    4.87ms
     99%   34.33ms
  48392 requests in 4.02s, 10.24MB read
  Socket errors: connect 0, read 3, write 0, timeout 7
  Non-2xx or 3xx responses: 12
Requests/sec:  12032.79
Transfer/sec:      2.55MB
`;

Deno.test("wrk durations and the --latency report are parsed to ms", () => {
  assert.equal(parseWrkDuration("672.00us"), 0.672);
  assert.equal(parseWrkDuration("1.01ms"), 1.01);
  assert.equal(parseWrkDuration("2.00s"), 2000);
  assert.equal(parseWrkDuration("1.50m"), 90_000);
  assert.throws(() => parseWrkDuration("fast"), /not a wrk duration/);
  const r = parseWrkOutput(WRK_REPORT);
  assert.equal(r.requests, 48392);
  assert.equal(r.durationS, 4.02);
  assert.equal(r.rps, 12032.79);
  assert.deepEqual(r.latencyMs, {
    avg: 1.98,
    max: 34.33,
    p50: 0.672,
    p75: 1.01,
    p90: 4.87,
    p99: 34.33,
  });
  assert.deepEqual(r.errors, { connect: 0, read: 3, write: 0, timeout: 7, non2xx3xx: 12 });
  // Without socket errors wrk omits those lines: zeros, not a failure.
  const clean = WRK_REPORT.replace(/ {2}Socket errors.*\n/, "").replace(/ {2}Non-2xx.*\n/, "");
  assert.deepEqual(parseWrkOutput(clean).errors, {
    connect: 0,
    read: 0,
    write: 0,
    timeout: 0,
    non2xx3xx: 0,
  });
  assert.throws(() => parseWrkOutput("unable to connect to 127.0.0.1:1 Connection refused"), {
    message: /wrk output has no request count/,
  });
});

Deno.test("a missing wrk is a missing prerequisite naming the Debian package", () => {
  assert.throws(() => findWrk("/nonexistent-dir"), (e: Error) => {
    assert.ok(e instanceof MissingPrerequisite);
    assert.match(e.message, /apt-get install wrk/);
    return true;
  });
});

Deno.test("A/B order alternates, medians and spread, ratios pair runs of the same round", () => {
  assert.deepEqual(roundOrder(["a", "b", "c"], 0), ["a", "b", "c"]);
  assert.deepEqual(roundOrder(["a", "b", "c"], 1), ["c", "b", "a"]);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(spread([90, 100, 110]), 0.2);
  const run = (variant: string, round: number, rps: number): ThroughputRun => ({
    variant,
    round,
    rps,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    telemetryDropped: round === 1 && variant === "on" ? 7 : 0,
    appCpuUsPerReq: 10,
    collectorCpuUsPerReq: null,
    othersBusyPct: 0,
  });
  // Round 1 ran on a slower machine: pairing keeps the ratio at 0.5 each round.
  const runs = [run("off", 0, 1000), run("on", 0, 500), run("on", 1, 250), run("off", 1, 500)];
  const variants = [
    { name: "off", description: "", instrumentation: "off" as const },
    { name: "on", description: "", instrumentation: "on" as const },
  ];
  const [off, on] = summarizeThroughput(runs, variants);
  assert.equal(off.ratioToOff, 1);
  assert.equal(on.ratioToOff, 0.5);
  assert.equal(on.rps, 375);
  assert.equal(on.runs, 2);
  assert.equal(on.appCpuUsPerReq, 10);
  assert.equal(on.collectorCpuUsPerReq, null);
  assert.equal(on.telemetryDropped, 7, "drops are summed over rounds, never hidden by a median");
});

Deno.test("ratios and added CPU are paired per round against bare and against off", () => {
  const run = (variant: string, round: number, rps: number, cpu: number | null): ThroughputRun => ({
    variant,
    round,
    rps,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    telemetryDropped: null,
    appCpuUsPerReq: cpu,
    collectorCpuUsPerReq: null,
    othersBusyPct: 0,
  });
  // Round 1 ran on a machine twice as slow (every rate halved, every CPU cost
  // doubled): pairing within a round keeps each ratio at its true value.
  const runs = [
    run("bare", 0, 10_000, 10),
    run("off", 0, 5000, 20),
    run("on", 0, 1000, 100),
    run("on", 1, 500, 200),
    run("off", 1, 2500, 40),
    run("bare", 1, 5000, 20),
    run("on", 2, 1000, 110),
    run("off", 2, 5000, 20),
    run("bare", 2, 10_000, 10),
  ];
  const v = (name: string) => ({ name, description: name, instrumentation: "off" as const });
  const [bare, off, on] = summarizeThroughput(runs, [v("bare"), v("off"), v("on")]);
  assert.equal(bare.ratioToBare, 1);
  assert.equal(bare.ratioToOff, 2);
  assert.equal(bare.addedCpuUsVsBare, 0);
  assert.equal(bare.addedCpuUsVsOff, -10);
  assert.equal(off.ratioToBare, 0.5);
  assert.equal(off.ratioToOff, 1);
  assert.equal(off.addedCpuUsVsBare, 10);
  assert.equal(off.addedCpuUsVsOff, 0);
  assert.equal(on.ratioToBare, 0.1);
  assert.equal(on.ratioToOff, 0.2);
  // Per-round differences 90, 180, 100 (vs bare) and 80, 160, 90 (vs off): medians.
  assert.equal(on.addedCpuUsVsBare, 100);
  assert.equal(on.addedCpuUsVsOff, 90);
  assert.equal(on.appCpuUsPerReq, 110);
  // Without a bare run (an old result, or bare failed) the columns are empty, not 0.
  const noBare = summarizeThroughput(runs.filter((r) => r.variant !== "bare"), [v("on")])[0];
  assert.equal(noBare.ratioToBare, null);
  assert.equal(noBare.addedCpuUsVsBare, null);
  assert.equal(noBare.ratioToOff, 0.2);
  // A run without a CPU reading does not poison the others.
  const gap = summarizeThroughput([...runs.slice(0, 3), { ...runs[3], appCpuUsPerReq: null }], [
    v("on"),
  ])[0];
  assert.equal(gap.addedCpuUsVsBare, 90);
});

Deno.test("latency: medians per variant, added p50/p99 are on minus bare and on minus off", () => {
  const run = (variant: string, round: number, p50Ms: number, p99Ms: number) => ({
    variant,
    round,
    rps: 2000,
    p50Ms,
    p99Ms,
    p999Ms: p99Ms * 2,
    failures: variant === "on" ? 1 : 0,
    abortedAtDeadline: 3,
  });
  const runs = [
    run("bare", 0, 0.1, 0.5),
    run("off", 0, 0.2, 0.8),
    run("on", 0, 0.4, 3.0),
    run("on", 1, 0.5, 4.0),
    run("off", 1, 0.3, 0.9),
    run("bare", 1, 0.1, 0.7),
    run("bare", 2, 0.2, 0.6),
    run("off", 2, 0.2, 1.0),
    run("on", 2, 0.4, 5.0),
  ];
  const summary = summarizeLatency(runs, ["bare", "off", "on"]);
  assert.deepEqual(summary.map((s) => [s.variant, s.p50Ms, s.p99Ms, s.failures]), [
    ["bare", 0.1, 0.6, 0],
    ["off", 0.2, 0.9, 0],
    ["on", 0.4, 4.0, 3],
  ]);
  assert.deepEqual(latencyAdded(summary, "bare"), { p50Ms: 0.3, p99Ms: 3.4 });
  assert.deepEqual(latencyAdded(summary, "off"), { p50Ms: 0.2, p99Ms: 3.1 });
  const none = latencyAdded(summary.filter((s) => s.variant !== "bare"), "bare");
  assert.ok(Number.isNaN(none.p50Ms) && Number.isNaN(none.p99Ms));
});

// A real `oha --output-format json` report (oha 1.16.0, -z 2s -q 1000
// --latency-correction -c 16 against scripts/lib/bench/bare_hono.ts), with the
// histograms trimmed and two error kinds and a 500 added by hand.
const OHA_REPORT = `{
  "summary": {"successRate": 1.0, "total": 2.001974412, "slowest": 0.003490308,
    "fastest": 0.000039569, "average": 0.0001369918704352177, "requestsPerSec": 998.514260730721,
    "totalData": 129283, "sizePerRequest": 64, "sizePerSec": 64577.74845925453},
  "metrics": {"success_rate": 1.0, "requests_per_sec": 998.514260730721,
    "latency_ms": {"min": 0.04, "mean": 0.137, "p50": 0.087, "p95": 0.326, "p99": 0.854, "max": 3.49}},
  "responseTimeHistogram": {"0.000039569": 1, "0.00038464289999999996": 1934},
  "latencyPercentiles": {"p10": 0.000060039, "p25": 0.000070204, "p50": 0.000087449,
    "p75": 0.000137613, "p90": 0.000255869, "p95": 0.000325542, "p99": 0.000853819,
    "p99.9": 0.00261007, "p99.99": 0.003490308},
  "rps": {"mean": 998.7073744090852, "stddev": 45.29586761028273},
  "statusCodeDistribution": {"200": 1999, "500": 2},
  "errorDistribution": {"aborted due to deadline": 4, "connection closed before message completed": 1}
}`;

Deno.test("oha's JSON report is parsed: seconds to ms, deadline aborts apart from failures", () => {
  const r = parseOhaJson(OHA_REPORT);
  assert.equal(r.rps, 998.514260730721);
  assert.equal(r.successRate, 1);
  assert.ok(Math.abs(r.latencyMs.p50 - 0.087449) < 1e-9);
  assert.ok(Math.abs(r.latencyMs.p99 - 0.853819) < 1e-9);
  assert.ok(Math.abs(r.latencyMs.p999 - 2.61007) < 1e-9);
  assert.ok(Math.abs(r.latencyMs.max - 3.490308) < 1e-9);
  assert.deepEqual(r.statuses, { "200": 1999, "500": 2 });
  assert.equal(r.abortedAtDeadline, 4);
  assert.deepEqual(r.errors, { "connection closed before message completed": 1 });
  assert.equal(ohaFailures(r), 3, "one transport error and two 500s; deadline aborts are not");
  assert.throws(() => parseOhaJson("Error: connection refused"), /oha output is not JSON/);
  assert.throws(() => parseOhaJson("{}"), /oha JSON has no summary/);
  assert.throws(
    () => parseOhaJson(`{"summary": {}, "latencyPercentiles": {}}`),
    /no summary\.requestsPerSec/,
  );
  // The run is open-model, fixed-rate, corrected, keep-alive, no TUI, JSON.
  const args = ohaArgs({ url: "http://127.0.0.1:1/x", rate: 1500, durationS: 5, connections: 32 });
  assert.deepEqual(args, [
    "-z",
    "5s",
    "-q",
    "1500",
    "--latency-correction",
    "-c",
    "32",
    "--no-tui",
    "--output-format",
    "json",
    "http://127.0.0.1:1/x",
  ]);
  assert.ok(!args.includes("--disable-keepalive"));
});

Deno.test({
  name: "a real 2-second oha run at a fixed rate against a tiny server parses",
  ignore: missing("oha"),
  permissions: { run: true, net: true, read: true, env: true },
  async fn() {
    const oha = findOha() ?? findTool("oha")!;
    const port = freePort();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen() {} },
      () => Response.json({ ok: true }),
    );
    try {
      const r = await runOha({
        url: `http://127.0.0.1:${port}/`,
        rate: 200,
        durationS: 2,
        connections: 4,
      }, oha);
      // The rate is offered, not a ceiling on a tiny server: within 10 % here.
      assert.ok(r.rps > 180 && r.rps < 220, `${r.rps} requests/s at -q 200`);
      assert.equal(ohaFailures(r), 0);
      assert.ok((r.statuses["200"] ?? 0) >= 360, JSON.stringify(r.statuses));
      assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99);
      assert.ok(r.latencyMs.p99 <= r.latencyMs.p999 && r.latencyMs.p999 <= r.latencyMs.max);
      assert.ok(r.latencyMs.p99 < 1000, `p99 ${r.latencyMs.p99} ms is in ms, not µs or s`);
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "the bare Hono server answers /api/data in the instrumented app's JSON shape",
  permissions: { run: true, net: true, read: true, env: true, sys: true },
  async fn() {
    const bare = await startApp(
      { name: "bare", description: "", instrumentation: "off", server: "bare" },
      freePort(),
    );
    const app = await startApp(
      { name: "off", description: "", instrumentation: "off" },
      freePort(),
    );
    try {
      const shape = (v: unknown): unknown =>
        v !== null && typeof v === "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]))
          : typeof v;
      const a = await (await fetch(`${bare.url}/api/data`)).json();
      const b = await (await fetch(`${app.url}/api/data`)).json();
      assert.deepEqual(shape(a), shape(b));
      assert.deepEqual(Object.keys(a), ["data", "delay_seconds"]);
      assert.equal(a.data.name, `item-${a.data.id}`);
      assert.equal(a.data.price, 5 + (a.data.id % 20) * 2.5);
      assert.equal(a.delay_seconds, 0);
      // One route only: no app code, not even /health.
      const health = await fetch(`${bare.url}/health`);
      await health.body?.cancel();
      assert.equal(health.status, 404);
    } finally {
      await bare.stop();
      await app.stop();
    }
  },
});

Deno.test("a load-generator run is sustained only within 1 % and with nothing dropped", () => {
  const g = { offeredRate: 0, sent: 0, late: 0, p50Ms: 1, p99Ms: 2, errors: 0 };
  assert.ok(sustained({ ...g, achievedRate: 1985, dropped: 0 }, 2000));
  assert.ok(!sustained({ ...g, achievedRate: 1970, dropped: 0 }, 2000));
  assert.ok(!sustained({ ...g, achievedRate: 2000, dropped: 1 }, 2000));
  assert.ok(!sustained({ ...g, achievedRate: 2000, dropped: 0, errors: 1 }, 2000));
});

Deno.test("series are counted as sample lines of the Prometheus text", () => {
  const text = `# HELP a x\n# TYPE a counter\na{l="1"} 1\na{l="2"} 2\n\nb 3\n`;
  assert.equal(countSeries(text), 3);
});

Deno.test("the markdown report names the machine and shows each case's table", () => {
  const result: BenchResult = {
    startedAt: "2026-01-01T00:00:00Z",
    machine: { cores: 2, cpu: "Test CPU", memoryGiB: 24, deno: "2.9.6", wrk: "4.1.0" },
    options: {
      cases: ["overhead", "scrape"],
      rounds: 3,
      durationS: 5,
      warmupS: 2,
      connections: 32,
      threads: 1,
      path: "/api/data",
      collector: "stack",
      variants: [],
      series: 10000,
      loadgenRate: 2000,
      startupRuns: 3,
      workDir: "/tmp",
    },
    collector: "local stack collector",
    overhead: {
      runs: [],
      othersBusyPct: 12.5,
      summary: [{
        variant: "on",
        description: "instrumented",
        runs: 3,
        rps: 20000,
        rpsSpreadPct: 4,
        p50Ms: 1.2,
        p99Ms: 4.5,
        ratioToBare: 0.21,
        ratioToOff: 0.42,
        appCpuUsPerReq: 30.1,
        addedCpuUsVsBare: 20.1,
        addedCpuUsVsOff: 12,
        collectorCpuUsPerReq: 8.2,
        errors: 0,
        telemetryDropped: 0,
      }, {
        variant: "deno-otel",
        description: "peer",
        runs: 3,
        rps: 25000,
        rpsSpreadPct: 2,
        p50Ms: 1,
        p99Ms: 4,
        ratioToBare: 0.25,
        ratioToOff: 0.5,
        appCpuUsPerReq: 40,
        addedCpuUsVsBare: 30,
        addedCpuUsVsOff: -2.5,
        collectorCpuUsPerReq: 8,
        errors: 0,
        telemetryDropped: null,
      }],
    },
    latency: {
      generator: "/x/oha 1.16.0",
      saturationRps: 6000,
      saturationFrom: "overhead",
      rate: 3000,
      connections: 32,
      durationS: 5,
      runs: [],
      summary: [
        { variant: "bare", rps: 3000, p50Ms: 0.1, p99Ms: 0.5, p999Ms: 1, failures: 0 },
        { variant: "on", rps: 2999, p50Ms: 0.4, p99Ms: 1.25, p999Ms: 9, failures: 0 },
      ],
      added: { vsBare: { p50Ms: 0.3, p99Ms: 0.75 }, vsOff: { p50Ms: 0.2, p99Ms: -0.1 } },
      generatorKeptUp: true,
    },
    scrape: {
      seriesRequested: 10000,
      seriesExposed: 10010,
      bytes: 2048000,
      scrapes: 20,
      httpMs: { p50: 25, p90: 30, max: 40 },
      renderMs: { p50: 20 },
    },
    skipped: [],
    notes: [],
  };
  const md = formatMarkdown(result);
  assert.match(md, /Machine: 2 cores \(Test CPU\), 24 GiB, Deno 2\.9\.6, wrk 4\.1\.0/);
  // The headline comes first and uses bare.
  assert.equal(
    md.split("\n")[0],
    "**Headline**: instrumented app (on) 0.210 of bare Hono's throughput (0.420 of off), " +
      "+20.1 µs app CPU per request vs bare (+12.0 vs off); " +
      "Deno's built-in OTel on bare Hono 0.250 of bare (+30.0 µs); " +
      "at 3000/s (half of on's saturation) p50 +0.300 ms, p99 +0.750 ms vs bare.",
  );
  assert.equal(headline({ ...result, overhead: undefined, latency: undefined }), "");
  assert.match(
    md,
    /\| variant \| rps \| spread \| vs bare \| vs off \| app CPU µs\/req \| added µs vs bare \| added µs vs off \| p50 ms \| p99 ms \| collector CPU µs\/req \| errors \|/,
  );
  assert.match(
    md,
    /\| on: instrumented \| 20000 \| ±2\.0% \| 0\.210 \| 0\.420 \| 30\.1 \| \+20\.1 \| \+12\.0 \| 1\.20 \| 4\.50 \| 8\.2 \| 0 \|/,
  );
  assert.match(md, /\| deno-otel: peer \| 25000 \| .* \| \+30\.0 \| -2\.5 \|/);
  assert.match(md, /oha -q 3000 --latency-correction -c32 -z 5s/);
  assert.match(md, /\| on \| 2999 \| 0\.400 \| 1\.250 \| 9\.000 \| 0 \|/);
  assert.match(
    md,
    /adds p50 \+0\.300 ms \/ p99 \+0\.750 ms vs bare, p50 \+0\.200 ms \/ p99 -0\.100 ms vs off;/,
  );
  assert.match(md, /median 12\.5% of all cores/);
  assert.match(md, /\*\*\/metrics scrape\*\*: 10010 series/);
});

Deno.test({
  name: "a 1-second wrk run against the real app (instrumentation off) parses and is counted",
  ignore: missing("wrk"),
  permissions: { run: true, net: true, read: true, env: true, sys: true },
  async fn() {
    const app = await startApp(
      { name: "off", description: "baseline", instrumentation: "off" },
      freePort(),
    );
    try {
      const cpu0 = await processCpuMs(app.pid);
      const r = await runWrk({ url: `${app.url}/api/data`, connections: 2, durationS: 1 });
      assert.ok(r.requests > 0, "wrk got answers");
      assert.ok(r.rps > 0);
      assert.equal(r.errors.non2xx3xx, 0, "every answer was 200");
      assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99);
      const cpu1 = await processCpuMs(app.pid);
      assert.ok(cpu0 !== null && cpu1 !== null && cpu1 >= cpu0, "app CPU time is readable");
    } finally {
      await app.stop();
    }
    assert.equal(await processCpuMs(app.pid), null, "the app is gone after stop()");
  },
});

Deno.test({
  name: "the sink collector takes everything an instrumented app under full load sends",
  ignore: missing("wrk", "otelcol-obskit"),
  permissions: { run: true, net: true, read: true, write: true, env: true, sys: true },
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "obskit-sink-" });
    const sink = await startSinkCollector(dir);
    const app = await startApp(
      {
        name: "on",
        description: "instrumented",
        instrumentation: "on",
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.otlpEndpoint },
      },
      freePort(),
    );
    try {
      const before = await telemetryDropped(app.url);
      const c0 = await processCpuMs(sink.collectorPid);
      const r = await runWrk({ url: `${app.url}/api/data`, connections: 32, durationS: 2 });
      assert.ok(r.requests > 1000, `${r.requests} requests`);
      await new Promise((res) => setTimeout(res, 1500)); // the last batches leave
      assert.equal(before, 0);
      assert.equal(await telemetryDropped(app.url), 0, "nothing dropped at saturation");
      const c1 = await processCpuMs(sink.collectorPid);
      assert.ok(c0 !== null && c1 !== null && c1 > c0, "the collector did the decoding");
    } finally {
      await app.stop();
      await sink.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

interface OtlpAttr {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttr[];
  events: { name: string }[];
}
interface OtlpLog {
  traceId: string;
  spanId: string;
  body: { stringValue: string };
}
const attrsOf = (list: OtlpAttr[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]]));
// The collector's JSON gives ids as hex, and our traceparent carries them too.
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID = "b7ad6b7169203331";

Deno.test({
  name: "floor variant: its spans, event and log records reach the real collector as the app's do",
  ignore: missing("otelcol-obskit"),
  permissions: { run: true, net: true, read: true, write: true, env: true, sys: true },
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withReexportingCollector(async (endpoint, received) => {
      const app = await startApp(
        {
          name: "floor",
          description: "floor",
          instrumentation: "off",
          server: "floor",
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
        },
        freePort(),
      );
      let traceparent: string | null;
      try {
        const res = await fetch(`${app.url}/api/data`, {
          headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
        });
        assert.equal(res.status, 200);
        traceparent = res.headers.get("traceparent");
        await res.body?.cancel();
      } finally {
        await app.stop(); // SIGTERM: the floor sends what it holds
      }
      for (let i = 0; i < 100 && received.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      // deno-lint-ignore no-explicit-any -- OTLP/JSON as the collector wrote it
      const body = (path: string): any => {
        const found = received.find((r) => r.path === path);
        assert.ok(found, `the collector re-exported ${path}`);
        return JSON.parse(found.body);
      };
      const spans: OtlpSpan[] = body("/v1/traces").resourceSpans[0].scopeSpans[0].spans;
      const logs: OtlpLog[] = body("/v1/logs").resourceLogs[0].scopeLogs[0].logRecords;
      // startApp's readiness probe was a request too: ours is the span the traceparent names.
      const spanId = traceparent?.split("-")[2];
      const serverSpan = spans.find((sp) => sp.spanId === spanId);
      assert.ok(serverSpan, `${traceparent} names one of ${spans.map((sp) => sp.spanId)}`);
      assert.equal(serverSpan.name, "GET /api/data");
      assert.equal(serverSpan.kind, 2);
      assert.equal(serverSpan.traceId, TRACE_ID, "continues the caller's trace");
      assert.equal(serverSpan.parentSpanId, PARENT_ID);
      assert.equal(traceparent, `00-${TRACE_ID}-${serverSpan.spanId}-01`);
      assert.deepEqual(
        Object.keys(attrsOf(serverSpan.attributes)).sort(),
        [
          "http.request.method",
          "http.response.status_code",
          "http.route",
          "server.address",
          "server.port",
          "url.path",
          "url.scheme",
          "user_agent.original",
        ],
      );
      assert.equal(attrsOf(serverSpan.attributes)["http.response.status_code"], "200");
      assert.equal(serverSpan.events[0].name, "order.completed");
      const children = spans.filter((sp) => sp.parentSpanId === serverSpan.spanId);
      const lookup = children.find((sp) => sp.name === "cache.lookup");
      assert.ok(lookup, "a cache.lookup child");
      // A miss queries the "database": a db.query child as well.
      assert.deepEqual(
        children.map((sp) => sp.name).sort(),
        attrsOf(lookup.attributes)["cache.hit"] ? ["cache.lookup"] : ["cache.lookup", "db.query"],
      );
      const line = logs.filter((l) => l.spanId === serverSpan.spanId);
      assert.equal(line.length, 1, "one log record in the request's span");
      assert.equal(line[0].body.stringValue, "data served");
      assert.equal(line[0].traceId, TRACE_ID);
    });
  },
});

function bench(args: string[], env: Record<string, string> = {}) {
  return runScript(
    "scripts/bench.ts",
    ["--allow-run", "--allow-env", "--allow-read", "--allow-write", "--allow-net", "--allow-sys"],
    args,
    { env },
  );
}

Deno.test({
  name: "bench CLI: bad case or compare-app exit 2; no wrk exit 2 naming the package",
  permissions: { run: true, read: true, env: true },
  async fn() {
    const bad = await bench(["--case", "nope"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown case 'nope'/);
    const noApp = await bench(["--compare-app", "/nonexistent/instrument_app.ts"]);
    assert.equal(noApp.code, 2);
    assert.match(noApp.stderr, /--compare-app: no such file/);
    const noWrk = await bench(["--case", "overhead", "--collector", "none"], {
      PATH: "/nonexistent-dir",
    });
    assert.equal(noWrk.code, 2);
    assert.match(noWrk.stderr, /wrk not found.*apt-get install wrk/);
  },
});

Deno.test({
  name: "bench CLI: the scrape case writes JSON and prints the table (exit 0)",
  permissions: { run: true, read: true, write: true, env: true },
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = join(dir, "b.json");
      const r = await bench(["--case", "scrape", "--series", "700", "--out", out]);
      assert.equal(r.code, 0, r.stderr);
      const json = JSON.parse(await Deno.readTextFile(out)) as BenchResult;
      assert.ok(json.scrape, "scrape result present");
      assert.ok(json.scrape.seriesExposed >= 700, `${json.scrape.seriesExposed} series`);
      assert.ok(json.scrape.httpMs.p50 > 0);
      assert.equal(json.overhead, undefined, "only the asked case ran");
      assert.match(r.stdout, /\*\*\/metrics scrape\*\*: \d+ series/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "bench CLI: the help lists the bare, json and peer variants and where oha comes from",
  permissions: { run: true, read: true, env: true },
  async fn() {
    const r = await bench(["--help"]);
    assert.equal(r.code, 0, r.stderr);
    const help = r.stdout.replace(/\s+/g, " ");
    assert.match(help, /besides bare\/off\/on/);
    assert.match(
      help,
      /default json, sample-10, sample-0, collector-down, deno-otel, floor; known: json, sample-10, sample-0, collector-down, deno-otel, floor, deno-otel-app\)/,
    );
    assert.match(help, /bare = Hono on Deno\.serve with the same JSON and no app code/);
    assert.match(help, /deno-otel = Deno's built-in OpenTelemetry \(OTEL_DENO=true\) on bare Hono/);
    assert.match(
      help,
      /floor = the app's per-request telemetry written by hand without the OTel SDK/,
    );
    assert.match(help, /The latency case needs oha, also from 'deno task tools'/);
    assert.doesNotMatch(help, /proto\b(?!buf)/, "the proto variant is gone: protobuf is 'on'");
    const old = await bench(["--variant", "proto"]);
    assert.equal(old.code, 2);
    assert.match(old.stderr, /unknown variant 'proto'/);
  },
});

Deno.test({
  name: "bench CLI: without oha the latency case is skipped in one line and the run exits 0",
  permissions: { run: true, read: true, write: true, env: true },
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = join(dir, "b.json");
      const r = await bench(["--case", "latency", "--out", out], {
        PATH: "/nonexistent-dir",
        OBSKIT_TOOLS_DIR: dir,
      });
      assert.equal(r.code, 0, r.stderr);
      const skipped = r.stdout.split("\n").filter((l) => l.startsWith("Skipped latency"));
      assert.deepEqual(skipped, [
        "Skipped latency: oha not found in the tools folder or on PATH ('deno task tools' builds it).",
      ]);
      const json = JSON.parse(await Deno.readTextFile(out)) as BenchResult;
      assert.equal(json.latency, undefined);
      assert.deepEqual(json.skipped.map((s) => s.case), ["latency"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "bench: the telemetry a run dropped is read from the app's own /metrics",
  permissions: { net: true },
  async fn() {
    let body = "";
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) =>
        new URL(req.url).pathname === "/metrics"
          ? new Response(body)
          : new Response("", { status: 404 }),
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    body = [
      "# HELP app_telemetry_dropped_total x",
      'app_telemetry_dropped_total{signal="traces",reason="queue_full"} 12',
      'app_telemetry_dropped_total{signal="logs",reason="queue_full"} 3',
      "app_telemetry_export_failures_total 99",
    ].join("\n");
    assert.equal(await telemetryDropped(url), 15);
    body = "http_requests_total 5";
    assert.equal(await telemetryDropped(url), null, "no loss counter: not counted");
    await server.shutdown();
    assert.equal(await telemetryDropped(url), null, "no server");
  },
});

Deno.test({
  name: "reference servers: --help exits 0 with what they are; a bad --port is one line, exit 2",
  permissions: { run: true, read: true, env: true },
  async fn() {
    for (const script of ["scripts/lib/bench/bare_hono.ts", "scripts/lib/bench/floor_app.ts"]) {
      const flags = ["--allow-net", "--allow-env=OTEL_EXPORTER_OTLP_ENDPOINT"];
      const help = await runScript(script, flags, ["--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /The bench's (bare|floor) variant[\s\S]*--port N/);
      const bad = await runScript(script, flags, ["--port", "70000"]);
      assert.equal(bad.code, 2);
      assert.equal(bad.stderr.trim(), "error: --port must be 0..65535, got '70000'");
    }
  },
});
