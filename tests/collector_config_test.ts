/**
 * The collector config, proven by the real collector (otelcol-obskit, built
 * by `deno task tools`): it validates, lists every component we use, runs
 * with the local overlay on free loopback ports, translates OTLP metrics to
 * the names the catalog promises, exposes the otelcol_* telemetry the alerts
 * query, takes syslog, and keeps traces queued while Jaeger is away.
 */
import assert from "node:assert";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { freePort, waitForHttp } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import { loadCatalog } from "../scripts/lib/validate/catalog.ts";
import {
  builderProblems,
  collectorValidate,
  componentType,
  mergeConfigs,
  overlayProblems,
} from "../scripts/lib/validate/collector.ts";
import { parseYamlSource } from "../scripts/lib/validate/source.ts";
import { findTool, missing, YAML_ENV } from "./support.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
/** Unit tests that read (and parse) the repository's config and manifests. */
const readsRepo = {
  permissions: { net: false, run: false, write: false, read: true, env: YAML_ENV },
} as const;
/** Runs the real collector binary (found via PATH and OBSKIT_TOOLS_DIR). */
const collector = {
  permissions: { net: false, run: true, read: true, env: true, write: false },
} as const;
/** Runs the real collector on a config written to a temp folder. */
const collectorWrites = { permissions: { ...collector.permissions, write: true } } as const;
/** Runs the real collector (and Jaeger) on free loopback ports and talks to them. */
const collectorNet = { permissions: { ...collectorWrites.permissions, net: true } } as const;

const CONFIG = repoPath("config", "otel-collector-config.yaml");
const LOCAL = repoPath("config", "otel-collector-local.yaml");
// deno-lint-ignore no-explicit-any
const cfg: any = parse(Deno.readTextFileSync(CONFIG));

/** The environment contract (team brief): every variable the config may read. */
const CONTRACT_VARS = new Set([
  "OTELCOL_BIND_HOST",
  "OTELCOL_OTLP_GRPC_PORT",
  "OTELCOL_OTLP_HTTP_PORT",
  "OTELCOL_JAEGER_GRPC_PORT",
  "OTELCOL_JAEGER_THRIFT_HTTP_PORT",
  "OTELCOL_SYSLOG_PORT",
  "OTELCOL_PROMETHEUS_EXPORTER_PORT",
  "OTELCOL_HEALTH_PORT",
  "OTELCOL_PPROF_PORT",
  "OTELCOL_TELEMETRY_PORT",
  "OTELCOL_BATCH_TIMEOUT",
  "JAEGER_OTLP_ENDPOINT",
  "SAMPLING_PERCENTAGE",
  "DEPLOYMENT_ENV",
  "K8S_NODE_NAME",
  "K8S_AUTH_TYPE",
]);

Deno.test({
  name: "collector config: the chapter's receivers, processors, exporters and extensions",
  ...unit,
  fn() {
    const grpc = cfg.receivers.otlp.protocols.grpc.endpoint;
    const http = cfg.receivers.otlp.protocols.http.endpoint;
    assert.match(grpc, /OTELCOL_OTLP_GRPC_PORT:-4317\}$/);
    assert.match(http, /OTELCOL_OTLP_HTTP_PORT:-4318\}$/);
    assert.match(cfg.receivers.jaeger.protocols.grpc.endpoint, /:-14250\}$/);
    assert.match(cfg.receivers.jaeger.protocols.thrift_http.endpoint, /:-14268\}$/);
    assert.strictEqual(cfg.receivers.syslog.protocol, "rfc5424");
    const jobs = cfg.receivers.prometheus.config.scrape_configs;
    assert(
      jobs.some((j: { static_configs?: { targets: string[] }[] }) =>
        j.static_configs?.[0].targets[0].includes("OTELCOL_TELEMETRY_PORT:-8888")
      ),
      "the collector scrapes its own telemetry",
    );
    assert.match(cfg.exporters.prometheus.endpoint, /:-8889\}$/);
    assert.match(cfg.extensions.health_check.endpoint, /:-13133\}$/);
    assert.match(
      cfg.processors.probabilistic_sampler.sampling_percentage,
      /SAMPLING_PERCENTAGE:-100/,
    );
    for (
      const p of ["memory_limiter", "k8s_attributes", "resource_detection", "attributes", "batch"]
    ) {
      assert(cfg.processors[p], p);
    }
    assert(cfg.exporters.debug);
  },
});

