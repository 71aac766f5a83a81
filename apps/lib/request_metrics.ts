/**
 * The per-request HTTP metrics, counted once and read by everyone who
 * exports them: the Prometheus contract families (http_requests_total,
 * http_request_duration_seconds with exemplars, http_response_size_bytes,
 * http_active_connections, rendered by prom-client on /metrics and pushed by
 * the bridge) and the semantic-convention OTLP metrics (http.server.*).
 *
 * Why not prom-client's own Counter and Histogram on the request path: each
 * observation validates the labels, builds a hash string from them and, with
 * exemplars, a label object and an Exemplar; measured under load that was the
 * largest library cost of an instrumented request (README "Performance").
 * Here a request finds its series through nested maps of the values it
 * already has (no string is built), and adds to plain counters; prom-client
 * still renders every family at scrape time from what it is given (the
 * metrics below subclass its Counter, Histogram and Gauge and answer
 * `get()` from the table), so the exposition formats stay prom-client's.
 * tests/request_metrics_test.ts feeds the same requests to prom-client's own
 * metrics and to the SDK's Histogram and checks both outputs are identical.
 *
 * Bounded: series are keyed by method (nine known or `_OTHER`), route
 * template and status, so no client can add one; past CARDINALITY_LIMIT sets
 * all further requests count into one overflow set, as the OTel SDK does.
 */
import { type Attributes, type HrTime, ValueType } from "@opentelemetry/api";
import { AggregationTemporality, DataPointType, type MetricData } from "@opentelemetry/sdk-metrics";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { MetricSource } from "./prom_bridge.ts";

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
export const SIZE_BUCKETS = [100, 500, 1000, 5000, 10_000, 50_000, 100_000, 500_000, 1_000_000];

/** Above this many series, requests count into one overflow series (as the OTel SDK does). */
export const CARDINALITY_LIMIT = 2000;

const LABELS = ["method", "endpoint", "status"] as const;
type Label = (typeof LABELS)[number];

/** Counts per bucket (not cumulative), sum and count of one histogram series. */
class Buckets {
  readonly counts: Float64Array;
  sum = 0;
  n = 0;
  min = Infinity;
  max = -Infinity;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  /** The bucket `value` falls in: upper-inclusive, as both Prometheus `le` and OTel buckets. */
  add(value: number): number {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.n++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    return i;
  }
}

/** The latest sampled request per duration bucket: a trace to open from the histogram. */
class Exemplars {
  readonly traceIds: (string | undefined)[];
  readonly spanIds: string[];
  readonly values: number[];
  readonly timesMs: number[];
  constructor(size: number) {
    this.traceIds = new Array(size).fill(undefined);
    this.spanIds = new Array(size).fill("");
    this.values = new Array(size).fill(0);
    this.timesMs = new Array(size).fill(0);
  }
}

/** One series: a method, route template and status (and URL scheme, for OTel). */
export class RequestSeries {
  count = 0;
  readonly duration = new Buckets(DURATION_BUCKETS);
  readonly size = new Buckets(SIZE_BUCKETS);
  readonly exemplars = new Exemplars(DURATION_BUCKETS.length + 1);
  constructor(
    readonly labels: Record<Label, string>,
    readonly attributes: Attributes,
  ) {}
}

/** What one finished request adds. */
export interface RequestRecord {
  method: string;
  endpoint: string;
  status: number;
  scheme: string;
  seconds: number;
  /** Response body size in bytes, when known. */
  size?: number;
  /** The sampled server span, for the duration histogram's exemplar. */
  traceId?: string;
  spanId?: string;
}

const OVERFLOW_LABELS: Record<Label, string> = {
  method: "_OTHER",
  endpoint: "overflow",
  status: "overflow",
};

export class RequestMetricsTable {
  /** scheme → method → endpoint → status → series */
  private readonly index = new Map<string, Map<string, Map<string, Map<number, RequestSeries>>>>();
  private readonly all: RequestSeries[] = [];
  private overflow?: RequestSeries;
  /** Requests being served now (http_active_connections). */
  active = 0;
  /** The same, by method and scheme (http.server.active_requests). */
  private readonly activeBy = new Map<string, Map<string, { attrs: Attributes; value: number }>>();

