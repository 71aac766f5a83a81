/**
 * One Grafana panel as HTML, from its JSON and the data its targets
 * returned: timeseries (lines, bars, stacking, fill, thresholds as lines,
 * per-series overrides and a right axis), stat (value coloured by
 * thresholds, sparkline), gauge, bargauge, table and text. Charts are Apache
 * ECharts rendered to SVG on the server, so the browser runs no chart code.
 * Legends are HTML (list or table with their calcs). Exemplars of a target
 * marked `"exemplar": true` are points on the same time axis, and their trace
 * ids are links to `/trace/<id>` under the chart (metrics -> traces).
 */
import * as echarts from "echarts";
import type { Json } from "./dashboard.ts";
import { esc } from "./html.ts";
import { color, formatValue, PALETTE, thresholdColor, type Thresholds } from "./units.ts";
import type { Sample } from "./upstream.ts";

/** What one target returned. */
export interface TargetData {
  refId: string;
  legendFormat?: string;
  samples: Sample[];
  /** A query error or "needs kube-state-metrics" for a target that was not run. */
  error?: string;
  instant: boolean;
}

export interface PanelData {
  targets: TargetData[];
  /** Exporters only a cluster has, when some target needs one (the panel says so). */
  clusterOnly: string[];
  /** The panel shows only ALERTS: no data means no incident. */
  incident: boolean;
  from: number;
  to: number;
  /** Exemplars of the panel's `"exemplar": true` targets (Prometheus' query_exemplars). */
  exemplars?: Exemplar[];
}

/** One sampled observation with the trace it belongs to. */
export interface Exemplar {
  traceId: string;
  spanId: string;
  /** The observed value (seconds, for a latency histogram). */
  value: number;
  /** Unix milliseconds. */
  time: number;
  /** The labels of the bucket series it was recorded on. */
  series: Record<string, string>;
}

/** At most this many exemplars are drawn per panel: more would hide the lines under them. */
export const MAX_EXEMPLARS = 50;

/** Grafana's exemplar marker colour. */
export const EXEMPLAR_COLOR = "#FADE2A";

/**
 * At most `max` exemplars, spread evenly over time, the slowest always kept:
 * the outlier is the one worth opening.
 */