Deno.test({
  name: "collector config: the Jaeger exporter retries and queues",
  ...unit,
  fn() {
    const jaeger = cfg.exporters["otlp_grpc/jaeger"];
    assert.strictEqual(jaeger.retry_on_failure.enabled, true);
    assert.strictEqual(jaeger.sending_queue.enabled, true);
    assert(jaeger.sending_queue.queue_size >= 1000);
    assert.match(jaeger.endpoint, /^\$\{env:JAEGER_OTLP_ENDPOINT:-/);
  },
});

/** Jaeger's OTLP gRPC receiver (like every gRPC server by default) refuses larger messages. */
const GRPC_LIMIT = 4 * 1024 * 1024;

Deno.test({
  name:
    "collector config: exports stay below the receiver's 4 MiB gRPC limit; queues are sized in bytes",
  ...unit,
  fn() {
    // Span counts per batch (the batch processor) ...
    assert(Number.isInteger(cfg.processors.batch.send_batch_max_size));
    assert(cfg.processors.batch.send_batch_max_size >= cfg.processors.batch.send_batch_size);
    // ... do not bound bytes (one span can carry 60 KB of attributes): the
    // exporter's batcher splits by serialized size.
    for (const id of ["otlp_grpc/jaeger"]) {
      const q = cfg.exporters[id].sending_queue;
      assert.strictEqual(cfg.exporters[id].retry_on_failure.enabled, true, id);
      assert.strictEqual(q.sizer, "bytes", `${id}: the queue is bounded in bytes`);
      assert(q.queue_size >= 16 * 1024 * 1024 && q.queue_size <= 128 * 1024 * 1024, id);
      const batchSizer = q.batch?.sizer ?? q.sizer;
      assert.strictEqual(batchSizer, "bytes", `${id}: batches are measured in bytes`);
      assert(q.batch.max_size > 0 && q.batch.max_size <= GRPC_LIMIT * 0.8, `${id}: max_size`);
    }
  },
});

Deno.test({
  name:
    "local overlay: the Jaeger exporter's queue is persistent (file_storage under OTELCOL_QUEUE_DIR)",
  ...readsRepo,
  fn() {
    // deno-lint-ignore no-explicit-any
    const ov: any = parse(Deno.readTextFileSync(LOCAL));
    const storage = ov.exporters["otlp_grpc/jaeger"].sending_queue.storage;
    assert.strictEqual(componentType(storage), "file_storage");
    const ext = ov.extensions[storage];
    assert.match(ext.directory, /^\$\{env:OTELCOL_QUEUE_DIR(:-[^}]+)?\}$/);
    assert.strictEqual(ext.create_directory, true);
    assert.deepStrictEqual(ov.service.extensions, [...cfg.service.extensions, storage]);
  },
});

/** overlayProblems' messages for the committed base file and an overlay text. */
function overlayMessages(overlayText: string): string[] {
  const base = parseYamlSource("base.yaml", Deno.readTextFileSync(CONFIG));
  const ov = parseYamlSource("local.yaml", overlayText);
  return overlayProblems(base, base.docs[0].toJS(), ov, ov.docs[0].toJS()).map((p) => p.message);
}

Deno.test({
  name:
    "validate: the overlay may persist sending queues (file_storage), nothing more; the build manifest counts it",
  ...readsRepo,
  fn() {
    const committed = Deno.readTextFileSync(LOCAL);
    assert.deepStrictEqual(overlayMessages(committed), []);
    // A storage the overlay does not define, or an extension list that drops one of the base's.
    assert.match(
      overlayMessages(committed.replace("storage: file_storage/queue", "storage: file_storage/x"))
        .join("\n"),
      /sending_queue\.storage names 'file_storage\/x'/,
    );
    assert.match(
      overlayMessages(
        committed.replace("[health_check, pprof, file_storage/queue]", "[file_storage/queue]"),
      ).join("\n"),
      /service\.extensions must be base\.yaml's plus the overlay's storage/,
    );
    // Anything else is still refused.
    assert.match(
      overlayMessages(committed + "processors:\n  batch:\n    timeout: 1s\n").join("\n"),
      /overlay changes processors\.batch\.timeout/,
    );
    // The builder manifest lists file_storage because the merged config uses it.
    const manText = Deno.readTextFileSync(repoPath("config", "otelcol-builder.yaml"));
    const man = parseYamlSource("otelcol-builder.yaml", manText);
    const merged = mergeConfigs(cfg, parse(committed));
    assert.deepStrictEqual(builderProblems(man, man.docs[0].toJS(), "cfg", merged), []);
    assert.match(
      builderProblems(man, man.docs[0].toJS(), "cfg", cfg).map((p) => p.message).join("\n"),
      /filestorage is built but cfg does not use it/,
    );
  },
});