  /** The series of a request, created the first time (bounded: past the limit, the overflow). */
  series(method: string, endpoint: string, status: number, scheme: string): RequestSeries {
    let byMethod = this.index.get(scheme);
    if (!byMethod) this.index.set(scheme, byMethod = new Map());
    let byEndpoint = byMethod.get(method);
    if (!byEndpoint) byMethod.set(method, byEndpoint = new Map());
    let byStatus = byEndpoint.get(endpoint);
    if (!byStatus) byEndpoint.set(endpoint, byStatus = new Map());
    let s = byStatus.get(status);
    if (s) return s;
    if (this.all.length >= CARDINALITY_LIMIT) {
      return this.overflow ??= new RequestSeries(OVERFLOW_LABELS, { "otel.metric.overflow": true });
    }
    s = new RequestSeries(
      { method, endpoint, status: String(status) },
      {
        "http.request.method": method,
        "http.route": endpoint,
        "http.response.status_code": status,
        "url.scheme": scheme,
      },
    );
    byStatus.set(status, s);
    this.all.push(s);
    return s;
  }

  record(r: RequestRecord): void {
    const s = this.series(r.method, r.endpoint, r.status, r.scheme);
    s.count++;
    const bucket = s.duration.add(r.seconds);
    if (r.size !== undefined) s.size.add(r.size);
    if (r.traceId !== undefined) {
      const e = s.exemplars;
      e.traceIds[bucket] = r.traceId;
      e.spanIds[bucket] = r.spanId!;
      e.values[bucket] = r.seconds;
      e.timesMs[bucket] = Date.now();
    }
  }

  /** A request started (+1) or finished (-1), counted by method and scheme too. */
  addActive(method: string, scheme: string, delta: number): void {
    this.active += delta;
    let byMethod = this.activeBy.get(scheme);
    if (!byMethod) this.activeBy.set(scheme, byMethod = new Map());
    let entry = byMethod.get(method);
    if (!entry) {
      entry = { attrs: { "http.request.method": method, "url.scheme": scheme }, value: 0 };
      byMethod.set(method, entry);
    }
    entry.value += delta;
  }

  /** Every series, the overflow last. */
  *entries(): Generator<RequestSeries> {
    yield* this.all;
    if (this.overflow) yield this.overflow;
  }

  *activeEntries(): Generator<{ attrs: Attributes; value: number }> {
    for (const byMethod of this.activeBy.values()) yield* byMethod.values();
  }
}

/** A histogram family of the table, rendered by prom-client (`le` buckets, _sum, _count). */
function histogramValues(
  name: string,
  table: RequestMetricsTable,
  pick: (s: RequestSeries) => Buckets,
  withExemplars: boolean,
  splay: boolean,
) {
  const values: unknown[] = [];
  for (const s of table.entries()) {
    const h = pick(s);
    if (h.n === 0) continue;
    const shared = s.labels;
    const labels = (le: number | string) => splay ? { le, ...shared } : { le };
    let acc = 0;
    for (let i = 0; i <= h.bounds.length; i++) {
      acc += h.counts[i];
      const e = s.exemplars;
      const exemplar = withExemplars && e.traceIds[i] !== undefined
        ? {
          labelSet: { trace_id: e.traceIds[i], span_id: e.spanIds[i] },
          value: e.values[i],
          timestamp: e.timesMs[i] / 1000,
        }
        : null;
      const le = i < h.bounds.length ? h.bounds[i] : "+Inf";
      values.push({
        labels: labels(le),
        sharedLabels: splay ? undefined : shared,
        value: i < h.bounds.length ? acc : h.n,
        metricName: `${name}_bucket`,
        exemplar,
      });
    }
    values.push({
      labels: splay ? { ...shared } : {},
      sharedLabels: splay ? undefined : shared,
      value: h.sum,
      metricName: `${name}_sum`,
    });
    values.push({
      labels: splay ? { ...shared } : {},
      sharedLabels: splay ? undefined : shared,
      value: h.n,
      metricName: `${name}_count`,
    });
  }
  // prom-client's own shape: sharedLabels only on the text path (as Histogram does).
  if (splay) { for (const v of values) delete (v as { sharedLabels?: unknown }).sharedLabels; }
  return values;
}

/**
 * The fields prom-client's Metric sets at construction (and its registry
 * changes: an OpenMetrics scrape renames counters), which its typings leave out.
 */
function metricFields(m: object): { name: string; help: string; aggregator: string } {
  const { name, help, aggregator } = m as { name: string; help: string; aggregator: string };
  return { name, help, aggregator };
}

