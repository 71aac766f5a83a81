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
  median,
  roundOrder,
  spread,
  summarizeThroughput,
  sustained,
  type ThroughputRun,
} from "../scripts/lib/bench/mod.ts";
import { processCpuMs, startApp } from "../scripts/lib/bench/bench_procs.ts";
import {
  findWrk,
  parseWrkDuration,
  parseWrkOutput,
  runWrk,
} from "../scripts/lib/bench/bench_wrk.ts";
import { freePort } from "../scripts/lib/net.ts";
import { missing, runScript } from "./support.ts";

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
        ratioToOff: 0.42,
        appCpuUsPerReq: 30.1,
        collectorCpuUsPerReq: 8.2,
        errors: 0,
      }],
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
  assert.match(
    md,
    /\| on: instrumented \| 20000 \| ±2\.0% \| 0\.420 \| 1\.20 \| 4\.50 \| 30\.1 \| 8\.2 \| 0 \|/,
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