Deno.test({
  name: "jaeger-local: badger storage under JAEGER_DATA_DIR survives a restart; no batching inside",
  ...readsRepo,
  fn() {
    // deno-lint-ignore no-explicit-any
    const j: any = parse(Deno.readTextFileSync(repoPath("config", "jaeger-local.yaml")));
    const backends = j.extensions.jaeger_storage.backends;
    const store = j.extensions.jaeger_query.storage.traces;
    assert.strictEqual(j.exporters.jaeger_storage_exporter.trace_storage, store);
    const badger = backends[store].badger;
    assert(badger, `${store} is a badger backend`);
    assert.strictEqual(badger.ephemeral, false);
    assert.match(badger.directories.keys, /^\$\{env:JAEGER_DATA_DIR(:-[^}]+)?\}\/keys$/);
    assert.match(badger.directories.values, /^\$\{env:JAEGER_DATA_DIR(:-[^}]+)?\}\/values$/);
    assert(!Object.values(backends).some((b) => (b as { memory?: unknown }).memory));
    // Jaeger answers the collector only once the spans are stored: a batch
    // processor would acknowledge spans that a kill then loses.
    assert.deepStrictEqual(j.service.pipelines.traces.processors ?? [], []);
  },
});

Deno.test({
  name: "collector config: every listener and endpoint goes through the env contract",
  ...readsRepo,
  fn() {
    const text = Deno.readTextFileSync(CONFIG).split("\n").filter((l) => !/^\s*#/.test(l)).join(
      "\n",
    );
    const used = new Set(
      [...text.matchAll(/\$\{env:([A-Z0-9_]+)(?::-[^}]*)?\}/g)].map((m) => m[1]),
    );
    for (const v of used) assert(CONTRACT_VARS.has(v), `${v} is not in the environment contract`);
    const walk = (v: unknown, path: string) => {
      if (v && typeof v === "object") {
        for (const [k, c] of Object.entries(v)) walk(c, `${path}.${k}`);
      } else if (/\.(endpoint|listen_address)$/.test(path) && typeof v === "string") {
        assert.match(v, /\$\{env:[A-Z0-9_]+:-[^}]+\}/, `${path} = ${v}`);
      }
    };
    walk(cfg, "");
    // Production sampling is set by the manifest.
    const manifest = Deno.readTextFileSync(repoPath("k8s", "otel-collector-deployment.yaml"));
    assert.match(manifest, /- name: SAMPLING_PERCENTAGE\n\s+value: "1"/);
  },
});

Deno.test({
  name: "collector build manifest: pinned once, same version as the k8s image",
  ...readsRepo,
  fn() {
    // deno-lint-ignore no-explicit-any
    const man: any = parse(Deno.readTextFileSync(repoPath("config", "otelcol-builder.yaml")));
    const manifest = Deno.readTextFileSync(repoPath("k8s", "otel-collector-deployment.yaml"));
    const tag = /image: otel\/opentelemetry-collector-contrib:(\S+)/.exec(manifest)?.[1];
    assert.strictEqual(tag, man.dist.version);
  },
});

const BIN = "otelcol-obskit";

Deno.test({
  name: "real collector: validate accepts the config and the local overlay",
  ...collector,
  ignore: missing(BIN),
  async fn() {
    const bin = findTool(BIN)!;
    const a = await collectorValidate(bin, [CONFIG]);
    assert(a.ok, `${a.message}\n${a.output}`);
    const b = await collectorValidate(bin, [CONFIG, LOCAL]);
    assert(b.ok, `${b.message}\n${b.output}`);
  },
});

