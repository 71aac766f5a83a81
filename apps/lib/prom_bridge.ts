/**
 * The metric contract in both worlds: the instrumented app records its
 * Prometheus families once, with prom-client, and they leave the process two
 * ways with the same names and labels:
 *
 *   - pulled: GET /metrics (Prometheus text), as the chapter's app exposes;
 *   - pushed: this MetricProducer hands the same registry to the OTLP metric
 *     reader at every export, so the collector's `prometheus` exporter shows
 *     them on 8889 under `job` = the app's service.name (Prometheus scrapes
 *     8889 with honor_labels). That is the path that works for an app in a
 *     pod and for one run on a laptop against a port-forwarded collector.
 *
 * Reading the registry happens at the export interval (10 s), never per
 * request. Counters become monotonic cumulative sums, gauges gauges,
 * histograms explicit-bucket histograms (prom-client's cumulative `le`
 * buckets turned into per-bucket counts). Units stay empty: the names
 * already carry them, so the exporter adds no second suffix.
 *
 * Exemplars: the latency histogram keeps, per bucket, the trace and span id
 * of the latest sampled request (prom-client). The OTel JS SDK's metric data
 * has no exemplars, so the bridge's histogram points carry them as
 * `exemplars` and the exporter writes them into the OTLP protobuf
 * (otlp_proto.ts encodeMetrics); the collector's prometheus exporter then
 * serves them in OpenMetrics (enable_open_metrics), where Prometheus stores
 * them.
 */
import { type Attributes, type HrTime, ValueType } from "@opentelemetry/api";
import { hrTime, millisToHrTime } from "@opentelemetry/core";
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type MetricData,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { exportOtlp, PROTOBUF } from "./otlp_http.ts";
import { encodeMetrics, type PointExemplar } from "./otlp_proto.ts";
import {
  type Metric,
  type MetricObjectWithValues,
  type MetricValueWithName,
  type OpenMetricsContentType,
  Registry,
} from "prom-client";

type PromMetric = MetricObjectWithValues<MetricValueWithName<string>>;

/** The scope the bridged metrics carry (visible as otel_scope_name on 8889). */
export const BRIDGE_SCOPE = { name: "obskit-prom-client-bridge", version: "1" };

/**
 * Metric data kept outside the SDK's instruments (apps/lib/http_observability.ts
 * keeps the semantic-convention request histogram this way: the SDK's
 * histogram hashes the attribute set on every record), read at export.
 */
export interface MetricSource {
  scope: { name: string; version?: string };
  collect(startTime: HrTime, endTime: HrTime): MetricData[];
}

export class PromClientProducer implements MetricProducer {
  private readonly registries: Registry[] = [];
  private readonly sources: MetricSource[] = [];
  /** Cumulative sums start when the process's registries started counting. */
  private readonly startTime: HrTime = millisToHrTime(Date.now());

  /** Adds a registry whose families are exported with every collection. */
  add(registry: Registry): void {
    if (!this.registries.includes(registry)) this.registries.push(registry);
  }

  /** Adds a source whose data is exported with every collection, under its own scope. */
  addSource(source: MetricSource): void {
    if (!this.sources.includes(source)) this.sources.push(source);
  }

  async collect(): Promise<CollectionResult> {
    const metrics: MetricData[] = [];
    const errors: unknown[] = [];
    const endTime = hrTime();
    for (const registry of this.registries) {
      let families: PromMetric[];
      try {
        families = await registry.getMetricsAsJSON() as PromMetric[];
      } catch (err) {
        errors.push(err);
        continue;
      }
      for (const family of families) {
        const data = convert(family, this.startTime, endTime);
        if (data) metrics.push(data);
      }
    }
    const scopeMetrics: { scope: MetricSource["scope"]; metrics: MetricData[] }[] = [
      { scope: BRIDGE_SCOPE, metrics },
    ];
    for (const source of this.sources) {
      try {
        scopeMetrics.push({
          scope: source.scope,
          metrics: source.collect(this.startTime, endTime),
        });
      } catch (err) {
        errors.push(err);
      }
    }
    return {
      // The reader keeps the SDK's resource; only the scope metrics of a producer are used.
      resourceMetrics: { resource: undefined as never, scopeMetrics },
      errors,
    };
  }
}

function attributesOf(labels: Record<string, string | number | undefined>): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) out[k] = v;
  return out;
}

/** One prom-client family as OTel metric data, or undefined for a type we do not export. */
export function convert(
  family: PromMetric,
  startTime: HrTime,
  endTime: HrTime,
): MetricData | undefined {
  const descriptor = {
    name: family.name,
    description: family.help,
    unit: "",
    valueType: ValueType.DOUBLE,
  };
  const type = String(family.type);
  if (type === "counter" || type === "gauge") {
    const dataPoints = family.values.map((v) => ({
      startTime,
      endTime,
      attributes: attributesOf(v.labels),
      value: v.value,
    }));
    if (type === "gauge") {
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints,
      };
    }
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    };
  }
  if (type === "histogram") {
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: histogramPoints(family, startTime, endTime),
    };
  }
  // Summaries have no OTLP equivalent with the same meaning; none of ours uses one.
  return undefined;
}