export function boundExemplars(list: Exemplar[], max = MAX_EXEMPLARS): Exemplar[] {
  const seen = new Set<string>();
  const sorted = list.filter((e) => {
    const key = `${e.traceId}/${e.spanId}/${e.time}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }).sort((a, b) => a.time - b.time);
  if (sorted.length <= max) return sorted;
  const slowest = sorted.reduce((m, e) => (e.value > m.value ? e : m));
  const picked = new Set<Exemplar>([slowest]);
  const stride = sorted.length / (max - 1);
  for (let i = 0; picked.size < max && i < max; i++) picked.add(sorted[Math.floor(i * stride)]);
  for (const e of sorted) {
    if (picked.size >= max) break;
    picked.add(e);
  }
  return [...picked].sort((a, b) => a.time - b.time);
}

export interface Size {
  width: number;
  height: number;
}

/** Panel types this renderer draws (tests check every committed panel uses one). */
export const PANEL_TYPES = [
  "timeseries",
  "graph",
  "stat",
  "gauge",
  "bargauge",
  "table",
  "text",
  "row",
];

export const THEME = {
  text: "#ccccdc",
  axis: "#8e8e9a",
  grid: "#2c3235",
  font: "Inter, Helvetica, Arial, sans-serif",
};

interface Series {
  name: string;
  refId: string;
  points: [number, number | null][];
  color: string;
  unit: string;
  decimals?: number;
  right: boolean;
  draw: string;
  fill: number;
  lineWidth: number;
  stack: string | null;
}

/** Grafana's legendFormat: `{{label}}` replaced by the series' label value. */
export function seriesName(metric: Record<string, string>, legendFormat?: string): string {
  if (legendFormat && legendFormat !== "__auto") {
    return legendFormat.replace(
      /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g,
      (_, l) => metric[l] ?? "",
    );
  }
  const name = metric.__name__ ?? "";
  const labels = Object.entries(metric).filter(([k]) => k !== "__name__")
    .map(([k, v]) => `${k}="${v}"`).join(", ");
  return labels ? `${name}{${labels}}` : name || "value";
}

function matches(matcher: Json, s: { name: string; refId: string }): boolean {
  const opt = String(matcher?.options ?? "");
  switch (matcher?.id) {
    case "byName":
      return s.name === opt;
    case "byRegexp":
      try {
        return new RegExp(opt).test(s.name);
      } catch {
        return false;
      }
    case "byFrameRefID":
      return s.refId === opt;
    default:
      return false;
  }
}

/** The panel's field defaults with every matching override applied, for one series. */
export function fieldConfig(panel: Json, s: { name: string; refId: string }): Json {
  const d = structuredClone(panel.fieldConfig?.defaults ?? {});
  d.custom ??= {};
  for (const o of panel.fieldConfig?.overrides ?? []) {
    if (!matches(o.matcher, s)) continue;
    for (const p of o.properties ?? []) {
      const id = String(p.id);
      if (id.startsWith("custom.")) d.custom[id.slice(7)] = p.value;
      else if (id === "color") d.color = p.value;
      else d[id] = p.value;
    }
  }
  return d;
}

function buildSeries(panel: Json, data: PanelData): Series[] {
  const out: Series[] = [];
  for (const t of data.targets) {
    for (const s of t.samples) {
      const name = seriesName(s.metric, t.legendFormat);
      const fc = fieldConfig(panel, { name, refId: t.refId });
      const fixed = fc.color?.mode === "fixed" ? color(fc.color.fixedColor) : null;
      out.push({
        name: fc.displayName ?? name,
        refId: t.refId,
        points: s.values.map(([ts, v]) => [ts * 1000, Number.isFinite(v) ? v : null]),
        color: fixed ?? PALETTE[out.length % PALETTE.length],
        unit: fc.unit ?? "short",
        decimals: fc.decimals,
        right: fc.custom.axisPlacement === "right",
        draw: fc.custom.drawStyle ?? "line",
        fill: Number(fc.custom.fillOpacity ?? 0),
        lineWidth: Number(fc.custom.lineWidth ?? 1),
        stack: fc.custom.stacking?.mode && fc.custom.stacking.mode !== "none"
          ? String(fc.custom.stacking.group ?? "A")
          : null,
      });
    }
  }
  return out;
}

/** Points with a gap wider than 1.5 steps get a null between them (spanNulls: false). */
function withGaps(points: [number, number | null][]): [number, number | null][] {
  if (points.length < 3) return points;
  const step = Math.min(...points.slice(1).map((p, i) => p[0] - points[i][0]));
  const out: [number, number | null][] = [];
  for (let i = 0; i < points.length; i++) {
    if (i > 0 && points[i][0] - points[i - 1][0] > 1.5 * step) {
      out.push([points[i][0] - step, null]);
    }
    out.push(points[i]);
  }
  return out;
}

const CALCS: Record<string, (v: number[]) => number | null> = {
  mean: (v) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null),
  max: (v) => (v.length ? Math.max(...v) : null),
  min: (v) => (v.length ? Math.min(...v) : null),
  sum: (v) => (v.length ? v.reduce((a, b) => a + b, 0) : null),
  last: (v) => v.at(-1) ?? null,
  lastNotNull: (v) => v.at(-1) ?? null,
  first: (v) => v[0] ?? null,
  firstNotNull: (v) => v[0] ?? null,
  count: (v) => v.length,
  range: (v) => (v.length ? Math.max(...v) - Math.min(...v) : null),
};

export const CALC_NAMES: Record<string, string> = {
  mean: "Mean",
  max: "Max",
  min: "Min",
  sum: "Total",
  last: "Last",
  lastNotNull: "Last *",
  first: "First",
  firstNotNull: "First *",
  count: "Count",
  range: "Range",
};

export function reduce(points: [number, number | null][], calc = "lastNotNull"): number | null {
  const vals = points.map((p) => p[1]).filter((v): v is number => v !== null && !Number.isNaN(v));
  return (CALCS[calc] ?? CALCS.lastNotNull)(vals);
}

/** ECharts' SVG, scaled to its box: the page lays panels out by percentage. */
function render(option: Json, size: Size): string {
  const chart = echarts.init(null, null, {
    renderer: "svg",
    ssr: true,
    width: Math.max(10, Math.round(size.width)),
    height: Math.max(10, Math.round(size.height)),
  });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: THEME.font }, ...option });
    // Coordinates to one decimal: a tenth of a pixel is invisible, and it halves the page.
    return chart.renderToSVGString()
      .replace(/ d="([^"]*)"/g, (_, d: string) => ` d="${d.replace(/(\.\d)\d+/g, "$1")}"`)
      .replace(/^<svg width="\d+" height="\d+"/, '<svg class="chart" preserveAspectRatio="none"');
  } finally {
    chart.dispose();
  }
}

function hhmm(t: number, spanMs: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, "0");
  const time = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return spanMs > 2 * 86_400_000 ? `${p(d.getMonth() + 1)}/${p(d.getDate())} ${time}` : time;
}

function thresholdMarks(panel: Json): Json | undefined {
  const fc = panel.fieldConfig?.defaults ?? {};
  const style = fc.custom?.thresholdsStyle?.mode ?? "off";
  if (style === "off") return undefined;
  const steps = (fc.thresholds?.steps ?? []).filter((s: Json) => s.value !== null);
  if (steps.length === 0) return undefined;
  const lineType = style.includes("dashed") ? "dashed" : "solid";
  const out: Json = {};
  if (style.includes("line") || style.includes("dashed")) {
    out.markLine = {
      silent: true,
      symbol: "none",
      label: { show: false },
      data: steps.map((s: Json) => ({
        yAxis: s.value,
        lineStyle: { color: color(s.color), type: lineType, width: 1 },
      })),
    };
  }
  if (style.includes("area")) {
    const all = fc.thresholds.steps as Json[];
    out.markArea = {
      silent: true,
      data: all.map((s: Json, i: number) => [
        { yAxis: s.value ?? -1e308, itemStyle: { color: color(s.color), opacity: 0.12 } },
        { yAxis: all[i + 1]?.value ?? 1e308 },
      ]),
    };
  }
  return out;
}

function timeseriesChart(
  panel: Json,
  series: Series[],
  data: PanelData,
  size: Size,
  exemplars: Exemplar[],
): string {
  const fc = panel.fieldConfig?.defaults ?? {};
  const leftUnit = series.find((s) => !s.right)?.unit ?? fc.unit ?? "short";
  const rightUnit = series.find((s) => s.right)?.unit;
  const percentStack = fc.custom?.stacking?.mode === "percent";
  const axis = (unit: string, show: boolean, decimals?: number) => ({
    type: "value",
    show,
    min: fc.min ?? undefined,
    max: fc.max ?? undefined,
    splitNumber: Math.max(2, Math.round(size.height / 60)),
    axisLabel: {
      color: THEME.axis,
      fontSize: 11,
      formatter: (v: number) => formatValue(v, percentStack ? "percentunit" : unit, decimals),
    },
    splitLine: { show, lineStyle: { color: THEME.grid } },
  });
  const marks = thresholdMarks(panel);
  // Percent stacking: each point as its share of the stack at that time.
  const totals = new Map<number, number>();
  if (percentStack) {
    for (const s of series) {
      for (const [t, v] of s.points) totals.set(t, (totals.get(t) ?? 0) + (v ?? 0));
    }
  }
  const option = {
    backgroundColor: "transparent",
    grid: { left: 6, right: rightUnit ? 6 : 14, top: 8, bottom: 4, containLabel: true },
    xAxis: {
      type: "time",
      min: data.from,
      max: data.to,
      splitNumber: Math.max(2, Math.round(size.width / 110)),
      axisLabel: {
        color: THEME.axis,
        fontSize: 11,
        hideOverlap: true,
        formatter: (t: number) => hhmm(t, data.to - data.from),
      },
      axisLine: { lineStyle: { color: THEME.grid } },
      splitLine: { show: false },
    },
    yAxis: rightUnit ? [axis(leftUnit, true), axis(rightUnit, true)] : [axis(leftUnit, true)],
    series: [
      ...series.map((s, i) => ({
        name: s.name,
        type: s.draw === "bars" ? "bar" : "line",
        yAxisIndex: s.right && rightUnit ? 1 : 0,
        stack: s.stack ?? undefined,
        showSymbol: s.draw === "points",
        symbolSize: 3,
        barMaxWidth: 8,
        connectNulls: false,
        color: s.color,
        lineStyle: { width: s.lineWidth },
        areaStyle: s.fill > 0 && s.draw !== "bars" ? { opacity: s.fill / 100 } : undefined,
        itemStyle: s.draw === "bars" ? { opacity: Math.max(0.4, s.fill / 100) } : undefined,
        data: withGaps(
          percentStack
            ? s.points.map(([t, v]) => [t, v === null ? null : v / (totals.get(t) || 1)])
            : s.points,
        ),
        ...(i === 0 ? marks : {}),
      })),
      ...(exemplars.length
        ? [{
          name: "exemplars",
          type: "scatter",
          yAxisIndex: 0,
          symbol: "diamond",
          symbolSize: 7,
          color: EXEMPLAR_COLOR,
          itemStyle: { color: EXEMPLAR_COLOR, opacity: 0.9 },
          z: 10,
          data: exemplars.map((e) => [e.time, e.value]),
        }]
        : []),
    ],
  };
  return render(option, size);
}

function legendHtml(panel: Json, series: Series[]): string {
  const legend = panel.options?.legend ?? {};
  if (legend.showLegend === false || series.length === 0) return "";
  const calcs: string[] = legend.calcs ?? [];
  const swatch = (s: Series) => `<i class="sw" style="background:${s.color}"></i>`;
  if (legend.displayMode === "table") {
    const head = calcs.map((c) => `<th>${esc(CALC_NAMES[c] ?? c)}</th>`).join("");
    const rows = series.map((s) =>
      `<tr><td>${swatch(s)}${esc(s.name)}</td>${
        calcs.map((c) => `<td>${esc(formatValue(reduce(s.points, c), s.unit, s.decimals))}</td>`)
          .join("")
      }</tr>`
    ).join("");
    return `<table class="legend-table"><tr><th></th>${head}</tr>${rows}</table>`;
  }
  return `<div class="legend">${
    series.map((s) =>
      `<span>${swatch(s)}${esc(s.name)}${
        calcs.map((c) =>
          ` ${esc(CALC_NAMES[c] ?? c)}: ${
            esc(formatValue(reduce(s.points, c), s.unit, s.decimals))
          }`
        ).join("")
      }</span>`
    ).join("")
  }</div>`;
}

function legendRows(panel: Json, n: number): number {
  const legend = panel.options?.legend ?? {};
  if (legend.showLegend === false || n === 0) return 0;
  return legend.displayMode === "table" ? Math.min(n, 6) + 1 : Math.min(3, Math.ceil(n / 4));
}

function valuesOf(panel: Json, series: Series[]): { s: Series; v: number | null }[] {
  const calc = panel.options?.reduceOptions?.calcs?.[0] ?? "lastNotNull";
  return series.map((s) => ({ s, v: reduce(s.points, calc) }));
}

function statHtml(panel: Json, series: Series[], size: Size, hasRange: boolean): string {
  const fc = panel.fieldConfig?.defaults ?? {};
  const opts = panel.options ?? {};
  const vals = valuesOf(panel, series);
  const n = vals.length;
  const colorMode = opts.colorMode ?? "value";
  const boxW = size.width / n;
  const fontPx = Math.max(14, Math.min(size.height * 0.32, boxW / 5));
  const items = vals.map(({ s, v }) => {
    const c = thresholdColor(fc.thresholds as Thresholds, v);
    const spark = opts.graphMode === "area" && hasRange && s.points.length > 1
      ? render({
        grid: { left: 0, right: 0, top: 0, bottom: 0 },
        xAxis: { type: "time", show: false },
        yAxis: { type: "value", show: false, scale: true },
        series: [{
          type: "line",
          showSymbol: false,
          color: c,
          lineStyle: { width: 1 },
          areaStyle: { opacity: 0.2 },
          data: s.points,
        }],
      }, { width: boxW, height: size.height * 0.35 })
      : "";
    const style = colorMode === "background"
      ? `background:${c};color:#fff`
      : colorMode === "none"
      ? `color:${THEME.text}`
      : `color:${c}`;
    const showName = opts.textMode === "value_and_name" || (opts.textMode !== "value" && n > 1);
    return `<div class="stat" style="${style}">${
      showName ? `<div class="stat-name">${esc(s.name)}</div>` : ""
    }<div class="stat-value" style="font-size:${fontPx.toFixed(0)}px">${
      esc(formatValue(v, s.unit, s.decimals ?? fc.decimals))
    }</div>${spark ? `<div class="spark">${spark}</div>` : ""}</div>`;
  }).join("");
  return `<div class="stats">${items}</div>`;
}