Deno.test({
  name: "real collector: validate rejects a pipeline naming an undefined exporter",
  ...collectorWrites,
  ignore: missing(BIN),
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "obskit-colcfg-" });
    try {
      const bad = join(dir, "bad.yaml");
      Deno.writeTextFileSync(
        bad,
        Deno.readTextFileSync(CONFIG).replace(
          "exporters: [otlp_grpc/jaeger, debug]",
          "exporters: [otlp_grpc/jaeger, debug, otlp_grpc/tempo]",
        ),
      );
      const r = await collectorValidate(findTool(BIN)!, [bad]);
      assert(!r.ok);
      assert.match(r.message, /otlp_grpc\/tempo/);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "real collector: every type the config uses is a canonical component name (no deprecated alias)",
  ...collector,
  ignore: missing(BIN),
  async fn() {
    const out = await new Deno.Command(findTool(BIN)!, {
      args: ["components"],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    assert.strictEqual(out.code, 0);
    // deno-lint-ignore no-explicit-any
    const comps: any = parse(new TextDecoder().decode(out.stdout));
    for (const kind of ["receivers", "processors", "exporters", "extensions"]) {
      const have = new Set((comps[kind] ?? []).map((c: { name: string }) => c.name));
      for (const id of Object.keys(cfg[kind])) {
        assert(have.has(componentType(id)), `${kind}: ${componentType(id)} is built in`);
      }
    }
  },
});

interface Running {
  ports: Record<string, number>;
  log: () => string;
  stop: () => Promise<void>;
}

async function drain(stream: ReadableStream<Uint8Array>, sink: string[]) {
  const dec = new TextDecoder();
  for await (const chunk of stream) sink.push(dec.decode(chunk));
}

async function startCollector(extraEnv: Record<string, string> = {}): Promise<Running> {
  const ports = {
    grpc: freePort(),
    http: freePort(),
    jaegerGrpc: freePort(),
    jaegerThrift: freePort(),
    syslog: freePort(),
    exporter: freePort(),
    health: freePort(),
    pprof: freePort(),
    telemetry: freePort(),
  };
  const env = {
    OTELCOL_BIND_HOST: "127.0.0.1",
    OTELCOL_OTLP_GRPC_PORT: String(ports.grpc),
    OTELCOL_OTLP_HTTP_PORT: String(ports.http),
    OTELCOL_JAEGER_GRPC_PORT: String(ports.jaegerGrpc),
    OTELCOL_JAEGER_THRIFT_HTTP_PORT: String(ports.jaegerThrift),
    OTELCOL_SYSLOG_PORT: String(ports.syslog),
    OTELCOL_PROMETHEUS_EXPORTER_PORT: String(ports.exporter),
    OTELCOL_HEALTH_PORT: String(ports.health),
    OTELCOL_PPROF_PORT: String(ports.pprof),
    OTELCOL_TELEMETRY_PORT: String(ports.telemetry),
    OTELCOL_BATCH_TIMEOUT: "200ms",
    JAEGER_OTLP_ENDPOINT: `127.0.0.1:${freePort()}`,
    // The overlay's persistent queue: a private folder, never the repository's .stack/.
    OTELCOL_QUEUE_DIR: join(Deno.makeTempDirSync({ prefix: "obskit-colq-" }), "queue"),
    ...extraEnv,
  };
  const child = new Deno.Command(findTool(BIN)!, {
    args: [`--config=file:${CONFIG}`, `--config=file:${LOCAL}`],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const pumps = [drain(child.stdout, lines), drain(child.stderr, lines)];
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    await child.status;
    clearTimeout(t);
    await Promise.allSettled(pumps);
    Deno.removeSync(join(env.OTELCOL_QUEUE_DIR, ".."), { recursive: true });
  };
  try {
    await waitForHttp(`http://127.0.0.1:${ports.health}/`, 30_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${lines.join("")}`);
  }
  return { ports, log: () => lines.join(""), stop };
}

const nowNs = () => `${BigInt(Date.now()) * 1_000_000n}`;
const hex = (bytes: number) =>
  [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");

async function post(url: string, body: unknown): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await res.body?.cancel();
  return res.status;
}

async function poll<T>(
  what: string,
  timeoutMs: number,
  f: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

Deno.test({
  name:
    "real collector: OTLP metrics come out under the catalog's names; otelcol_* telemetry matches the catalog",
  ...collectorNet,
  ignore: missing(BIN),
  sanitizeResources: false,
  async fn() {
    const c = await startCollector();
    try {
      const start = nowNs();
      const status = await post(`http://127.0.0.1:${c.ports.http}/v1/metrics`, {
        resourceMetrics: [{
          resource: {
            attributes: [{ key: "service.name", value: { stringValue: "colcfg-test" } }],
          },
          scopeMetrics: [{
            scope: { name: "colcfg" },
            metrics: [
              {
                name: "http.server.request.duration",
                unit: "s",
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [{
                    startTimeUnixNano: start,
                    timeUnixNano: nowNs(),
                    count: "3",
                    sum: 0.7,
                    bucketCounts: ["1", "1", "1"],
                    explicitBounds: [0.1, 0.5],
                    attributes: [{ key: "http.request.method", value: { stringValue: "GET" } }],
                  }],
                },
              },
              {
                name: "http.server.requests",
                unit: "{request}",
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: [{ startTimeUnixNano: start, timeUnixNano: nowNs(), asInt: "3" }],
                },
              },
              {
                name: "http.server.active_requests",
                unit: "{request}",
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: false,
                  dataPoints: [{ startTimeUnixNano: start, timeUnixNano: nowNs(), asInt: "1" }],
                },
              },
            ],
          }],
        }],
      });
      assert.strictEqual(status, 200);
      const exported = await poll("the metrics on the prometheus exporter", 15_000, async () => {
        const text = await (await fetch(`http://127.0.0.1:${c.ports.exporter}/metrics`)).text();
        return text.includes("http_server_request_duration_seconds_bucket") ? text : undefined;
      });
      assert.match(exported, /http_server_requests_total\{/);
      // Every semantic-convention entry the catalog says the exporter translates is there
      // (the prom-client families pushed as they are: tests/prom_bridge_test.ts).
      const catalogOtlp = (await loadCatalog()).emitted.filter((e) =>
        /collector's prometheus exporter/.test(e.source ?? "")
      );
      const families = new Set([...exported.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
      for (const e of catalogOtlp) assert(families.has(e.name), `the exporter exposes ${e.name}`);
      assert.match(
        exported,
        /deployment_environment_name="development"/,
        "attributes processor ran",
      );

      const catalog = await loadCatalog();
      const telemetry = await (await fetch(`http://127.0.0.1:${c.ports.telemetry}/metrics`)).text();
      const seen = new Set([...telemetry.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
      // Counters of failures appear only once something failed.
      const onFailure = /_(send_failed|enqueue_failed|refused)_/;
      const missingNames = catalog.metrics
        .filter((e) => e.name.startsWith("otelcol_") && !onFailure.test(e.name))
        .map((e) => e.name)
        .filter((n) => !seen.has(n) && !/_spans_total$|_log_records_total$/.test(n));
      assert.deepStrictEqual(
        missingNames,
        [],
        `catalog names the collector does not expose:\n${[...seen].join("\n")}`,
      );

      // The collector scrapes its own telemetry and re-exports it (15 s interval).
      await poll("the self-scrape on the exporter", 40_000, async () => {
        const text = await (await fetch(`http://127.0.0.1:${c.ports.exporter}/metrics`)).text();
        return /otelcol_process_uptime_seconds_total\{[^}]*otel_scope_name="[^"]*prometheusreceiver"/
            .test(text)
          ? true
          : undefined;
      });
    } finally {
      await c.stop();
    }
  },
});

