/**
 * One trace as a waterfall: spans in parent-before-child order with their
 * depth, offset from the trace's start and duration, error mark, attributes,
 * events and recorded exception. The viewer draws it as a chart and
 * `verify --traces-only` prints it in the terminal; both read this model.
 */
import type { JaegerKeyValue, JaegerSpan, JaegerTrace } from "../verify/mod.ts";

export interface WaterfallRow {
  spanID: string;
  service: string;
  operation: string;
  depth: number;
  /** Microseconds from the trace's first span start. */
  offsetUs: number;
  durationUs: number;
  error: boolean;
  attributes: [string, string][];
  events: { offsetUs: number; name: string; fields: [string, string][] }[];
  exception: { type: string; message: string; stacktrace: string } | null;
}

export interface Waterfall {
  traceID: string;
  startUs: number;
  totalUs: number;
  rows: WaterfallRow[];
  services: string[];
}

function kv(list: JaegerKeyValue[] | undefined): [string, string][] {
  return (list ?? []).map((t) => [t.key, String(t.value)]);
}

function parentOf(s: JaegerSpan): string | null {
  return (s.references ?? []).find((r) => r.refType === "CHILD_OF")?.spanID ?? null;
}

export function waterfall(trace: JaegerTrace): Waterfall {
  const spans = trace.spans;
  const startUs = Math.min(...spans.map((s) => s.startTime));
  const endUs = Math.max(...spans.map((s) => s.startTime + (s.duration ?? 0)));
  const ids = new Set(spans.map((s) => s.spanID));
  const children = new Map<string | null, JaegerSpan[]>();
  for (const s of spans) {
    const p = parentOf(s);
    const key = p && ids.has(p) ? p : null;
    children.set(key, [...(children.get(key) ?? []), s]);
  }
  // The JS SDK stamps a span's start with Date.now() (milliseconds), so siblings started in
  // the same millisecond tie; the one that ended first is the one that ran first.
  const end = (s: JaegerSpan) => s.startTime + (s.duration ?? 0);
  for (const list of children.values()) {
    list.sort((a, b) => a.startTime - b.startTime || end(a) - end(b));
  }
  const rows: WaterfallRow[] = [];
  const visit = (s: JaegerSpan, depth: number) => {
    const tags = kv(s.tags);
    const tag = (k: string) => tags.find(([key]) => key === k)?.[1];
    const events = (s.logs ?? []).map((l) => {
      const fields = kv(l.fields);
      const name = fields.find(([k]) => k === "event")?.[1] ?? "event";
      return {
        offsetUs: l.timestamp - startUs,
        name,
        fields: fields.filter(([k]) => k !== "event"),
      };
    });
    const exc = events.find((e) => e.name === "exception");
    const f = (k: string) => exc?.fields.find(([key]) => key === k)?.[1] ?? "";
    rows.push({
      spanID: s.spanID,
      service: trace.processes?.[s.processID]?.serviceName ?? "?",
      operation: s.operationName,
      depth,
      offsetUs: s.startTime - startUs,
      durationUs: s.duration ?? 0,
      error: tag("error") === "true" || tag("otel.status_code") === "ERROR" || !!exc,
      attributes: tags,
      events,
      exception: exc
        ? {
          type: f("exception.type"),
          message: f("exception.message"),
          stacktrace: f("exception.stacktrace"),
        }
        : null,
    });
    for (const c of children.get(s.spanID) ?? []) visit(c, depth + 1);
  };
  for (const root of children.get(null) ?? []) visit(root, 0);
  return {
    traceID: trace.traceID,
    startUs,
    totalUs: Math.max(1, endUs - startUs),
    rows,
    services: [...new Set(rows.map((r) => r.service))],
  };
}

/** The viewer's URL for one trace: what verify and the demo print next to a trace id. */
export function traceUrl(viewer: string, traceId: string): string {
  return `${viewer.replace(/\/+$/, "")}/trace/${traceId}`;
}

/** Microseconds as "1.23 ms", "850 µs", "2.1 s". */
export function formatUs(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${Number((us / 1000).toPrecision(3))} ms`;
  return `${Number((us / 1_000_000).toPrecision(3))} s`;
}

/**
 * The waterfall for a terminal: one line per span, indented by depth, a bar
 * of `width` columns on the trace's time axis, the duration, and an error
 * mark with the recorded exception.
 */
export function waterfallText(w: Waterfall, width = 40): string {
  const labels = w.rows.map((r) => `${"  ".repeat(r.depth)}${r.operation}`);
  const labelWidth = Math.min(48, Math.max(10, ...labels.map((l) => l.length)));
  const lines = [
    `trace ${w.traceID}  ${formatUs(w.totalUs)}, ${w.rows.length} spans, ${w.services.join(", ")}`,
    `${"".padEnd(labelWidth)}  0${"".padEnd(width - 1 - formatUs(w.totalUs).length)}${
      formatUs(w.totalUs)
    }`,
  ];
  w.rows.forEach((r, i) => {
    const a = Math.min(width - 1, Math.floor((r.offsetUs / w.totalUs) * width));
    const len = Math.max(1, Math.round((r.durationUs / w.totalUs) * width));
    const bar = " ".repeat(a) + "█".repeat(Math.min(len, width - a));
    const label = labels[i].length > labelWidth
      ? labels[i].slice(0, labelWidth - 1) + "…"
      : labels[i];
    lines.push(
      `${label.padEnd(labelWidth)} |${bar.padEnd(width)}| ${formatUs(r.durationUs)}${
        r.error ? "  ERROR" : ""
      }${r.exception ? ` ${r.exception.type}: ${r.exception.message}` : ""}`,
    );
  });
  return lines.join("\n");
}