/**
 * prom-client lists, per label set, `_bucket` values with cumulative counts
 * by `le`, then `_sum` and `_count`. OTLP wants the finite boundaries and the
 * count in each bucket (the last one above the largest boundary).
 */
function histogramPoints(family: PromMetric, startTime: HrTime, endTime: HrTime) {
  interface Acc {
    attributes: Attributes;
    buckets: [number, number][];
    sum: number;
    count: number;
    exemplars?: PointExemplar[];
  }
  const series = new Map<string, Acc>();
  for (const v of family.values) {
    const { le, ...rest } = v.labels as Record<string, string | number | undefined>;
    const key = JSON.stringify(Object.entries(rest).sort());
    let acc = series.get(key);
    if (!acc) {
      acc = { attributes: attributesOf(rest), buckets: [], sum: 0, count: 0 };
      series.set(key, acc);
    }
    if (v.metricName?.endsWith("_bucket")) {
      acc.buckets.push([le === "+Inf" ? Infinity : Number(le), v.value]);
      const e = (v as { exemplar?: PromExemplar }).exemplar;
      if (e && typeof e.labelSet?.trace_id === "string") {
        (acc.exemplars ??= []).push({
          timeMs: Math.round(e.timestamp * 1e3),
          value: e.value,
          traceId: e.labelSet.trace_id,
          spanId: String(e.labelSet.span_id ?? ""),
        });
      }
    } else if (v.metricName?.endsWith("_sum")) acc.sum = v.value;
    else if (v.metricName?.endsWith("_count")) acc.count = v.value;
  }
  return [...series.values()].map((acc) => {
    acc.buckets.sort((a, b) => a[0] - b[0]);
    const boundaries = acc.buckets.filter(([le]) => le !== Infinity).map(([le]) => le);
    const counts: number[] = [];
    let previous = 0;
    for (const [, cumulative] of acc.buckets) {
      counts.push(cumulative - previous);
      previous = cumulative;
    }
    if (!acc.buckets.some(([le]) => le === Infinity)) counts.push(acc.count - previous);
    return {
      startTime,
      endTime,
      attributes: acc.attributes,
      value: { buckets: { boundaries, counts }, sum: acc.sum, count: acc.count },
      exemplars: acc.exemplars,
    };
  });
}

/** prom-client's exemplar on a bucket value (timestamp in seconds). */
interface PromExemplar {
  labelSet: Record<string, string | number>;
  value: number;
  timestamp: number;
}

export const OPENMETRICS_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

/** Whether an Accept header asks for OpenMetrics (Prometheus lists it first when it does). */
export function wantsOpenMetrics(accept: string | null | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some((part) => {
    const [type, ...params] = part.split(";").map((x) => x.trim().toLowerCase());
    const q = params.find((x) => x.startsWith("q="));
    return type === "application/openmetrics-text" && (!q || Number(q.slice(2)) > 0);
  });
}

/**
 * `registry` in OpenMetrics, exemplars included, rendered by prom-client.
 * Its OpenMetrics renderer renames counters in place (`http_requests_total`
 * becomes `http_requests`, written back with `_total`), which would change
 * the 0.0.4 text and the pushed names too; so it renders views of the
 * families with the counter names already in OpenMetrics form.
 */
export function openMetricsText(registry: Registry): Promise<string> {
  // The typings omit the constructor's content type argument.
  const OpenMetricsRegistry = Registry as unknown as new (
    type: string,
  ) => Registry<OpenMetricsContentType>;
  const om = new OpenMetricsRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const metric of registry.getMetricsAsArray()) {
    const m = metric as unknown as {
      name: string;
      help: string;
      type: string;
      get(): Promise<PromMetric>;
    };
    const counter = String(m.type) === "counter";
    const name = counter ? m.name.replace(/_total$/, "") : m.name;
    om.registerMetric({
      name,
      help: m.help,
      type: m.type,
      get: async () => {
        const data = await m.get();
        return counter ? { ...data, name } : data;
      },
    } as unknown as Metric);
  }
  return om.metrics();
}

/**
 * OTLP/HTTP JSON metric exporter whose requests carry the bridge's
 * exemplars (the SDK's OTLPMetricExporter drops them). One POST per export
 * interval; a failure is reported and the next export carries the totals.
 */
/** The collection as OTLP/HTTP protobuf, exemplars included (otlp_proto.ts encodeMetrics). */
export class ExemplarMetricExporter implements PushMetricExporter {
  private readonly headers: Record<string, string>;
  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    headers: Record<string, string> = {},
  ) {
    this.headers = { ...headers, "content-type": PROTOBUF };
  }

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = encodeMetrics(metrics);
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err as Error });
      return;
    }
    exportOtlp(this.url, body, this.headers, this.timeoutMs, "metrics export").then(done);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
