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
 */
import { type Attributes, type HrTime, ValueType } from "@opentelemetry/api";
import { hrTime, millisToHrTime } from "@opentelemetry/core";
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type MetricData,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import type { MetricObjectWithValues, MetricValueWithName, Registry } from "prom-client";

type PromMetric = MetricObjectWithValues<MetricValueWithName<string>>;

/** The scope the bridged metrics carry (visible as otel_scope_name on 8889). */
export const BRIDGE_SCOPE = { name: "obskit-prom-client-bridge", version: "1" };

export class PromClientProducer implements MetricProducer {
  private readonly registries: Registry[] = [];
  /** Cumulative sums start when the process's registries started counting. */
  private readonly startTime: HrTime = millisToHrTime(Date.now());

  /** Adds a registry whose families are exported with every collection. */
  add(registry: Registry): void {
    if (!this.registries.includes(registry)) this.registries.push(registry);
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
    return {
      // The reader keeps the SDK's resource; only the scope metrics of a producer are used.
      resourceMetrics: {
        resource: undefined as never,
        scopeMetrics: [{ scope: BRIDGE_SCOPE, metrics }],
      },
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
    };
  });
}