Deno.test({
  name: "real collector: syslog (RFC 5424 over TCP) reaches the logs pipeline",
  ...collectorNet,
  ignore: missing(BIN),
  sanitizeResources: false,
  async fn() {
    const c = await startCollector();
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.ports.syslog });
      const msg = `<34>1 ${
        new Date().toISOString()
      } node-1 colcfg 4242 ID47 - syslog probe from the test\n`;
      await conn.write(new TextEncoder().encode(msg));
      conn.close();
      await poll(
        "a log record in the debug exporter",
        15_000,
        () => Promise.resolve(/"log records": 1/.test(c.log()) ? true : undefined),
      );
    } finally {
      await c.stop();
    }
  },
});

Deno.test({
  name: "real collector: traces sent while Jaeger is down arrive once it is back",
  ...collectorNet,
  ignore: missing(BIN, "jaeger"),
  sanitizeResources: false,
  async fn() {
    const jaegerOtlp = freePort();
    const c = await startCollector({ JAEGER_OTLP_ENDPOINT: `127.0.0.1:${jaegerOtlp}` });
    let jaeger: ReturnType<typeof startJaeger> | undefined;
    try {
      const traceId = hex(16);
      const t0 = nowNs();
      const status = await post(`http://127.0.0.1:${c.ports.http}/v1/traces`, {
        resourceSpans: [{
          resource: {
            attributes: [{ key: "service.name", value: { stringValue: "colcfg-retry" } }],
          },
          scopeSpans: [{
            scope: { name: "colcfg" },
            spans: [{
              traceId,
              spanId: hex(8),
              name: "retry-probe",
              kind: 2,
              startTimeUnixNano: t0,
              endTimeUnixNano: nowNs(),
            }],
          }],
        }],
      });
      assert.strictEqual(status, 200, "the collector accepts the span while Jaeger is down");
      await poll(
        "an export failure that will be retried",
        20_000,
        () => Promise.resolve(/retry|Exporting failed/i.test(c.log()) ? true : undefined),
      );

      const { query } = jaeger = startJaeger(jaegerOtlp);
      await poll("the trace in Jaeger", 45_000, async () => {
        const res = await fetch(`http://127.0.0.1:${query}/api/traces/${traceId}`);
        const body = await res.text();
        return res.ok && body.includes("retry-probe") ? true : undefined;
      });
    } finally {
      await jaeger?.stop();
      await c.stop();
    }
  },
});