function gaugeHtml(panel: Json, series: Series[], size: Size): string {
  const fc = panel.fieldConfig?.defaults ?? {};
  const min = fc.min ?? 0;
  const max = fc.max ?? 100;
  const steps: Json[] = fc.thresholds?.steps ?? [];
  const vals = valuesOf(panel, series);
  const markers = panel.options?.showThresholdMarkers !== false;
  const band = steps.map((s, i) => {
    const next = steps[i + 1]?.value ?? max;
    return [Math.min(1, Math.max(0, (next - min) / (max - min || 1))), color(s.color)];
  });
  const n = vals.length;
  const option = {
    series: vals.map(({ s, v }, i) => ({
      type: "gauge",
      min,
      max,
      center: [`${((i + 0.5) * 100) / n}%`, "58%"],
      radius: `${Math.min(90, 180 / n)}%`,
      startAngle: 205,
      endAngle: -25,
      pointer: { show: false },
      progress: {
        show: true,
        width: 16,
        itemStyle: { color: thresholdColor(fc.thresholds as Thresholds, v) },
      },
      axisLine: {
        lineStyle: { width: markers ? 4 : 16, color: markers ? band : [[1, THEME.grid]] },
      },
      axisTick: { show: false },
      splitLine: { show: false },
      axisLabel: { show: false },
      title: { show: n > 1, color: THEME.text, offsetCenter: [0, "60%"], fontSize: 12 },
      detail: {
        valueAnimation: false,
        offsetCenter: [0, "5%"],
        fontSize: Math.max(14, Math.min(size.height / 6, size.width / (5 * n))),
        color: thresholdColor(fc.thresholds as Thresholds, v),
        formatter: () => formatValue(v, s.unit, s.decimals ?? fc.decimals),
      },
      data: [{ value: v ?? min, name: s.name }],
    })),
  };
  const labels = panel.options?.showThresholdLabels
    ? `<div class="gauge-labels">${
      steps.filter((s) => s.value !== null).map((s) =>
        `<span style="color:${color(s.color)}">${
          esc(formatValue(s.value, fc.unit, fc.decimals))
        }</span>`
      ).join(" ")
    }</div>`
    : "";
  return render(option, { width: size.width, height: size.height - (labels ? 18 : 0) }) + labels;
}