/** prom-client's Histogram, its values read from the table (see the module comment). */
class TableHistogram extends Histogram<Label> {
  private readonly withExemplars: boolean;
  constructor(
    config: { name: string; help: string; buckets: number[]; enableExemplars?: boolean },
    private readonly table: RequestMetricsTable,
    private readonly pick: (s: RequestSeries) => Buckets,
  ) {
    super({ ...config, labelNames: LABELS, registers: [] });
    this.withExemplars = config.enableExemplars === true;
  }
  private snapshot(splay: boolean) {
    const { name, help, aggregator } = metricFields(this);
    return {
      name,
      help,
      type: "histogram" as const,
      values: histogramValues(name, this.table, this.pick, this.withExemplars, splay),
      aggregator,
    };
  }
  // deno-lint-ignore require-await
  override async get() {
    return this.snapshot(true) as unknown as Awaited<ReturnType<Histogram<Label>["get"]>>;
  }
  /** Refused: what this metric shows comes from the table (RequestMetricsTable.record). */
  override observe(): void {
    throw new Error(`${metricFields(this).name} is read from the request table: record there`);
  }
  /** What prom-client's registry renders as text (labels shared, as its Histogram does). */
  // deno-lint-ignore require-await
  async getForPromString() {
    return this.snapshot(false);
  }
}

/** prom-client's Counter, its values read from the table. */
class TableCounter extends Counter<Label> {
  constructor(config: { name: string; help: string }, private readonly table: RequestMetricsTable) {
    super({ ...config, labelNames: LABELS, registers: [] });
  }
  /** Refused: what this metric shows comes from the table (RequestMetricsTable.record). */
  override inc(): void {
    throw new Error(`${metricFields(this).name} is read from the request table: record there`);
  }
  // deno-lint-ignore require-await
  override async get() {
    const values = [];
    for (const s of this.table.entries()) values.push({ value: s.count, labels: { ...s.labels } });
    const { name, help, aggregator } = metricFields(this);
    return {
      name,
      help,
      type: "counter" as const,
      values,
      aggregator,
    } as unknown as Awaited<ReturnType<Counter<Label>["get"]>>;
  }
}

export interface HttpMetrics {
  table: RequestMetricsTable;
  /** The duration histogram takes exemplars (the trace and span id of sampled requests). */
  exemplars: boolean;
  /** http_response_size_bytes is exported (its sizes are always counted). */
  responseSize: boolean;
}

/** Registers the contract families on `registry`, all read from one table. */
export function createHttpMetrics(
  registry: Registry,
  opts: { responseSize?: boolean; exemplars?: boolean } = {},
): HttpMetrics {
  const table = new RequestMetricsTable();
  const exemplars = opts.exemplars === true;
  registry.registerMetric(
    new TableCounter({
      name: "http_requests_total",
      help: "Total HTTP requests by method, route template and status code.",
    }, table),
  );
  registry.registerMetric(
    new TableHistogram(
      {
        name: "http_request_duration_seconds",
        help: "HTTP request duration in seconds by method, route template and status code.",
        buckets: DURATION_BUCKETS,
        enableExemplars: exemplars,
      },
      table,
      (s) => s.duration,
    ),
  );
  new Gauge({
    name: "http_active_connections",
    help: "HTTP requests currently being served.",
    registers: [registry],
    collect() {
      this.set(table.active);
    },
  });
  if (opts.responseSize) {
    registry.registerMetric(
      new TableHistogram(
        {
          name: "http_response_size_bytes",
          help: "HTTP response body size in bytes by method, route template and status code.",
          buckets: SIZE_BUCKETS,
        },
        table,
        (s) => s.size,
      ),
    );
  }
  return { table, exemplars, responseSize: opts.responseSize === true };
}

/**
 * http.server.request.duration from the table, as the SDK's explicit-bucket
 * Histogram would export it (cumulative), for the OTLP metric push.
 */
export class DurationSource implements MetricSource {
  constructor(readonly scope: MetricSource["scope"], private readonly table: RequestMetricsTable) {}

  collect(startTime: HrTime, endTime: HrTime): MetricData[] {
    const dataPoints = [];
    for (const s of this.table.entries()) {
      const h = s.duration;
      if (h.n === 0) continue;
      dataPoints.push({
        startTime,
        endTime,
        attributes: s.attributes,
        value: {
          buckets: { boundaries: [...h.bounds], counts: [...h.counts] },
          sum: h.sum,
          count: h.n,
          min: h.min,
          max: h.max,
        },
      });
    }
    if (dataPoints.length === 0) return [];
    return [{
      descriptor: {
        name: "http.server.request.duration",
        description: "Duration of HTTP server requests.",
        unit: "s",
        valueType: ValueType.DOUBLE,
      },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    }];
  }
}