/** Jaeger with config/jaeger-local.yaml on free ports, its badger data in a temp folder. */
function startJaeger(otlpGrpc: number) {
  const data = Deno.makeTempDirSync({ prefix: "obskit-jaeger-" });
  const query = freePort();
  const child = new Deno.Command(findTool("jaeger")!, {
    args: ["--config", repoPath("config", "jaeger-local.yaml")],
    env: {
      JAEGER_LISTEN_HOST: "127.0.0.1",
      JAEGER_DATA_DIR: data,
      JAEGER_OTLP_GRPC_PORT: String(otlpGrpc),
      JAEGER_OTLP_HTTP_PORT: String(freePort()),
      JAEGER_QUERY_HTTP_PORT: String(query),
      JAEGER_QUERY_GRPC_PORT: String(freePort()),
      JAEGER_HEALTH_PORT: String(freePort()),
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    query,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      Deno.removeSync(data, { recursive: true });
    },
  };
}

Deno.test({
  name:
    "real collector + Jaeger: 9 MB of 30 KB spans arrive whole (exports split below the 4 MiB gRPC limit)",
  ...collectorNet,
  ignore: missing(BIN, "jaeger"),
  sanitizeResources: false,
  async fn() {
    const jaegerOtlp = freePort();
    const jaeger = startJaeger(jaegerOtlp);
    // One batch per second: everything below lands in one batch-processor batch.
    const c = await startCollector({
      JAEGER_OTLP_ENDPOINT: `127.0.0.1:${jaegerOtlp}`,
      OTELCOL_BATCH_TIMEOUT: "1s",
    });
    try {
      await waitForHttp(`http://127.0.0.1:${jaeger.query}/api/services`, 30_000);
      const service = `colcfg-big-${hex(4)}`;
      const big = "x".repeat(30_000);
      // 6 requests of 50 spans, one trace each, 30 KB attribute per span: 9 MB in all.
      const requests = Array.from({ length: 6 }, () => ({
        resourceSpans: [{
          resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
          scopeSpans: [{
            scope: { name: "colcfg" },
            spans: Array.from({ length: 50 }, () => ({
              traceId: hex(16),
              spanId: hex(8),
              name: "big",
              kind: 2,
              startTimeUnixNano: nowNs(),
              endTimeUnixNano: nowNs(),
              attributes: [{ key: "http.user_agent", value: { stringValue: big } }],
            })),
          }],
        }],
      }));
      const statuses = await Promise.all(
        requests.map((r) => post(`http://127.0.0.1:${c.ports.http}/v1/traces`, r)),
      );
      assert.deepStrictEqual(statuses, [200, 200, 200, 200, 200, 200]);
      let found = 0;
      await poll("all 300 traces in Jaeger", 45_000, async () => {
        const res = await fetch(
          `http://127.0.0.1:${jaeger.query}/api/traces?service=${service}&limit=1000&lookback=1h`,
        );
        if (!res.ok) {
          await res.body?.cancel();
          return undefined;
        }
        found = ((await res.json()).data ?? []).length;
        return found === 300 ? true : undefined;
      }).catch((err) => {
        throw new Error(`${err.message}: ${found} of 300 traces arrived\n${c.log().slice(-3000)}`);
      });
      console.log(`9 MB burst: ${found} of 300 traces in Jaeger`);
      assert.doesNotMatch(c.log(), /larger than max|ResourceExhausted/);
    } finally {
      await c.stop();
      await jaeger.stop();
    }
  },
});

Deno.test({
  name:
    "validate: the overlay may drop only the batch processor, only from a pipeline whose exporter persists its queue",
  ...readsRepo,
  fn() {
    const committed = Deno.readTextFileSync(LOCAL);
    const tracesLine =
      "processors: [memory_limiter, probabilistic_sampler, resource_detection, attributes]";
    assert.ok(committed.includes(tracesLine), "the committed overlay drops batch from traces");
    // Dropping anything else (here: attributes) is refused.
    assert.match(
      overlayMessages(
        committed.replace(
          tracesLine,
          "processors: [memory_limiter, probabilistic_sampler, resource_detection]",
        ),
      ).join("\n"),
      /service\.pipelines\.traces\.processors may only be .* without batch/,
    );
    // Without the persisted queue, dropping batch is refused too.
    assert.match(
      overlayMessages(committed.replace("      storage: file_storage/queue\n", "")).join("\n"),
      /only where an exporter persists its queue/,
    );
  },
});

// --- issue 11: the cluster path ------------------------------------------------

Deno.test({
  name:
    "collector config (issue 11, defect 4): k8s_attributes describes the SENDING pod; no action stamps the collector's own namespace",
  ...unit,
  fn() {
    const k8s = cfg.processors.k8s_attributes;
    assert(k8s, "a k8s_attributes processor");
    // The pod is found by the k8s.pod.ip resource attribute an SDK may set,
    // else by the connection's source address.
    assert.deepStrictEqual(k8s.pod_association, [
      { sources: [{ from: "resource_attribute", name: "k8s.pod.ip" }] },
      { sources: [{ from: "connection" }] },
    ]);
    for (
      const a of ["k8s.namespace.name", "k8s.pod.name", "k8s.deployment.name", "k8s.node.name"]
    ) {
      assert(k8s.extract.metadata.includes(a), `extracts ${a}`);
    }
    // Only the pods of this node: the Service routes to the node-local collector.
    assert.strictEqual(k8s.filter.node, "${env:K8S_NODE_NAME:-}");
    for (const [name, p] of Object.entries(cfg.service.pipelines)) {
      const procs = (p as { processors: string[] }).processors;
      assert(procs.includes("k8s_attributes"), `${name} pipeline runs k8s_attributes`);
      // Before sampling? No: after it (enrich only what is kept), right after memory_limiter
      // or the sampler, and before resource_detection (whose override: false then keeps
      // the pod's attributes over the collector host's).
      assert(procs.indexOf("k8s_attributes") < procs.indexOf("resource_detection"), name);
    }
    const actions = cfg.processors.attributes?.actions ?? [];
    assert(
      !actions.some((a: { key: string }) => a.key.startsWith("k8s.")),
      "no attributes action sets a k8s.* key (it would be the collector's, not the sender's)",
    );
    assert(!JSON.stringify(cfg).includes("K8S_NAMESPACE"), "K8S_NAMESPACE is not read");
  },
});

Deno.test({
  name:
    "collector config (issue 11, defect 1): no annotation-based pod scrape job; apps push OTLP, the pull app is a PodMonitor",
  ...unit,
  fn() {
    const jobs = cfg.receivers.prometheus.config.scrape_configs;
    assert.deepStrictEqual(
      jobs.map((j: { job_name: string }) => j.job_name),
      ["otel-collector-self"],
    );
    assert(!JSON.stringify(cfg).includes("kubernetes_sd_configs"));
  },
});

Deno.test({
  name:
    "collector config (issue 11, defect 3): no Loki exporter; the cluster's logs go to the collector's own log (debug)",
  ...unit,
  fn() {
    assert(!Object.keys(cfg.exporters).some((id) => /loki/.test(id)), "no Loki exporter");
    assert(!JSON.stringify(cfg).includes("LOKI_OTLP_ENDPOINT"));
    assert.deepStrictEqual(cfg.service.pipelines.logs.exporters, ["debug"]);
  },
});

Deno.test({
  name:
    "validate: the overlay may drop exactly k8s_attributes from pipelines (no API server locally), nothing else",
  ...readsRepo,
  fn() {
    const committed = Deno.readTextFileSync(LOCAL);
    assert.deepStrictEqual(overlayMessages(committed), []);
    // deno-lint-ignore no-explicit-any
    const ov: any = parse(committed);
    for (const [name, p] of Object.entries(ov.service.pipelines)) {
      const procs = (p as { processors?: string[] }).processors;
      if (procs) assert(!procs.includes("k8s_attributes"), `${name}: k8s_attributes dropped`);
    }
    // The metrics pipeline is the base's without k8s_attributes ...
    const metricsBase: string[] = cfg.service.pipelines.metrics.processors;
    const without = metricsBase.filter((p) => p !== "k8s_attributes");
    assert.notDeepStrictEqual(without, metricsBase);
    assert.deepStrictEqual(ov.service.pipelines.metrics.processors, without);
    const metricsLine = `    metrics:\n      processors: [${without.join(", ")}]\n`;
    assert(committed.includes(metricsLine));
    const withMetrics = (procs: string[]) =>
      committed.replace(metricsLine, `    metrics:\n      processors: [${procs.join(", ")}]\n`);
    // ... keeping it is allowed too (a cluster-shaped local run may have an API server) ...
    assert.deepStrictEqual(overlayMessages(withMetrics(metricsBase)), []);
    // ... dropping another processor too, or reordering, is not.
    for (const bad of [without.filter((p) => p !== "attributes"), [...without].reverse()]) {
      assert.match(
        overlayMessages(withMetrics(bad)).join("\n"),
        /service\.pipelines\.metrics\.processors may only be/,
      );
    }
    // Nor may the overlay drop batch from metrics, whose exporter persists nothing.
    assert.match(
      overlayMessages(withMetrics(without.filter((p) => p !== "batch"))).join("\n"),
      /service\.pipelines\.metrics\.processors may only be/,
    );
  },
});

Deno.test({
  name:
    "real collector + real Jaeger (issue 11, defect 3): k8s/jaeger.yaml's ConfigMap config stores the collector's traces; GET /status (the probes) answers 200",
  ...collectorNet,
  ignore: missing(BIN, "jaeger"),
  sanitizeResources: false,
  async fn() {
    // deno-lint-ignore no-explicit-any
    const docs: any[] = parseAllDocuments(Deno.readTextFileSync(repoPath("k8s", "jaeger.yaml")))
      .map((d) => d.toJS()).filter(Boolean);
    const cm = docs.find((d) => d.kind === "ConfigMap");
    const dir = Deno.makeTempDirSync({ prefix: "obskit-jaeger-k8s-" });
    const file = join(dir, "jaeger.yaml");
    Deno.writeTextFileSync(file, cm.data["jaeger.yaml"]);
    const ports = {
      otlpGrpc: freePort(),
      query: freePort(),
      health: freePort(),
    };
    const jaeger = new Deno.Command(findTool("jaeger")!, {
      args: [`--config=file:${file}`],
      env: {
        JAEGER_LISTEN_HOST: "127.0.0.1",
        JAEGER_OTLP_GRPC_PORT: String(ports.otlpGrpc),
        JAEGER_OTLP_HTTP_PORT: String(freePort()),
        JAEGER_QUERY_HTTP_PORT: String(ports.query),
        JAEGER_QUERY_GRPC_PORT: String(freePort()),
        JAEGER_HEALTH_PORT: String(ports.health),
      },
      stdout: "null",
      stderr: "null",
    }).spawn();
    let c: Running | undefined;
    try {
      const probe = docs.find((d) => d.kind === "Deployment").spec.template.spec.containers[0]
        .readinessProbe.httpGet.path;
      await waitForHttp(`http://127.0.0.1:${ports.health}${probe}`, 30_000);
      c = await startCollector({ JAEGER_OTLP_ENDPOINT: `127.0.0.1:${ports.otlpGrpc}` });
      const traceId = hex(16);
      const status = await post(`http://127.0.0.1:${c.ports.http}/v1/traces`, {
        resourceSpans: [{
          resource: {
            attributes: [{ key: "service.name", value: { stringValue: "colcfg-k8s-jaeger" } }],
          },
          scopeSpans: [{
            scope: { name: "colcfg" },
            spans: [{
              traceId,
              spanId: hex(8),
              name: "k8s-jaeger-probe",
              kind: 2,
              startTimeUnixNano: nowNs(),
              endTimeUnixNano: nowNs(),
            }],
          }],
        }],
      });
      assert.strictEqual(status, 200);
      await poll("the trace in the cluster config's Jaeger (memory storage)", 30_000, async () => {
        const res = await fetch(`http://127.0.0.1:${ports.query}/api/traces/${traceId}`);
        const body = await res.text();
        return res.ok && body.includes("k8s-jaeger-probe") ? true : undefined;
      });
    } finally {
      await c?.stop();
      jaeger.kill("SIGTERM");
      await jaeger.status;
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "validate: the overlay may add exactly otlp_http/victorialogs, to the logs pipeline only (protobuf)",
  ...readsRepo,
  fn() {
    const committed = Deno.readTextFileSync(LOCAL);
    // deno-lint-ignore no-explicit-any
    const ov: any = parse(committed);
    const vl = ov.exporters?.["otlp_http/victorialogs"];
    assert(vl, "the local overlay exports logs to VictoriaLogs");
    assert.strictEqual(vl.encoding, "proto");
    assert.match(vl.logs_endpoint, /\/insert\/opentelemetry\/v1\/logs$/);
    assert(ov.service.pipelines.logs.exporters.includes("otlp_http/victorialogs"));
    assert.deepStrictEqual(overlayMessages(committed), []);
    // Used by another pipeline: refused.
    const toTraces = committed.replace(
      /(traces:\n(?:\s+#.*\n|\s+processors:.*\n)*)/,
      "$1      exporters: [otlp_grpc/jaeger, otlp_http/victorialogs]\n",
    );
    assert.notStrictEqual(toTraces, committed);
    assert.match(
      overlayMessages(toTraces).join("\n"),
      /otlp_http\/victorialogs may only be in the logs pipeline/,
    );
    // Any other new exporter, or JSON encoding: refused.
    assert.match(
      overlayMessages(
        committed.replace(
          "\nexporters:\n",
          "\nexporters:\n  otlp_http/other:\n    encoding: proto\n",
        ),
      ).join("\n"),
      /overlay changes exporters\.otlp_http\/other/,
    );
    assert.match(
      overlayMessages(committed.replace("encoding: proto", "encoding: json")).join("\n"),
      /VictoriaLogs accepts OTLP protobuf only/,
    );
  },
});