function bargaugeHtml(panel: Json, series: Series[], size: Size): string {
  const fc = panel.fieldConfig?.defaults ?? {};
  const vals = valuesOf(panel, series);
  const max = fc.max ?? Math.max(0, ...vals.map((x) => x.v ?? 0));
  const gradient = panel.options?.displayMode === "gradient";
  const horizontal = panel.options?.orientation !== "vertical";
  const valueAxis = { type: "value", show: false, min: fc.min ?? 0, max: max || 1 };
  const catAxis = {
    type: "category",
    data: vals.map((x) => x.s.name),
    inverse: horizontal,
    axisLine: { show: false },
    axisTick: { show: false },
    axisLabel: { color: THEME.text, fontSize: 12 },
  };
  const option = {
    grid: { left: 8, right: 70, top: 6, bottom: 6, containLabel: true },
    xAxis: horizontal ? valueAxis : catAxis,
    yAxis: horizontal ? catAxis : valueAxis,
    series: [{
      type: "bar",
      barMaxWidth: 28,
      showBackground: panel.options?.showUnfilled !== false,
      backgroundStyle: { color: "rgba(204,204,220,0.07)" },
      label: {
        show: true,
        position: horizontal ? "right" : "top",
        color: THEME.text,
        formatter: (p: Json) => formatValue(vals[p.dataIndex].v, fc.unit, fc.decimals),
      },
      data: vals.map(({ v }) => {
        const c = thresholdColor(fc.thresholds as Thresholds, v);
        return {
          value: v ?? 0,
          itemStyle: {
            color: gradient
              ? new echarts.graphic.LinearGradient(
                horizontal ? 0 : 0,
                horizontal ? 0 : 1,
                horizontal ? 1 : 0,
                0,
                [
                  { offset: 0, color: `${c}55` },
                  { offset: 1, color: c },
                ],
              )
              : c,
          },
        };
      }),
    }],
  };
  return render(option, size);
}

