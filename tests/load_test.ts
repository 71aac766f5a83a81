import { strict as assert } from "node:assert";
import { MissingPrerequisite, UsageError } from "../scripts/lib/cli.ts";
import { freePort } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import {
  chapterMix,
  formatReport,
  isLoopbackHost,
  parseTarget,
  pathsMix,
  runLoad,
  type TrafficMix,
} from "../scripts/lib/load/mod.ts";
import { spawnInstrumentedApp } from "../scripts/lib/load/load_target.ts";
import { findTool, runScript } from "./support.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
/**
 * Sends load to a server this test serves on loopback (reading: the engine's
 * Workers load scripts/lib/load/worker.ts).
 */
const loopback = { permissions: { net: true, read: true, run: false, write: false } } as const;
/** Runs scripts/load.ts as a subprocess. */
const cli = { permissions: { net: false, run: true, read: true, write: false } } as const;
/** Runs scripts/load.ts (or the instrumented app) against a loopback server. */
const cliLoopback = { permissions: { ...cli.permissions, net: true } } as const;
/** As cliLoopback, finding `script` on PATH. */
const cliTerminal = { permissions: { ...cliLoopback.permissions, env: true } } as const;

/** A loopback test server that records when each request arrives. */
function testServer(handler: (req: Request) => Promise<Response> | Response) {
  const arrivals: number[] = [];
  const paths: string[] = [];
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
    arrivals.push(performance.now());
    const u = new URL(req.url);
    paths.push(u.pathname + u.search);
    return handler(req);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    paths,
    /**
     * Arrival rate seen by the server: the least-squares slope of arrival
     * time against arrival number (robust to jitter of the first and last
     * request, unlike (n - 1) / (last - first)).
     */
    arrivalRate(): number {
      const n = arrivals.length;
      const meanI = (n - 1) / 2;
      const meanT = arrivals.reduce((a, b) => a + b, 0) / n;
      let num = 0, den = 0;
      arrivals.forEach((t, i) => {
        num += (i - meanI) * (t - meanT);
        den += (i - meanI) ** 2;
      });
      return 1000 / (num / den);
    },
    close: () => server.shutdown(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function within(actual: number, expected: number, fraction: number, what: string) {
  const dev = Math.abs(actual - expected) / expected;
  assert.ok(
    dev <= fraction,
    `${what}: ${actual.toFixed(2)} is ${(dev * 100).toFixed(2)} % from ${expected} (max ${
      fraction * 100
    } %)`,
  );
}

Deno.test({
  name: "load: 200 rps for 3 s arrives at the server within 2 %",
  ...loopback,
  async fn() {
    const srv = testServer(() => new Response("ok"));
    try {
      const r = await runLoad({
        target: srv.url,
        rate: 200,
        durationMs: 3000,
        mix: pathsMix(["/"]),
      });
      assert.equal(r.scheduled, 600);
      assert.equal(r.sent, 600);
      assert.equal(r.dropped, 0);
      assert.equal(r.completed, 600);
      assert.deepEqual(r.statusCounts, { "200": 600 });
      assert.equal(srv.arrivals.length, 600);
      within(r.achievedRate, 200, 0.02, "achieved rate (client)");
      within(srv.arrivalRate(), 200, 0.02, "arrival rate (server)");
      assert.ok(r.latencyMs !== null);
      assert.ok(r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
      assert.match(formatReport(r), /p99 \d+\.\d\dms/);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "load: 5,000/s for 3 s against a trivial server: within 1 %, nothing dropped",
  ...loopback,
  async fn() {
    const srv = testServer(() => new Response("ok"));
    try {
      const r = await runLoad({
        target: srv.url,
        rate: 5000,
        durationMs: 3000,
        mix: pathsMix(["/"]),
        signal: AbortSignal.timeout(15_000),
      });
      assert.equal(r.interrupted, false);
      assert.equal(r.scheduled, 15_000);
      assert.equal(r.dropped, 0, formatReport(r));
      assert.equal(r.sent, 15_000);
      assert.equal(r.errors, 0, formatReport(r));
      assert.equal(srv.arrivals.length, 15_000);
      within(r.achievedRate, 5000, 0.01, "achieved rate (client)");
      within(srv.arrivalRate(), 5000, 0.01, "arrival rate (server)");
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "load: a server that stops answering for 500 ms shows as latency, not as a lower rate",
  ...loopback,
  async fn() {
    // Every response due between 1.0 s and 1.5 s after the first request waits
    // until 1.5 s: a server-side stall (a GC pause, a lock).
    let first = 0;
    const srv = testServer(async () => {
      const now = performance.now();
      first ||= now;
      const t = now - first;
      if (t >= 1000 && t < 1500) await sleep(1500 - t);
      return new Response("ok");
    });
    try {
      const r = await runLoad({
        target: srv.url,
        rate: 1000,
        durationMs: 3000,
        concurrency: 2000,
        mix: pathsMix(["/"]),
        signal: AbortSignal.timeout(15_000),
      });
      assert.equal(r.sent, 3000);
      assert.equal(r.dropped, 0);
      assert.equal(r.completed, 3000);
      within(r.achievedRate, 1000, 0.01, "achieved rate");
      within(srv.arrivalRate(), 1000, 0.01, "arrival rate at a stalling server");
      const l = r.latencyMs!;
      // Latency counts from when each request was due: the one due at 1.0 s
      // waited ~500 ms, and about 1 in 6 requests waited for the stall.
      assert.ok(l.max >= 450 && l.max < 1000, `max ${l.max} ms`);
      assert.ok(l.p95 >= 300, `p95 ${l.p95} ms: the stall must show in the percentiles`);
      assert.ok(l.p50 < 50, `p50 ${l.p50} ms`);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "load: a server that stalls 2 s does not lower the offered rate",
  ...loopback,
  async fn() {
    const srv = testServer(async () => {
      await sleep(2000);
      return new Response("late");
    });
    try {
      const started = performance.now();
      const r = await runLoad({
        target: srv.url,
        rate: 100,
        durationMs: 3000,
        concurrency: 1000,
        mix: pathsMix(["/"]),
        // Bounded even if the generator were (wrongly) waiting on responses.
        signal: AbortSignal.timeout(8000),
      });
      assert.equal(r.interrupted, false);
      const tookS = (performance.now() - started) / 1000;
      // A closed model with 1 connection would have sent 2 requests; we sent all 300 on time.
      assert.equal(r.sent, 300);
      assert.equal(r.dropped, 0);
      within(srv.arrivalRate(), 100, 0.02, "arrival rate at a stalled server");
      within(r.achievedRate, 100, 0.02, "achieved rate");
      assert.ok(r.latencyMs !== null && r.latencyMs.p50 >= 2000, `p50 ${r.latencyMs?.p50}`);
      // Scheduling took the duration; the wait afterwards is the stall of the last requests.
      assert.ok(tookS < 3 + 2 + 1.5, `run took ${tookS}s`);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "load: the concurrency cap drops due requests instead of slowing down",
  ...loopback,
  async fn() {
    const srv = testServer(async () => {
      await sleep(2000);
      return new Response("late");
    });
    try {
      const started = performance.now();
      const r = await runLoad({
        target: srv.url,
        rate: 100,
        durationMs: 3000,
        concurrency: 50,
        mix: pathsMix(["/"]),
        signal: AbortSignal.timeout(8000),
      });
      assert.equal(r.interrupted, false);
      const tookS = (performance.now() - started) / 1000;
      assert.equal(r.scheduled, 300, "every due request is accounted for");
      assert.equal(r.sent + r.dropped, 300);
      assert.ok(r.dropped >= 100, `dropped ${r.dropped}`);
      assert.ok(r.sent <= 160, `sent ${r.sent}`);
      assert.equal(srv.arrivals.length, r.sent);
      within(r.offeredRate, 100, 0.02, "offered rate");
      assert.ok(tookS < 3 + 2 + 1.5, `run took ${tookS}s`);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "load: --max-requests bounds the run and the chapter's mix is followed",
  ...loopback,
  async fn() {
    const srv = testServer((req) =>
      new URL(req.url).pathname === "/error"
        ? new Response("boom", { status: 500 })
        : new Response("ok")
    );
    try {
      const r = await runLoad({
        target: srv.url,
        rate: 500,
        durationMs: 60_000,
        maxRequests: 100,
        mix: chapterMix,
      });
      assert.equal(r.sent, 100);
      assert.ok(r.elapsedS < 5, `took ${r.elapsedS}s`);
      const count = (p: string) => srv.paths.filter((x) => x === p).length;
      assert.equal(count("/error"), 2); // 50th, 100th
      assert.equal(count("/wp-login.php"), 2); // 40th, 80th: the chapter's 404s
      assert.equal(count("/api/admin"), 2); // 25th, 75th: the chapter's 401s
      assert.equal(count("/api/data?delay=0.5"), 2); // 20th, 60th
      assert.equal(count("/api/data?delay=0.1"), 92);
      assert.deepEqual(r.statusCounts, { "200": 98, "500": 2 });
      assert.equal(r.errors, 2);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "load: requests past --timeout count as timeouts; an abort stops a slow schedule at once",
  ...loopback,
  async fn() {
    const srv = testServer(async () => {
      await sleep(2000);
      return new Response("late");
    });
    try {
      const started = performance.now();
      const r = await runLoad({
        target: srv.url,
        rate: 20,
        durationMs: 500,
        timeoutMs: 300,
        mix: pathsMix(["/"]),
      });
      assert.equal(r.sent, 10);
      assert.equal(r.statusCounts["timeout"], 10);
      assert.equal(r.errors, 10);
      assert.equal(r.completed, 0);
      assert.ok(performance.now() - started < 1500, "did not wait for the stalled responses");
    } finally {
      await srv.close();
    }
    // One request every 10 s: aborting after 200 ms must not wait for the next one.
    const fast = testServer(() => new Response("ok"));
    try {
      const ctl = new AbortController();
      setTimeout(() => ctl.abort(), 200);
      const started = performance.now();
      const r = await runLoad({
        target: fast.url,
        rate: 0.1,
        durationMs: 60_000,
        mix: pathsMix(["/"]),
        signal: ctl.signal,
      });
      assert.ok(performance.now() - started < 1000, "abort ended the sleep");
      assert.equal(r.interrupted, true);
      assert.equal(r.sent, 1);
    } finally {
      await fast.close();
    }
  },
});

Deno.test({
  name: "load: a traffic mix cannot send a request to another host than the target",
  ...loopback,
  async fn() {
    const target = testServer(() => new Response("ok"));
    const elsewhere = testServer(() => new Response("stolen"));
    try {
      const port = new URL(elsewhere.url).port;
      // The target passes the loopback check; the path names another host.
      const sneaky: TrafficMix = () => `//127.0.0.1:${port}/x`;
      await assert.rejects(
        runLoad({ target: target.url, rate: 50, durationMs: 200, mix: sneaky }),
        (e: Error) => e instanceof UsageError && /path/.test(e.message),
      );
      assert.equal(elsewhere.arrivals.length, 0, "no request reached the other host");
      assert.equal(target.arrivals.length, 0);
    } finally {
      await target.close();
      await elsewhere.close();
    }
  },
});

/**
 * A loopback server speaking raw HTTP/1.x, answering each path with the bytes
 * in `responses` (and closing the connection after the ones in `closeAfter`):
 * the shapes of response Deno.serve never sends.
 */
function rawServer(responses: Record<string, string>, closeAfter: Set<string>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const conns = new Set<Deno.Conn>();
  const serveConn = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(8192);
    let text = "";
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        text += new TextDecoder().decode(buf.subarray(0, n));
        let end;
        while ((end = text.indexOf("\r\n\r\n")) >= 0) {
          const path = text.slice(0, end).split(" ")[1];
          text = text.slice(end + 4);
          const bytes = new TextEncoder().encode(responses[path] ?? "HTTP/1.1 404 NF\r\n\r\n");
          // In pieces, so that heads and bodies straddle reads.
          for (let i = 0; i < bytes.length; i += 7000) {
            await conn.write(bytes.subarray(i, i + 7000));
          }
          if (closeAfter.has(path)) return;
        }
      }
    } catch {
      // the client went away
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      serveConn(conn);
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    accepted: () => accepted,
    close() {
      listener.close();
      for (const c of conns) c.close();
    },
  };
}

Deno.test({
  name:
    "load: the HTTP/1.1 client reads Content-Length, chunked, close-delimited and 1xx responses, reuses connections",
  ...loopback,
  async fn() {
    const big = "x".repeat(300_000);
    const srv = rawServer({
      "/cl": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      "/chunked":
        "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n" +
        "0\r\nx-trailer: 1\r\n\r\n",
      "/big": `HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n${big}`,
      "/hints": "HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" +
        "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n",
      "/until-close": "HTTP/1.0 200 OK\r\n\r\nthe body runs to the end",
      "/empty": "HTTP/1.1 204 No Content\r\n\r\n",
      // Closed right after a keep-alive answer: the next request on that
      // connection finds it gone and must be sent again on a new one.
      "/then-gone": "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
      "/garbage": "SSH-2.0-not-http\r\n\r\n",
    }, new Set(["/until-close", "/then-gone", "/garbage"]));
    try {
      const paths = ["/cl", "/chunked", "/big", "/hints", "/until-close", "/empty", "/then-gone"];
      const r = await runLoad({
        target: srv.url,
        rate: 200,
        durationMs: 60_000,
        maxRequests: paths.length * 20,
        mix: pathsMix(paths),
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(r.interrupted, false);
      assert.deepEqual(r.statusCounts, { "200": 80, "201": 20, "202": 20, "204": 20 });
      assert.equal(r.errors, 0);
      // Keep-alive: one connection per closing answer, and few others.
      assert.ok(srv.accepted() <= 40 + 10, `accepted ${srv.accepted()} connections`);
      const bad = await runLoad({
        target: srv.url,
        rate: 50,
        durationMs: 100,
        mix: pathsMix(["/garbage"]),
      });
      assert.deepEqual(bad.statusCounts, { "network-error": 5 });
    } finally {
      srv.close();
    }
  },
});

Deno.test({
  name: "load: without read access to its Worker module the engine says what to grant",
  permissions: { net: true, read: false, run: false, write: false },
  async fn() {
    await assert.rejects(
      runLoad({ target: "http://127.0.0.1:9", rate: 10, durationMs: 100 }),
      (e: Error) => e instanceof MissingPrerequisite && /--allow-read=\./.test(e.message),
    );
  },
});

Deno.test({
  name: "load: an unreachable target counts network errors",
  ...loopback,
  async fn() {
    const port = freePort(); // nothing listens here
    const r = await runLoad({
      target: `http://127.0.0.1:${port}`,
      rate: 50,
      durationMs: 200,
      mix: pathsMix(["/"]),
    });
    assert.equal(r.sent, 10);
    assert.equal(r.completed, 0);
    assert.equal(r.errors, 10);
    assert.equal(r.statusCounts["network-error"], 10);
    assert.equal(r.latencyMs, null);
  },
});

Deno.test({
  name: "load: validation refuses remote targets and bad values",
  ...unit,
  async fn() {
    assert.ok(isLoopbackHost("127.0.0.1"));
    assert.ok(isLoopbackHost("127.1.2.3"));
    assert.ok(isLoopbackHost("localhost"));
    assert.ok(isLoopbackHost("[::1]"));
    assert.ok(!isLoopbackHost("example.com"));
    assert.ok(!isLoopbackHost("10.0.0.1"));
    assert.ok(!isLoopbackHost("128.0.0.1"));
    assert.throws(() => parseTarget("http://example.com"), /--allow-remote/);
    assert.equal(parseTarget("http://example.com", true).hostname, "example.com");
    assert.throws(() => parseTarget("not a url"), UsageError);
    assert.throws(() => parseTarget("ftp://127.0.0.1/"), UsageError);
    assert.throws(() => pathsMix(["api"]), UsageError);
    // A path, not a URL: anything the URL parser would resolve to another
    // host (scheme-relative, absolute, a backslash read as '/', a tab or
    // newline it strips) is refused.
    for (
      const p of [
        "//example.com/x",
        "///example.com/x",
        "/\\example.com/x",
        "\\/example.com/x",
        "/\t/example.com/x",
        "/\n/example.com/x",
        "http://example.com/x",
        "https:example.com",
        "",
      ]
    ) {
      assert.throws(() => pathsMix([p]), UsageError, JSON.stringify(p));
    }
    assert.equal(pathsMix(["/api/data?delay=0.1"])(1), "/api/data?delay=0.1");
    assert.equal(pathsMix(["/a//b?u=http://x"])(1), "/a//b?u=http://x");
    const base = { target: "http://127.0.0.1:1", durationMs: 100 };
    await assert.rejects(runLoad({ ...base, target: "http://10.1.2.3:80", rate: 1 }), UsageError);
    await assert.rejects(runLoad({ ...base, rate: 0 }), UsageError);
    await assert.rejects(runLoad({ ...base, rate: 1, durationMs: 0 }), UsageError);
    await assert.rejects(runLoad({ ...base, rate: 1, maxRequests: 0 }), UsageError);
    await assert.rejects(runLoad({ ...base, rate: 1, concurrency: 0 }), UsageError);
  },
});

function runLoadCli(args: string[], opts: { sigintAfterMs?: number } = {}) {
  return runScript(
    "scripts/load.ts",
    ["--allow-net", "--allow-env", "--allow-read=."],
    args,
    opts,
  );
}

Deno.test({
  name: "load CLI: usage errors exit 2 with one line",
  ...cli,
  async fn() {
    for (
      const args of [
        ["--rate", "abc"],
        ["--duration", "forever"],
        ["--target", "http://192.0.2.10:8000", "--duration", "1s"],
        ["--concurrency", "0"],
        ["--nope"],
        // Paths that are URLs: the request would leave the (loopback) target.
        // 192.0.2.0/24 is TEST-NET-1: should a request leak, it goes nowhere.
        ["--path", "//192.0.2.10/x", "--duration", "200ms", "--timeout", "200ms"],
        ["--path", "http://192.0.2.10/x", "--duration", "200ms", "--timeout", "200ms"],
        ["--path", "/\\192.0.2.10/x", "--duration", "200ms", "--timeout", "200ms"],
      ]
    ) {
      const r = await runLoadCli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^error: /);
    }
  },
});

Deno.test({
  name: "load CLI: Ctrl-C prints the summary so far",
  ...cliLoopback,
  async fn() {
    const srv = testServer(() => new Response("ok"));
    try {
      const r = await runLoadCli(
        ["--target", srv.url, "--rate", "50", "--duration", "60s", "--path", "/", "--json"],
        { sigintAfterMs: 2500 },
      );
      assert.equal(r.code, 130, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.interrupted, true);
      assert.ok(report.sent > 10 && report.sent < 150, `sent ${report.sent}`);
      assert.equal(report.statusCounts["200"], report.completed);
      assert.equal(typeof report.latencyMs.p99, "number");
    } finally {
      await srv.close();
    }
  },
});

/** Sums a counter family's samples in Prometheus text, optionally filtered by a label text. */
function counterSum(metrics: string, name: string, labelFilter = ""): number {
  let sum = 0;
  for (const line of metrics.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes(labelFilter)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

Deno.test({
  name: "load CLI: 200 rps for 10 s against the instrumented app, within 2 %, prints p99",
  ...cliLoopback,
  async fn() {
    const app = await spawnInstrumentedApp();
    try {
      const before = await (await fetch(`${app.url}/metrics`)).text();
      const r = await runLoadCli(["--target", app.url, "--rate", "200", "--duration", "10s"]);
      assert.equal(r.code, 0, r.stderr);
      const achieved = Number(/achieved ([\d.]+)\/s/.exec(r.stdout)?.[1]);
      within(achieved, 200, 0.02, "achieved rate against the app");
      const p99 = Number(/p99 ([\d.]+)ms/.exec(r.stdout)?.[1]);
      // The chapter's mix: 5 % of requests take 0.5 s, so p99 is at least that.
      assert.ok(p99 >= 500 && p99 < 2000, `p99 ${p99} ms\n${r.stdout}`);
      assert.match(r.stdout, /sent 2000 +dropped 0/);
      // Not a terminal: plain progress lines (every 5 s) on stderr, no cursor tricks.
      assert.match(r.stderr, /^5\.\ds {2}sent \d+ {2}rps [\d.]+ {2}errors \d+ .* p99 [\d.]+ms$/m);
      assert.ok(!r.stderr.includes("\x1b["), r.stderr);
      assert.match(r.stdout, /200=1880 +401=40 +404=40 +500=40/);
      // The app saw every one of them (its own counter, by route and status).
      const after = await (await fetch(`${app.url}/metrics`)).text();
      const delta = (f: string) =>
        counterSum(after, "http_requests_total", f) - counterSum(before, "http_requests_total", f);
      assert.equal(delta('endpoint="/api/data"'), 1880);
      assert.equal(delta('status="500"'), 40);
      assert.equal(delta('endpoint="/api/admin",status="401"'), 40);
      assert.equal(delta('endpoint="unmatched",status="404"'), 40);
    } finally {
      await app.stop();
    }
  },
});

Deno.test({
  name: "load CLI: on a terminal the progress line is redrawn in place",
  ...cliTerminal,
  // `script` (util-linux) gives the command a pseudo-terminal.
  ignore: findTool("script") === null,
  async fn() {
    const srv = testServer(() => new Response("ok"));
    try {
      const cmd = [
        Deno.execPath(),
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read=.",
        repoPath("scripts/load.ts"),
        "--target",
        srv.url,
        "--rate",
        "20",
        "--duration",
        "2500ms",
        "--path",
        "/",
      ].join(" ");
      const out = await new Deno.Command(findTool("script")!, {
        args: ["-qec", cmd, "/dev/null"],
        cwd: repoPath(),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, text);
      const redraws = text.split("\r\x1b[2K").length - 1;
      assert.ok(redraws >= 3, `expected the line redrawn each second: ${JSON.stringify(text)}`);
      const ESC = String.fromCharCode(27);
      assert.match(text, new RegExp(`\\r${ESC}\\[2K2\\.0s {2}sent 4\\d {2}rps`));
      assert.match(text, /Load finished: .*\r?\n.*scheduled 50 {2}sent 50/);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "load: --header is sent with every request, never printed; a malformed one is exit 2",
  ...cliLoopback,
  async fn() {
    const seen: (string | null)[] = [];
    const srv = testServer((req) => {
      seen.push(req.headers.get("authorization"));
      return new Response("ok");
    });
    try {
      const secret = "Bearer not-admin-" + crypto.randomUUID();
      const r = await runLoadCli([
        "--target",
        srv.url,
        "--rate",
        "50",
        "--max-requests",
        "10",
        "--path",
        "/api/admin",
        "--header",
        `Authorization: ${secret}`,
        "--quiet",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(seen.length, 10);
      assert.ok(seen.every((h) => h === secret), "sent with every request");
      assert.ok(!(r.stdout + r.stderr).includes("not-admin-"), "the value is never printed");
      const bad = await runLoadCli(["--target", srv.url, "--header", `no colon ${secret}`]);
      assert.equal(bad.code, 2);
      assert.ok(!(bad.stdout + bad.stderr).includes("not-admin-"), "not even in the error");
    } finally {
      await srv.close();
    }
  },
});
