/**
 * What a hostile but fair client sends must not hurt either app: invented
 * methods do not create series (they are `_OTHER`, as the OpenTelemetry HTTP
 * semantic conventions record them), a known route with a wrong method is a
 * 405 with `Allow`, a malformed `Host` header is a counted 400 that leaves
 * every other metric alone, and routing looks at the path only.
 *
 * Requests are written on a raw TCP socket so the method and Host header are
 * exactly what the test says (fetch would normalise or refuse some of them).
 */
import { strict as assert } from "node:assert";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { createInstrumentedApp } from "../apps/lib/platform_app.ts";
import { createLogger, setLogSink } from "../apps/lib/logger.ts";
import { createMetricsPullApp } from "../apps/lib/pull_app.ts";
import { initializeObservability } from "../apps/otel_setup.ts";
import { startServer } from "../apps/lib/server.ts";

const integration = { permissions: { net: true, env: true, read: true, sys: true } } as const;

interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** One HTTP/1.1 request on its own connection, exactly as given. */
async function raw(port: number, method: string, path: string, host: string): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const text = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(text));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    const deadline = AbortSignal.timeout(5000);
    while (!deadline.aborted) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const all = new TextDecoder().decode(
      chunks.reduce((a, b) => {
        const out = new Uint8Array(a.length + b.length);
        out.set(a);
        out.set(b, a.length);
        return out;
      }, new Uint8Array()),
    );
    const [head, ...rest] = all.split("\r\n\r\n");
    const [statusLine, ...headerLines] = head.split("\r\n");
    const headers = new Headers();
    for (const line of headerLines) {
      const i = line.indexOf(":");
      headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
  } finally {
    try {
      conn.close();
    } catch { /* already closed by the server */ }
  }
}

function series(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(name + "{") || l.startsWith(name + " "));
}

function value(text: string, name: string, labels = ""): number {
  const line = series(text, name).find((l) => l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : NaN;
}

interface Served {
  port: number;
  metrics(): Promise<string>;
  spans?: InMemorySpanExporter;
  logs: string[];
}

async function withBothApps(fn: (name: string, app: Served) => Promise<void>) {
  const logs: string[] = [];
  const prevSink = setLogSink({ write: (line) => logs.push(line) });
  const spans = new InMemorySpanExporter();
  const observability = initializeObservability({
    serviceName: "hostile-test",
    spanExporter: spans,
    simpleSpanProcessor: true,
    metrics: false,
  });
  const instrumented = createInstrumentedApp({
    serviceName: "hostile-test",
    observability,
    logger: createLogger("hostile-test"),
    // The access log is where a request's method is written: on, so the test can look.
    accessLog: true,
  });
  const pull = createMetricsPullApp({
    logger: createLogger("pull"),
    defaultMetrics: false,
    accessLog: true,
  });
  const servers = [
    [
      "instrumented",
      instrumented,
      startServer(instrumented.app, { port: 0, hostname: "127.0.0.1" }),
    ],
    ["pull", pull, startServer(pull.app, { port: 0, hostname: "127.0.0.1" })],
  ] as const;
  try {
    for (const [name, built, server] of servers) {
      logs.length = 0;
      spans.reset();
      await fn(name, {
        port: server.port,
        metrics: () => built.registry.metrics(),
        spans: name === "instrumented" ? spans : undefined,
        logs,
      });
    }
  } finally {
    for (const [, , server] of servers) await server.stop();
    await observability.shutdown();
    setLogSink(prevSink);
  }
}

Deno.test({
  name: "invented methods are recorded as _OTHER: no new series, span names or log values",
  ...integration,
  async fn() {
    await withBothApps(async (name, app) => {
      for (let i = 0; i < 200; i++) {
        const res = await raw(app.port, `M${i}`, "/health", "localhost");
        assert.equal(res.status, 405, `${name}: M${i} /health is a 405`);
      }
      const text = await app.metrics();
      const methods = new Set(
        series(text, "http_requests_total").map((l) => /method="([^"]*)"/.exec(l)?.[1]),
      );
      assert.deepEqual([...methods], ["_OTHER"], `${name}: method label values ${[...methods]}`);
      assert.equal(
        value(text, "http_requests_total", 'method="_OTHER",endpoint="/health",status="405"'),
        200,
        `${name}: the 200 requests are counted once each`,
      );
      assert.ok(!/method="M\d+"/.test(text), `${name}: no invented method in /metrics`);
      assert.ok(!app.logs.join("").match(/"method":"M\d+"/), `${name}: no invented method logged`);
      if (app.spans) {
        const finished = app.spans.getFinishedSpans();
        assert.equal(finished.length, 200);
        for (const span of finished) {
          assert.ok(!/M\d+/.test(span.name), `span name '${span.name}'`);
          assert.equal(span.attributes["http.request.method"], "_OTHER");
          assert.match(String(span.attributes["http.request.method_original"]), /^M\d+$/);
        }
      }
    });
  },
});

Deno.test({
  name: "a known route with a wrong method is a 405 naming the allowed methods",
  ...integration,
  async fn() {
    await withBothApps(async (name, app) => {
      for (const method of ["POST", "DELETE", "PUT", "PATCH"]) {
        const res = await raw(app.port, method, "/health", "localhost");
        assert.equal(res.status, 405, `${name}: ${method} /health`);
        assert.equal(res.headers.get("allow"), "GET, HEAD", `${name}: ${method} /health Allow`);
      }
      const head = await raw(app.port, "HEAD", "/health", "localhost");
      assert.equal(head.status, 200, `${name}: HEAD /health`);
      const missing = await raw(app.port, "POST", "/no/such/route", "localhost");
      assert.equal(missing.status, 404, `${name}: an unknown path stays 404 whatever the method`);
    });
  },
});

Deno.test({
  name: "a malformed Host header is a counted 400; gauges and business metrics untouched",
  ...integration,
  async fn() {
    await withBothApps(async (name, app) => {
      const before = await app.metrics();
      const hosts = [
        "x:99999",
        "[::zz",
        "a%b",
        "x:-1",
        "x/metrics?",
        "a b",
        "x:80:80",
        "1.2.3.999",
        "0.0.0.256",
      ];
      for (const host of hosts) {
        const res = await raw(app.port, "GET", "/health", host);
        assert.equal(res.status, 400, `${name}: Host '${host}' answers ${res.status}`);
        assert.ok(!res.body.includes("# TYPE"), `${name}: Host '${host}' did not serve /metrics`);
      }
      const after = await app.metrics();
      assert.equal(value(after, "http_active_connections"), 0, `${name}: gauge back to 0`);
      assert.equal(
        value(after, "http_requests_total", 'method="GET",endpoint="/health",status="400"'),
        hosts.length,
        `${name}: every bad request is counted with its status`,
      );
      assert.equal(series(after, "http_requests_total").length, 1, `${name}: nothing else counted`);
      if (name === "instrumented") {
        for (const outcome of ["completed", "lost"]) {
          const labels = `outcome="${outcome}"`;
          assert.equal(
            value(after, "app_revenue_dollars_total", labels),
            value(before, "app_revenue_dollars_total", labels),
            `revenue ${outcome} untouched`,
          );
        }
      }
      // A well-formed Host (name, IPv4, IPv6 literal, with or without a port) still works.
      for (const host of ["localhost", "127.0.0.1:8000", "[::1]:5000", "example.com"]) {
        assert.equal((await raw(app.port, "GET", "/health", host)).status, 200, host);
      }
    });
  },
});