function tableHtml(panel: Json, data: PanelData): string {
  const fc = panel.fieldConfig?.defaults ?? {};
  const rows = data.targets.flatMap((t) => t.samples.map((s) => ({ t, s })));
  const labels = [
    ...new Set(rows.flatMap(({ s }) => Object.keys(s.metric).filter((k) => k !== "__name__"))),
  ];
  const head = [...labels, "Value"].map((l) => `<th>${esc(l)}</th>`).join("");
  const body = rows.map(({ s }) => {
    const v = s.values.at(-1)?.[1] ?? null;
    const c = thresholdColor(fc.thresholds as Thresholds, v);
    return `<tr>${
      labels.map((l) => `<td>${esc(s.metric[l] ?? "")}</td>`).join("")
    }<td style="color:${c}">${esc(formatValue(v, fc.unit, fc.decimals))}</td></tr>`;
  }).join("");
  return `<div class="table-wrap"><table class="data"><tr>${head}</tr>${body}</table></div>`;
}

/** The exemplars' trace ids as links (short ids; the full id, value and time in the title). */
function exemplarList(panel: Json, exemplars: Exemplar[]): string {
  if (exemplars.length === 0) return "";
  const unit = panel.fieldConfig?.defaults?.unit ?? "s";
  const links = exemplars.map((e) =>
    `<a href="/trace/${esc(e.traceId)}" title="${
      esc(
        `trace ${e.traceId} · ${formatValue(e.value, unit)} at ${new Date(e.time).toISOString()}${
          e.series.endpoint ? ` · ${e.series.endpoint}` : ""
        }`,
      )
    }">${esc(e.traceId.slice(0, 8))}</a>`
  ).join(" ");
  return `<div class="exemplars" data-exemplar="${exemplars.length}"><i class="sw ex" style="background:${EXEMPLAR_COLOR}"></i>exemplars: ${links}</div>`;
}

