/**
 * The instrumented app (phase 4) served on a free loopback port, with spans
 * captured by the SDK's in-memory exporter and logs captured from the sink.
 */
import { strict as assert } from "node:assert";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { createInstrumentedApp, parseDelay } from "../apps/lib/platform_app.ts";
import { createLogger, setLogSink } from "../apps/lib/logger.ts";
import { initializeObservability } from "../apps/otel_setup.ts";
import { startServer } from "../apps/lib/server.ts";

const integration = { permissions: { net: true, env: true, read: true, sys: true } } as const;

async function withApp(
  fn: (base: string, spans: InMemorySpanExporter, logs: string[]) => Promise<void>,
  adminToken?: string,
  accessLog = false,
) {
  const spans = new InMemorySpanExporter();
  const logs: string[] = [];
  const prevSink = setLogSink({ write: (line) => logs.push(line) });
  const observability = initializeObservability({
    serviceName: "test-app",
    spanExporter: spans,
    simpleSpanProcessor: true,
    metrics: false,
  });
  const { app } = createInstrumentedApp({
    serviceName: "test-app",
    observability,
    adminToken,
    accessLog,
    logger: createLogger("test-app"),
  });
  const server = startServer(app, { port: 0, hostname: "127.0.0.1" });
  try {
    await fn(server.url, spans, logs);
  } finally {
    await server.stop();
    await observability.shutdown();
    setLogSink(prevSink);
  }
}

async function getJson(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function metricLines(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(name + "{") || l.startsWith(name + " "));
}

Deno.test({
  name: "every endpoint answers with the documented status and JSON body",
  ...integration,
  async fn() {
    await withApp(async (base) => {
      const health = await getJson(`${base}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.body.status, "healthy");

      const data = await getJson(`${base}/api/data`);
      assert.equal(data.status, 200);
      assert.equal(typeof data.body.data.id, "number");
      assert.equal(data.body.delay_seconds, 0);

      const t0 = performance.now();
      const slow = await getJson(`${base}/api/data?delay=0.2`);
      assert.equal(slow.status, 200);
      assert.equal(slow.body.delay_seconds, 0.2);
      assert.ok(performance.now() - t0 >= 190, "delay is honoured");

      const err = await getJson(`${base}/error`);
      assert.equal(err.status, 500);
      assert.equal(err.body.error, "internal server error");
      assert.match(err.body.trace_id, /^[0-9a-f]{32}$/);

      const missing = await getJson(`${base}/no/such/route`);
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { error: "not found", path: "/no/such/route" });

      const metrics = await fetch(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get("content-type") ?? "", /text\/plain/);
      const text = await metrics.text();
      for (
        const family of [
          "http_requests_total",
          "http_request_duration_seconds",
          "http_active_connections",
        ]
      ) {
        assert.match(text, new RegExp(`# TYPE ${family} `));
      }
      const sizes = metricLines(text, "http_response_size_bytes_count");
      assert.ok(
        sizes.some((l) => l.includes('endpoint="/api/data"') && !l.endsWith(" 0")),
        `response sizes observed for /api/data: ${sizes.join("; ")}`,
      );
      assert.ok(
        metricLines(text, "http_requests_total").some((l) =>
          l.includes('endpoint="/error"') && l.includes('status="500"')
        ),
      );
    });
  },
});

Deno.test({
  name: "/api/admin: 401 without credentials, 403 for a non-admin token, 200 for the admin token",
  ...integration,
  async fn() {
    await withApp(async (base, _spans, logs) => {
      assert.equal((await getJson(`${base}/api/admin`)).status, 401);
      const denied = await getJson(`${base}/api/admin`, {
        headers: { authorization: "Bearer not-the-token" },
      });
      assert.equal(denied.status, 403);
      const ok = await getJson(`${base}/api/admin`, {
        headers: { authorization: "Bearer s3cret-admin" },
      });
      assert.equal(ok.status, 200);
      assert.ok(!logs.join("").includes("not-the-token"), "tokens never reach the logs");
      assert.ok(!logs.join("").includes("s3cret-admin"), "tokens never reach the logs");
    }, "s3cret-admin");
  },
});

Deno.test({
  name: "every bad delay is a 400 naming the parameter",
  ...integration,
  async fn() {
    await withApp(async (base) => {
      for (
        const q of [
          "delay=abc",
          "delay=-1",
          "delay=10",
          "delay=1e309",
          "delay=",
          "delay=1&delay=2",
          "delay=5.01",
          "delay=0x1",
        ]
      ) {
        const res = await getJson(`${base}/api/data?${q}`);
        assert.equal(res.status, 400, q);
        assert.equal(res.body.parameter, "delay", q);
        assert.equal(typeof res.body.detail, "string", q);
      }
    });
  },
});

