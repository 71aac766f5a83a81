/**
 * OpenTelemetry setup shared by the demo programs (the chapter's otel_setup):
 * one resource, an OTLP/HTTP trace pipeline with a batch processor, an
 * OTLP/HTTP metric pipeline with a periodic reader, W3C propagation, and a
 * `traced()` helper for child spans.
 *
 * Export failures are rate-limited to one warning a minute and every queue
 * is bounded, so an app with no collector listening keeps serving at full
 * speed with flat memory.
 */
import {
  type Attributes,
  context,
  createNoopMeter,
  diag,
  type DiagLogger,
  DiagLogLevel,
  type Meter,
  type MeterProvider as ApiMeterProvider,
  propagation,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import {
  CompositePropagator,
  type ExportResult,
  ExportResultCode,
  parseKeyPairsIntoRecord,
  setGlobalErrorHandler,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import { type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { errorMessage } from "./lib/http_observability.ts";
import { redactUrl } from "../scripts/lib/redact.ts";
import { normalizeOtlpEndpoint } from "./lib/otlp_endpoint.ts";
import { logWarning, setKitService, setLogForwarder } from "./lib/logger.ts";
import { LogExporter } from "./lib/log_export.ts";
import { LeanContextManager } from "./lib/lean_context.ts";
import { ProtoSpanProcessor } from "./lib/proto_span_processor.ts";
import {
  type FullSpanLimits,
  LeanTracerProvider,
  type TracerProviderLike,
} from "./lib/lean_tracer.ts";
import { type DeliveryQueue, QueuedSpanExporter } from "./lib/telemetry_delivery.ts";
import { countDropped, countExportFailure } from "./lib/telemetry_loss.ts";
import {
  ExemplarMetricExporter,
  type MetricSource,
  PromClientProducer,
} from "./lib/prom_bridge.ts";
import type { Registry } from "prom-client";

/** Not yet stable in the semconv package's main entry; the names are the spec's. */
const ATTR_DEPLOYMENT_ENVIRONMENT_NAME = "deployment.environment.name";
const ATTR_HOST_NAME = "host.name";
const ATTR_SERVICE_INSTANCE_ID = "service.instance.id";

export interface ObservabilityOptions {
  /** Default service.name when neither OTEL_SERVICE_NAME nor SERVICE_NAME is set. */
  serviceName: string;
  serviceVersion?: string;
  /** Replaces the OTLP span exporter (tests pass an InMemorySpanExporter). */
  spanExporter?: SpanExporter;
  /** Use a simple (synchronous) span processor instead of the batch one. */
  simpleSpanProcessor?: boolean;
  /** Disables the OTLP metric pipeline (the meter becomes a no-op). */
  metrics?: boolean;
  /** Disables sending log lines over OTLP (also OTEL_LOGS_EXPORTER=none). */
  logs?: boolean;
  /** Metric export interval; default OTEL_METRIC_EXPORT_INTERVAL or 10 s. */
  metricExportIntervalMs?: number;
  /** OTLP export timeout per request; default OTEL_EXPORTER_OTLP_TIMEOUT or 10 s. */
  exportTimeoutMs?: number;
  /** Environment to read; defaults to the process environment. */
  env?: Record<string, string | undefined>;
}

export interface Observability {
  tracer: Tracer;
  meter: Meter;
  /** Pushes a prom-client registry's families over OTLP too (the metric contract in both worlds). */
  exportRegistry(registry: Registry): void;
  /** Pushes metric data kept outside the SDK's instruments (prom_bridge.ts MetricSource). */
  exportSource(source: MetricSource): void;
  /** The instrumentation scope of this setup's meter (what exportSource data should carry). */
  scope: { name: string; version?: string };
  resource: Resource;
  /** Where OTLP goes (after normalization, userinfo redacted: for display), e.g. http://localhost:4318. */
  endpoint: string;
  /** Flushes spans and metrics now; resolves false when an export failed. */
  flush(): Promise<boolean>;
  /** Flushes and stops both pipelines. Safe to call twice. */
  shutdown(): Promise<void>;
}

/**
 * The process environment, read one name at a time: the app tasks may read
 * only the variables they list (--allow-env=OTEL_*,...; docs/permissions.md),
 * and Deno.env.toObject() needs them all. A name not granted reads as unset.
 */
function processEnv(): Record<string, string | undefined> {
  return new Proxy({} as Record<string, string | undefined>, {
    get(_target, name) {
      if (typeof name !== "string") return undefined;
      try {
        return Deno.env.get(name);
      } catch {
        return undefined;
      }
    },
  });
}

export { normalizeOtlpEndpoint } from "./lib/otlp_endpoint.ts";

/**
 * Builds the resource. Precedence, lowest first: built-in defaults, then
 * OTEL_RESOURCE_ATTRIBUTES, then the book's SERVICE_NAME / SERVICE_VERSION /
 * DEPLOYMENT_ENV / HOSTNAME, then OTEL_SERVICE_NAME (the spec says it wins).
 */
export function buildResource(
  opts: Pick<ObservabilityOptions, "serviceName" | "serviceVersion" | "env">,
): Resource {
  const env = opts.env ?? processEnv();
  const attrs: Record<string, string> = {
    [ATTR_SERVICE_NAME]: opts.serviceName,
    [ATTR_SERVICE_VERSION]: opts.serviceVersion ?? "1.0.0",
    [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: "development",
    [ATTR_HOST_NAME]: safeHostname(),
    // One process, one instance: two replicas behind one collector stay two series
    // (the collector's Prometheus exporter turns it into the `instance` label).
    [ATTR_SERVICE_INSTANCE_ID]: `${safeHostname()}:${Deno.pid}`,
    ...parseKeyPairsIntoRecord(env.OTEL_RESOURCE_ATTRIBUTES),
  };
  if (env.SERVICE_NAME) attrs[ATTR_SERVICE_NAME] = env.SERVICE_NAME;
  if (env.SERVICE_VERSION) attrs[ATTR_SERVICE_VERSION] = env.SERVICE_VERSION;
  if (env.DEPLOYMENT_ENV) attrs[ATTR_DEPLOYMENT_ENVIRONMENT_NAME] = env.DEPLOYMENT_ENV;
  if (env.HOSTNAME) attrs[ATTR_HOST_NAME] = env.HOSTNAME;
  if (env.OTEL_SERVICE_NAME) attrs[ATTR_SERVICE_NAME] = env.OTEL_SERVICE_NAME;
  return resourceFromAttributes(attrs);
}

function safeHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
];

const noticesGiven = new Set<string>();

/** A configuration problem is worth one warning per process, not one per use. */
function warnOnce(key: string, message: string): void {
  if (noticesGiven.has(key)) return;
  noticesGiven.add(key);
  logWarning(message);
}

/**
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, as the spec names them. A
 * value we do not know falls back to the default with a warning, never silently.
 */
export function samplerFromEnv(
  env: Record<string, string | undefined>,
  warn: (key: string, message: string) => void = warnOnce,
): Sampler {
  const raw = (env.OTEL_TRACES_SAMPLER ?? "").trim().toLowerCase();
  let name = raw || "parentbased_always_on";
  if (!SAMPLERS.includes(name)) {
    warn(
      "sampler",
      `OTEL_TRACES_SAMPLER '${env.OTEL_TRACES_SAMPLER}' is not one of ${
        SAMPLERS.join(", ")
      }; using parentbased_always_on`,
    );
    name = "parentbased_always_on";
  }
  let ratio = 1;
  if (name.endsWith("traceidratio") && env.OTEL_TRACES_SAMPLER_ARG !== undefined) {
    const parsed = Number(env.OTEL_TRACES_SAMPLER_ARG);
    if (env.OTEL_TRACES_SAMPLER_ARG.trim() !== "" && parsed >= 0 && parsed <= 1) ratio = parsed;
    else {
      warn(
        "sampler-arg",
        `OTEL_TRACES_SAMPLER_ARG '${env.OTEL_TRACES_SAMPLER_ARG}' must be a ratio from 0 to 1; using 1`,
      );
    }
  }
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

let globalsInstalled = false;

/**
 * Context manager (AsyncLocalStorage, lean contexts: lib/lean_context.ts), W3C propagators and rate-limited
 * error reporting are process-wide; install them once. The tracer and
 * meter providers are NOT registered globally, so several apps (the tests
 * build many) live in one process, each with its own exporters.
 */
function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  context.setGlobalContextManager(new LeanContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  diag.setLogger(rateLimitedDiag, DiagLogLevel.WARN);
  setGlobalErrorHandler((err) => warnExportProblem(errorMessage(err)));
}

/** The SDK components one setup assembles into its providers. */
interface SdkParts {
  spanProcessors?: SpanProcessor[];
  sampler?: Sampler;
  spanLimits?: FullSpanLimits;
  idGenerator?: FastIdGenerator;
  metricReaders?: PeriodicExportingMetricReader[];
}

interface StartedSdk {
  /** Undefined when no span processor was given or OTEL_SDK_DISABLED=true. */
  tracerProvider?: TracerProviderLike;
  meterProvider?: MeterProvider;
}

/**
 * What NodeSDK.start() does for these parts, without NodeSDK (README
 * "Dependencies" says why): the providers for the given parts, sharing one
 * resource, and nothing at all when OTEL_SDK_DISABLED=true, as the spec says.
 */
function startSdk(
  resource: Resource,
  parts: SdkParts,
  env: Record<string, string | undefined>,
): StartedSdk {
  installGlobals();
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return {};
  return {
    // The SDK's samplers, limits and processors behind a lighter tracer (lean_tracer.ts says why).
    tracerProvider: parts.spanProcessors?.length
      ? new LeanTracerProvider({
        resource,
        idGenerator: parts.idGenerator ?? new FastIdGenerator(),
        sampler: parts.sampler ?? samplerFromEnv(env),
        spanLimits: parts.spanLimits ?? spanLimitsFromEnv(env),
        spanProcessors: parts.spanProcessors,
      })
      : undefined,
    meterProvider: parts.metricReaders?.length
      ? new MeterProvider({ resource, readers: parts.metricReaders })
      : undefined,
  };
}

/**
 * The SDK's OTLP/HTTP JSON exporter (OTEL_EXPORTER_OTLP_PROTOCOL=http/json),
 * loaded on its first export: the default protobuf path never loads it, nor
 * the `protobufjs` its package brings (whose install script makes Deno print
 * an "Ignored build scripts" box the first time it is downloaded).
 */
const JSON_EXPORTER = "@opentelemetry/exporter-trace-otlp-http";
type JsonExporterModule = typeof import("@opentelemetry/exporter-trace-otlp-http");

class JsonSpanExporter implements SpanExporter {
  private inner?: Promise<SpanExporter>;
  constructor(
    private readonly config: {
      url: string;
      timeoutMillis: number;
      headers: Record<string, string>;
      concurrencyLimit: number;
    },
  ) {}

  /** Starts loading the module now (at setup, outside any request). */
  load(): Promise<SpanExporter> {
    // A specifier in a variable: Deno leaves it out of the app's module graph until used.
    const specifier = JSON_EXPORTER;
    this.inner ??= (import(specifier) as Promise<JsonExporterModule>).then((m) =>
      new m.OTLPTraceExporter(this.config)
    );
    return this.inner;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.load().then(
      (e) => e.export(spans, done),
      (err) => done({ code: ExportResultCode.FAILED, error: err as Error }),
    );
  }

  async forceFlush(): Promise<void> {
    if (this.inner) await (await this.inner).forceFlush?.();
  }

  async shutdown(): Promise<void> {
    if (this.inner) await (await this.inner).shutdown();
  }
}

/** What an app holds when OTEL_SDK_DISABLED=true: a tracer that records nothing. */
const DISABLED_TRACER_PROVIDER: TracerProviderLike = {
  getTracer: (name: string, version?: string) => trace.getTracer(name, version),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

const WARN_INTERVAL_MS = 60_000;
let lastWarnAt = -Infinity;
let suppressedWarnings = 0;

/** At most one telemetry warning per minute, with a count of what was held back. */
export function warnExportProblem(message: string): void {
  const now = Date.now();
  if (now - lastWarnAt < WARN_INTERVAL_MS) {
    suppressedWarnings++;
    return;
  }
  const held = suppressedWarnings;
  lastWarnAt = now;
  suppressedWarnings = 0;
  logWarning(
    `telemetry export problem: ${redactUrl(message)}` +
      (held ? ` (${held} similar warnings suppressed in the last minute)` : ""),
  );
}

const rateLimitedDiag: DiagLogger = {
  error: (msg, ...args) => warnExportProblem([msg, ...args.map(errorMessage)].join(" ")),
  warn: (msg, ...args) => warnExportProblem([msg, ...args.map(errorMessage)].join(" ")),
  info: () => {},
  debug: () => {},
  verbose: () => {},
};

/**
 * The standard span limit variables (OTEL_SPAN_* over the general OTEL_ATTRIBUTE_*), which the
 * SDK's TracerProvider does not read itself. Unlike the spec's default (no length limit), an
 * attribute value is cut at DEFAULT_ATTRIBUTE_VALUE_LENGTH characters unless told otherwise:
 * a 30 KB query string or User-Agent must not make a span that the collector's batch to its
 * backend cannot carry. A bad value warns once and keeps the default.
 */
export const DEFAULT_ATTRIBUTE_VALUE_LENGTH = 2048;

export function spanLimitsFromEnv(
  env: Record<string, string | undefined>,
  warn: (key: string, message: string) => void = warnOnce,
): FullSpanLimits {
  const read = (names: string[], fallback: number): number => {
    for (const name of names) {
      const raw = env[name]?.trim();
      if (raw === undefined || raw === "") continue;
      if (/^\d+$/.test(raw)) return Number(raw);
      warn(name, `${name} '${raw}' must be a whole number; using ${fallback}`);
      return fallback;
    }
    return fallback;
  };
  return {
    attributeValueLengthLimit: read(
      ["OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"],
      DEFAULT_ATTRIBUTE_VALUE_LENGTH,
    ),
    attributeCountLimit: read(
      ["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"],
      128,
    ),
    eventCountLimit: read(["OTEL_SPAN_EVENT_COUNT_LIMIT"], 128),
    linkCountLimit: read(["OTEL_SPAN_LINK_COUNT_LIMIT"], 128),
    attributePerEventCountLimit: read(["OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"], 128),
    attributePerLinkCountLimit: read(["OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"], 128),
  };
}

/** Spans the delivery queue holds during an outage (OBSKIT_EXPORT_QUEUE_SPANS). */
export const DEFAULT_EXPORT_QUEUE_SPANS = 8192;

/**
 * The batch processor's own self-observability counts spans it drops when its
 * queue is full (`error.type=queue_full`); this meter provider turns that
 * count into app_telemetry_dropped_total, and ignores everything else.
 */
const batchDropCounter: ApiMeterProvider = {
  getMeter() {
    // A meter of our own on top of a no-op one: the API's no-op meter and counter are
    // shared by the whole process and must not be changed.
    const meter: Meter = Object.create(createNoopMeter());
    meter.createCounter = () => ({
      add(value: number, attrs?: Attributes) {
        if (attrs?.["error.type"] === "queue_full") countDropped("traces", "queue_full", value);
      },
    });
    return meter;
  },
};

/** Counts failed metric exports; metrics are cumulative, so the next export resends them. */
class CountingMetricExporter implements PushMetricExporter {
  readonly selectAggregationTemporality: PushMetricExporter["selectAggregationTemporality"];
  readonly selectAggregation: PushMetricExporter["selectAggregation"];
  constructor(private readonly inner: PushMetricExporter) {
    this.selectAggregationTemporality = inner.selectAggregationTemporality?.bind(inner);
    this.selectAggregation = inner.selectAggregation?.bind(inner);
  }
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) countExportFailure("metrics");
      done(result);
    });
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/**
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, then OTEL_EXPORTER_OTLP_PROTOCOL;
 * default http/protobuf, as the OTLP exporter spec says.
 */
export function tracesProtocol(
  env: Record<string, string | undefined>,
  warn: (key: string, message: string) => void = warnOnce,
): string {
  const raw = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || "")
    .trim().toLowerCase();
  if (raw === "http/json") return "http/json";
  if (raw && raw !== "http/protobuf") {
    warn(
      "protocol",
      `OTLP protocol '${raw}' is not supported by this app (it exports OTLP over HTTP); using http/protobuf`,
    );
  }
  return "http/protobuf";
}

/** What a setup's span delivery reports (failed attempts, the last error) and flushes. */
export type SpanDelivery = Pick<
  DeliveryQueue<unknown>,
  "failures" | "lastError" | "forceFlush" | "queued"
>;

export interface TracingSetup {
  provider: TracerProviderLike;
  tracer: Tracer;
  exporter: SpanDelivery;
}

/** The tracing half of the SDK: sampler, limits, ids, and the bounded batch processor. */
function tracingParts(opts: ObservabilityOptions): SdkParts & { exporter: SpanDelivery } {
  const env = opts.env ?? processEnv();
  const endpoint = normalizeOtlpEndpoint(
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? undefined : env.OTEL_EXPORTER_OTLP_ENDPOINT,
  );
  const timeoutMillis = opts.exportTimeoutMs ?? numberEnv(env.OTEL_EXPORTER_OTLP_TIMEOUT, 10_000);
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${endpoint}/v1/traces`;
  const queue = {
    maxQueuedSpans: numberEnv(env.OBSKIT_EXPORT_QUEUE_SPANS, DEFAULT_EXPORT_QUEUE_SPANS),
    sendTimeoutMs: timeoutMillis + 1000,
    onFailure: (message: string) => warnExportProblem(`${message} (spans kept and retried)`),
  };
  const batching = {
    // Bounded: spans beyond this are dropped, and counted.
    maxQueueSize: numberEnv(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048),
    maxExportBatchSize: numberEnv(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512),
    scheduledDelayMillis: numberEnv(env.OTEL_BSP_SCHEDULE_DELAY, 1000),
  };
  let exporter: SpanDelivery;
  let processor: SpanProcessor;
  if (!opts.spanExporter && tracesProtocol(env) === "http/protobuf") {
    // The default, OTLP/HTTP protobuf (the spec's): spans become bytes a task after they end
    // (proto_span_processor.ts says why not the SDK's BatchSpanProcessor).
    const protoProcessor = new ProtoSpanProcessor({
      ...queue,
      ...batching,
      url,
      timeoutMs: timeoutMillis,
      headers: otlpHeaders(env, "TRACES"),
    });
    exporter = protoProcessor.queue;
    processor = protoProcessor;
  } else {
    // http/json (the SDK's exporter), or a test's in-memory exporter.
    let inner = opts.spanExporter;
    if (!inner) {
      const json = new JsonSpanExporter({
        url,
        timeoutMillis,
        headers: otlpHeaders(env, "TRACES"),
        concurrencyLimit: 4,
      });
      json.load().catch(() => {}); // a failed load fails each export, which is counted
      inner = json;
    }
    // Batches queue here and are sent (and retried) off the request path; bounded in spans.
    const queued = new QueuedSpanExporter(inner, queue);
    exporter = queued;
    // The simple processor (tests) hands each span straight to the exporter, seen at once.
    processor = opts.simpleSpanProcessor
      ? new SimpleSpanProcessor({ exporter: inner })
      : new BatchSpanProcessor({
        exporter: queued,
        ...batching,
        exportTimeoutMillis: timeoutMillis,
        // The batch processor's own queue_full drops, counted too.
        selfObsMeterProvider: batchDropCounter,
      });
  }
  return {
    exporter,
    spanProcessors: [processor],
    idGenerator: new FastIdGenerator(),
    sampler: samplerFromEnv(env),
    spanLimits: spanLimitsFromEnv(env),
  };
}

/** Tracing alone: resource, sampler, OTLP/HTTP behind a bounded batch processor. */
export function setupTracing(opts: ObservabilityOptions, resource?: Resource): TracingSetup {
  const parts = tracingParts(opts);
  const { tracerProvider } = startSdk(
    resource ?? buildResource(opts),
    parts,
    opts.env ?? processEnv(),
  );
  return tracingSetup(opts, tracerProvider, parts.exporter);
}

function tracingSetup(
  opts: ObservabilityOptions,
  tracerProvider: TracerProviderLike | undefined,
  exporter: SpanDelivery,
): TracingSetup {
  const provider = tracerProvider ?? DISABLED_TRACER_PROVIDER;
  return { provider, tracer: provider.getTracer(opts.serviceName, opts.serviceVersion), exporter };
}

export interface MetricsSetup {
  provider: MeterProvider;
  meter: Meter;
  /** Pushes a prom-client registry's families over OTLP with every export (prom_bridge.ts). */
  exportRegistry(registry: Registry): void;
  /** Pushes a MetricSource's data with every export (prom_bridge.ts). */
  exportSource(source: MetricSource): void;
}

/** The metrics half of the SDK: the periodic OTLP reader, fed by the prom-client bridge too. */
function metricParts(opts: ObservabilityOptions): SdkParts & { bridge: PromClientProducer } {
  const env = opts.env ?? processEnv();
  const endpoint = normalizeOtlpEndpoint(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const bridge = new PromClientProducer();
  const metricReaders = opts.metrics === false ? [] : [
    new PeriodicExportingMetricReader({
      // The Prometheus contract families, pushed as well as pulled (one metric contract).
      metricProducers: [bridge],
      // Our exporter: the SDK's OTLP/JSON plus the bridge's exemplars (prom_bridge.ts).
      exporter: new CountingMetricExporter(
        new ExemplarMetricExporter(
          env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? `${endpoint}/v1/metrics`,
          opts.exportTimeoutMs ?? numberEnv(env.OTEL_EXPORTER_OTLP_TIMEOUT, 10_000),
          otlpHeaders(env, "METRICS"),
        ),
      ),
      exportIntervalMillis: opts.metricExportIntervalMs ??
        numberEnv(env.OTEL_METRIC_EXPORT_INTERVAL, 10_000),
    }),
  ];
  return { bridge, metricReaders };
}

/** Metrics alone: OTLP/HTTP read periodically (cumulative temporality). */
export function setupMetrics(opts: ObservabilityOptions, resource?: Resource): MetricsSetup {
  const parts = metricParts(opts);
  const { meterProvider } = startSdk(
    resource ?? buildResource(opts),
    parts,
    opts.env ?? processEnv(),
  );
  return metricsSetup(opts, meterProvider, parts.bridge);
}

function metricsSetup(
  opts: ObservabilityOptions,
  meterProvider: MeterProvider | undefined,
  bridge: PromClientProducer,
): MetricsSetup {
  // No reader (metrics: false) or OTEL_SDK_DISABLED: a provider with nothing to export.
  const provider = meterProvider ?? new MeterProvider();
  return {
    provider,
    meter: provider.getMeter(opts.serviceName, opts.serviceVersion),
    exportRegistry: (registry) => bridge.add(registry),
    exportSource: (source) => bridge.addSource(source),
  };
}

/**
 * OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS, else OTEL_EXPORTER_OTLP_HEADERS:
 * `name=value,name2=value2`, values percent-encoded (the OTel spec's form).
 */
export function otlpHeaders(
  env: Record<string, string | undefined>,
  signal: "TRACES" | "METRICS" | "LOGS",
): Record<string, string> {
  const raw = env[`OTEL_EXPORTER_OTLP_${signal}_HEADERS`] ?? env.OTEL_EXPORTER_OTLP_HEADERS ?? "";
  const out: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    const i = pair.indexOf("=");
    if (i <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(
        pair.slice(i + 1).trim(),
      );
    } catch { /* a malformed pair is skipped, as the SDK does */ }
  }
  return out;
}

/**
 * Log lines over OTLP (log_export.ts): every logger line is sent to the
 * collector's /v1/logs as well as written to stdout. Off with
 * OTEL_LOGS_EXPORTER=none. Returns the flush to run before exit.
 */
export function setupLogExport(
  opts: ObservabilityOptions,
  resource: Resource,
): { flush(): Promise<void>; stop(): Promise<void> } | undefined {
  const env = opts.env ?? processEnv();
  if ((env.OTEL_LOGS_EXPORTER ?? "otlp").trim().toLowerCase() === "none") return undefined;
  const endpoint = normalizeOtlpEndpoint(env.OTEL_EXPORTER_OTLP_ENDPOINT, () => {});
  const exporter = new LogExporter({
    url: env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT ?? `${endpoint}/v1/logs`,
    resource,
    headers: otlpHeaders(env, "LOGS"),
    timeoutMs: opts.exportTimeoutMs ?? numberEnv(env.OTEL_EXPORTER_OTLP_TIMEOUT, 10_000),
    onFailure: (message) => warnExportProblem(redactUrl(message)),
  });
  const previous = setLogForwarder((entry, chars) => exporter.push(entry, chars));
  return {
    flush: () => exporter.flush(),
    async stop() {
      await exporter.flush();
      setLogForwarder(previous);
    },
  };
}

/** Both pipelines with one resource and one shutdown (the chapter's one-shot init). */
export function initializeObservability(opts: ObservabilityOptions): Observability {
  const env = opts.env ?? processEnv();
  const resource = buildResource(opts);
  setKitService(String(resource.attributes[ATTR_SERVICE_NAME]));
  // One SDK for both signals (the chapter's one-shot init).
  const traceParts = tracingParts(opts);
  const metricPart = metricParts(opts);
  const started = startSdk(resource, { ...traceParts, ...metricPart }, env);
  const tracing = tracingSetup(opts, started.tracerProvider, traceParts.exporter);
  const metrics = metricsSetup(opts, started.meterProvider, metricPart.bridge);
  // An injected span exporter is a test's in-memory pipeline: its logs stay local too.
  const logs = opts.spanExporter || opts.logs === false
    ? undefined
    : setupLogExport(opts, resource);
  let stopped: Promise<void> | undefined;
  return {
    tracer: tracing.tracer,
    meter: metrics.meter,
    exportRegistry: metrics.exportRegistry,
    exportSource: metrics.exportSource,
    scope: { name: opts.serviceName, version: opts.serviceVersion },
    resource,
    endpoint: redactUrl(normalizeOtlpEndpoint(env.OTEL_EXPORTER_OTLP_ENDPOINT, () => {})),
    async flush() {
      const before = tracing.exporter.failures;
      await Promise.allSettled([
        tracing.provider.forceFlush(),
        metrics.provider.forceFlush(),
        logs?.flush(),
      ]);
      // The batch processor only hands batches to the delivery queue, which sends them
      // from a later task: wait for that too.
      await tracing.exporter.forceFlush();
      return tracing.exporter.failures === before;
    },
    shutdown() {
      stopped ??= Promise.allSettled([
        tracing.provider.shutdown(),
        metrics.provider.shutdown(),
        logs?.stop(),
      ]).then(() => {});
      return stopped;
    },
  };
}

/** The last export error seen by this tracing setup, if any. */
export function lastExportError(setup: TracingSetup): string | undefined {
  return setup.exporter.lastError;
}

const HEX_CODES = Array.from("0123456789abcdef", (ch) => ch.charCodeAt(0));
const idChars: number[] = new Array(32).fill(48);

/**
 * The SDK's RandomIdGenerator (Math.random, 32 bits at a time, never all
 * zero) with the hex written from a table into one flat string, instead of
 * Buffer#toString, which is slow in Deno's Node compatibility layer.
 */
export class FastIdGenerator {
  generateTraceId(): string {
    return randomHex(4);
  }
  generateSpanId(): string {
    return randomHex(2);
  }
}

function randomHex(words: number): string {
  let nonZero = false;
  for (let i = 0; i < words; i++) {
    const w = (Math.random() * 2 ** 32) >>> 0;
    if (w !== 0) nonZero = true;
    for (let j = 0; j < 8; j++) idChars[i * 8 + j] = HEX_CODES[(w >>> (28 - 4 * j)) & 15];
  }
  // As the SDK does: an all-zero id is invalid, so its last byte becomes 1.
  if (!nonZero) idChars[words * 8 - 1] = 49;
  idChars.length = words * 8;
  const out = String.fromCharCode.apply(null, idChars);
  idChars.length = 32;
  return out;
}

function numberEnv(raw: string | undefined, fallback: number): number {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

export { traced, tracedSync } from "./lib/http_observability.ts";
export { trace };