/** Series with at least one value: what "the panel drew data" means. */
export function drawnSeries(data: PanelData): number {
  return data.targets.reduce(
    (n, t) => n + t.samples.filter((s) => s.values.some(([, v]) => Number.isFinite(v))).length,
    0,
  );
}

/** A panel's body (the chart, value or note), sized for `size` pixels. */
export function panelBody(panel: Json, data: PanelData, size: Size): string {
  const type = String(panel.type ?? "");
  if (type === "text") {
    return `<div class="text">${esc(String(panel.options?.content ?? ""))}</div>`;
  }
  if (type === "row") return "";
  if (!PANEL_TYPES.includes(type)) {
    return `<div class="note">panel type '${esc(type)}' is not drawn by this viewer</div>`;
  }
  const errors = data.targets.filter((t) => t.error).map((t) =>
    `<div class="note err">${esc(t.refId)}: ${esc(t.error!)}</div>`
  ).join("");
  const series = buildSeries(panel, data);
  if (drawnSeries(data) === 0) {
    const why = data.clusterOnly.length
      ? `needs ${data.clusterOnly.join(", ")} (cluster only; config/metric-catalog.yaml)`
      : data.incident
      ? "no alert fired in this time range"
      : "No data";
    return `${errors}<div class="nodata">${esc(why)}</div>`;
  }
  const cluster = data.clusterOnly.length
    ? `<div class="note">some queries need ${esc(data.clusterOnly.join(", "))} (cluster only)</div>`
    : "";
  switch (type) {
    case "timeseries":
    case "graph": {
      const rows = legendRows(panel, series.length);
      const exemplars = boundExemplars(data.exemplars ?? []);
      const legendPx = rows * 18 + (exemplars.length ? 30 : 0);
      const chart = timeseriesChart(panel, series, data, {
        width: size.width,
        height: Math.max(60, size.height - legendPx),
      }, exemplars);
      return `${errors}${cluster}<div class="chart-box">${chart}</div>${legendHtml(panel, series)}${
        exemplarList(panel, exemplars)
      }`;
    }
    case "stat":
      return errors + cluster + statHtml(panel, series, size, data.targets.some((t) => !t.instant));
    case "gauge":
      return errors + cluster + gaugeHtml(panel, series, size);
    case "bargauge":
      return errors + cluster + bargaugeHtml(panel, series, size);
    case "table":
      return errors + cluster + tableHtml(panel, data);
  }
  return "";
}