Deno.test("parseDelay accepts plain decimals 0..5 only", () => {
  assert.deepEqual(parseDelay(undefined), { seconds: 0 });
  assert.deepEqual(parseDelay(["0.5"]), { seconds: 0.5 });
  assert.deepEqual(parseDelay(["5"]), { seconds: 5 });
  for (const bad of [["abc"], ["-1"], ["10"], ["1e309"], [""], ["1", "2"], ["NaN"], [" 1"]]) {
    assert.ok("error" in parseDelay(bad), JSON.stringify(bad));
  }
});

Deno.test({
  name: '2,000 distinct unknown paths add no series beyond endpoint="unmatched"',
  ...integration,
  async fn() {
    await withApp(async (base) => {
      // The first scrape counts itself under endpoint="/metrics"; baseline after it.
      await (await fetch(`${base}/metrics`)).text();
      const seriesBefore = metricLines(
        await (await fetch(`${base}/metrics`)).text(),
        "http_requests_total",
      );
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from(
            { length: 100 },
            (_, i) =>
              fetch(`${base}/random/${batch}-${i}-${crypto.randomUUID()}`).then((r) =>
                r.body?.cancel()
              ),
          ),
        );
      }
      const text = await (await fetch(`${base}/metrics`)).text();
      const series = metricLines(text, "http_requests_total");
      const added = series.filter((s) =>
        !seriesBefore.some((b) => b.split("}")[0] === s.split("}")[0])
      );
      assert.deepEqual(
        added.map((s) => s.split("}")[0] + "}"),
        ['http_requests_total{method="GET",endpoint="unmatched",status="404"}'],
      );
      assert.ok(series.some((s) => s.includes('endpoint="unmatched"') && s.endsWith(" 2000")));
      const buckets = metricLines(text, "http_request_duration_seconds_bucket");
      assert.ok(!buckets.some((b) => b.includes("/random/")), "no raw path in any label");
    });
  },
});

function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  assert.ok(span, `span ${name} not found in ${spans.map((s) => s.name).join(", ")}`);
  return span;
}

Deno.test({
  name: "one server span per request named 'METHOD route' with semantic-convention attributes",
  ...integration,
  async fn() {
    await withApp(async (base, exporter) => {
      await (await fetch(`${base}/api/data?delay=0.01`, {
        headers: { "user-agent": "obskit-test" },
      })).json();
      const spans = exporter.getFinishedSpans();
      const server = byName(spans, "GET /api/data");
      assert.equal(server.kind, 1 /* SERVER */);
      assert.equal(server.attributes["http.request.method"], "GET");
      assert.equal(server.attributes["http.route"], "/api/data");
      assert.equal(server.attributes["http.response.status_code"], 200);
      assert.equal(server.attributes["url.path"], "/api/data");
      assert.equal(server.attributes["url.scheme"], "http");
      assert.equal(server.attributes["user_agent.original"], "obskit-test");
      const children = spans.filter((s) =>
        s.parentSpanContext?.spanId === server.spanContext().spanId
      );
      assert.ok(children.some((c) => c.name === "cache.lookup"));
      assert.ok(children.some((c) => c.name === "process_data"));
      assert.equal(spans.filter((s) => s.kind === 1).length, 1, "exactly one server span");
    });
  },
});

Deno.test({
  name: "/error records the exception and marks the server span as an error",
  ...integration,
  async fn() {
    await withApp(async (base, exporter) => {
      const res = await getJson(`${base}/error`);
      const spans = exporter.getFinishedSpans();
      const server = byName(spans, "GET /error");
      assert.equal(server.status.code, 2 /* ERROR */);
      assert.equal(server.spanContext().traceId, res.body.trace_id);
      const child = byName(spans, "process_error");
      assert.equal(child.status.code, 2);
      assert.ok(child.events.some((e) => e.name === "exception"));
      assert.ok(server.events.some((e) => e.name === "exception"));
    });
  },
});

Deno.test({
  name: "an incoming W3C traceparent is continued, and traceparent goes back out",
  ...integration,
  async fn() {
    await withApp(async (base, exporter) => {
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const parentId = "00f067aa0ba902b7";
      const res = await fetch(`${base}/health`, {
        headers: { traceparent: `00-${traceId}-${parentId}-01` },
      });
      await res.body?.cancel();
      const server = byName(exporter.getFinishedSpans(), "GET /health");
      assert.equal(server.spanContext().traceId, traceId);
      assert.equal(server.parentSpanContext?.spanId, parentId);
      assert.match(
        res.headers.get("traceparent") ?? "",
        new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
      );
    });
  },
});

Deno.test({
  name: "every response carries exactly one traceparent: its own server span's, whatever built it",
  ...integration,
  async fn() {
    await withApp(async (base, exporter) => {
      const cases: { path: string; name: string; headers?: Record<string, string> }[] = [
        { path: "/health", name: "GET /health" },
        { path: "/api/data", name: "GET /api/data" },
        { path: "/no-such-page", name: "GET" },
        { path: "/error", name: "GET /error" },
        {
          path: "/health",
          name: "GET /health",
          headers: {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            tracestate: "vendor=abc",
          },
        },
        { path: "/health", name: "GET /health", headers: { baggage: "tenant=blue" } },
      ];
      for (const { path, name, headers } of cases) {
        exporter.reset();
        const res = await fetch(`${base}${path}`, { headers });
        await res.body?.cancel();
        const server = byName(exporter.getFinishedSpans(), name);
        const sc = server.spanContext();
        assert.equal(
          res.headers.get("traceparent"),
          `00-${sc.traceId}-${sc.spanId}-01`,
          `${path} ${JSON.stringify(headers ?? {})}`,
        );
        if (headers?.tracestate) assert.equal(res.headers.get("tracestate"), "vendor=abc");
      }
    });
  },
});

Deno.test({
  name: "a log line written inside a request carries that request's trace and span ids",
  ...integration,
  async fn() {
    await withApp(async (base, exporter, logs) => {
      await (await fetch(`${base}/api/data`)).json();
      const server = byName(exporter.getFinishedSpans(), "GET /api/data");
      const records = logs.map((l) => JSON.parse(l));
      const served = records.find((r) => r.message === "data served");
      assert.ok(served, "handler logged");
      assert.equal(served.trace_id, server.spanContext().traceId);
      assert.match(served.span_id, /^[0-9a-f]{16}$/);
      for (const r of records) {
        for (const field of ["timestamp", "level", "message", "service"]) {
          assert.ok(field in r, field);
        }
      }
      assert.equal(served.service, "test-app");
    });
  },
});

Deno.test({
  name: "the access log is opt-in (ACCESS_LOG=on): one request completed line with the span's ids",
  ...integration,
  async fn() {
    const completed = (logs: string[]) =>
      logs.map((l) => JSON.parse(l)).filter((r) => r.message === "request completed");
    await withApp(async (base, _spans, logs) => {
      await (await fetch(`${base}/api/data`)).body?.cancel();
      assert.deepEqual(completed(logs), [], "off by default");
    });
    await withApp(
      async (base, exporter, logs) => {
        await (await fetch(`${base}/api/data?x=1`)).body?.cancel();
        const server = byName(exporter.getFinishedSpans(), "GET /api/data");
        const [line, ...more] = completed(logs);
        assert.equal(more.length, 0);
        assert.equal(line.trace_id, server.spanContext().traceId);
        assert.equal(line.span_id, server.spanContext().spanId);
        assert.deepEqual(
          [line.method, line.endpoint, line.path, line.status],
          ["GET", "/api/data", "/api/data", 200],
        );
      },
      undefined,
      true,
    );
  },
});

Deno.test({
  name:
    "the chapter's custom events: order.completed on the server span, processing on process_data",
  ...integration,
  async fn() {
    await withApp(async (base, spans) => {
      await (await fetch(`${base}/api/data?delay=0.05`)).body?.cancel();
      const finished = spans.getFinishedSpans();
      const server = finished.find((s) => s.name === "GET /api/data")!;
      const order = server.events.find((e) => e.name === "order.completed");
      assert.ok(order, `events on ${server.name}: ${server.events.map((e) => e.name)}`);
      assert.equal(typeof order.attributes?.["app.order.value"], "number");
      const work = finished.find((s) => s.name === "process_data")!;
      assert.deepEqual(work.events.map((e) => e.name), [
        "processing.started",
        "processing.finished",
      ]);
    });
  },
});

Deno.test({
  name: "cache utilisation: cache_entries grows with distinct items and stays within its capacity",
  ...integration,
  async fn() {
    await withApp(async (base) => {
      for (let i = 0; i < 300; i++) await (await fetch(`${base}/api/data`)).body?.cancel();
      const text = await (await fetch(`${base}/metrics`)).text();
      const entries = Number(/^cache_entries (\d+)/m.exec(text)?.[1]);
      const capacity = Number(/^cache_capacity_entries (\d+)/m.exec(text)?.[1]);
      assert.equal(capacity, 80);
      assert.ok(entries > 40 && entries <= capacity, `${entries} of ${capacity}`);
    });
  },
});

Deno.test({
  name: "HEAD answers carry the Content-Length of the GET body, instrumented or not",
  ...integration,
  async fn() {
    const check = async (base: string) => {
      for (const path of ["/health", "/api/data?delay=0"]) {
        const get = await fetch(base + path);
        const body = new Uint8Array(await get.arrayBuffer());
        const head = await fetch(base + path, { method: "HEAD" });
        await head.body?.cancel();
        assert.equal(head.status, 200, path);
        // /api/data picks an item at random: its body length varies by a digit or two.
        const length = Number(head.headers.get("content-length"));
        assert.ok(
          path === "/health" ? length === body.byteLength : Math.abs(length - body.byteLength) < 8,
          `${path}: HEAD says ${head.headers.get("content-length")}, GET sent ${body.byteLength}`,
        );
      }
    };
    await withApp((base) => check(base));
    const { app } = createInstrumentedApp({ serviceName: "off-app", logger: createLogger("off") });
    const server = startServer(app, { port: 0, hostname: "127.0.0.1" });
    try {
      await check(server.url);
    } finally {
      await server.stop();
    }
  },
});
