/**
 * Typed builders for Grafana dashboards, on Grafana's published schema types
 * (npm `@grafana/schema`): the dashboard, panel, variable and field-config
 * shapes, and each panel plugin's options (timeseries, stat, gauge,
 * bargauge). A typo in an option name or an enum value is a type error, not
 * a panel that silently ignores it.
 *
 * Every panel and query uses the `datasource` template variable, never a
 * hard-coded data source, so the dashboards import into any Grafana.
 */
import {
  BarGaugeDisplayMode,
  BarGaugeNamePlacement,
  BarGaugeSizing,
  BarGaugeValueMode,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  type Dashboard,
  type DashboardLink,
  type DataQuery,
  type DataSourceRef,
  defaultDashboard,
  type FieldConfigSource,
  GraphDrawStyle,
  GraphGradientMode,
  LegendDisplayMode,
  type Panel,
  PercentChangeColorMode,
  SortOrder,
  StackingMode,
  type ThresholdsConfig,
  ThresholdsMode,
  TooltipDisplayMode,
  type VariableModel,
  VariableRefresh,
  VariableSort,
  VisibilityMode,
  VizOrientation,
} from "@grafana/schema";
import type * as BarGaugeCfg from "@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen";
import type * as GaugeCfg from "@grafana/schema/dist/esm/raw/composable/gauge/panelcfg/x/GaugePanelCfg_types.gen";
import type * as StatCfg from "@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen";
import type * as TimeSeriesCfg from "@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen";

/** The schema version of the dashboards we write: the one `@grafana/schema` defaults to. */
export const SCHEMA_VERSION: number = defaultDashboard.schemaVersion;

/** Every panel and target points at the `datasource` template variable. */
export const DATASOURCE: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/** A Prometheus query as Grafana stores it in a panel's `targets`. */
export interface PrometheusQuery extends DataQuery {
  datasource: DataSourceRef;
  expr: string;
  legendFormat?: string;
  range?: boolean;
  instant?: boolean;
  /** Grafana draws the series' exemplars (trace ids) as points that open the trace. */
  exemplar?: boolean;
  editorMode?: "code" | "builder";
}

export interface QuerySpec {
  expr: string;
  legend?: string;
}

/**
 * The request latency histogram carries trace ids as exemplars (the
 * instrumented app, via the collector's OpenMetrics exporter): every graph
 * of it shows them, so a slow point leads to its trace.
 */
const EXEMPLAR_FAMILY = /\bhttp_request_duration_seconds_bucket\b/;

function targets(queries: QuerySpec[], instant = false): PrometheusQuery[] {
  return queries.map((q, i) => ({
    datasource: DATASOURCE,
    refId: String.fromCharCode(65 + i),
    expr: q.expr,
    legendFormat: q.legend ?? "__auto",
    range: !instant,
    instant,
    ...(!instant && EXEMPLAR_FAMILY.test(q.expr) ? { exemplar: true } : {}),
    editorMode: "code",
  }));
}

/** Threshold steps: a base colour, then [value, colour] pairs in ascending order. */
export function thresholds(base: string, ...steps: [number, string][]): ThresholdsConfig {
  return {
    mode: ThresholdsMode.Absolute,
    steps: [
      // Grafana stores the base step's value as null (minus infinity).
      { color: base, value: null as unknown as number },
      ...steps.map(([value, color]) => ({ color, value })),
    ],
  };
}

interface CommonPanel {
  title: string;
  /** The question this panel answers, shown as the panel's description. */
  description: string;
  queries: QuerySpec[];
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  thresholds?: ThresholdsConfig;
}

/** A panel before it is placed on the grid (the dashboard assigns id and gridPos). */
export type PanelDraft = Omit<Panel, "id" | "gridPos"> & { width?: number; height?: number };

function fieldDefaults(p: CommonPanel) {
  return {
    unit: p.unit ?? "short",
    ...(p.decimals !== undefined ? { decimals: p.decimals } : {}),
    ...(p.min !== undefined ? { min: p.min } : {}),
    ...(p.max !== undefined ? { max: p.max } : {}),
    thresholds: p.thresholds ?? thresholds("green"),
  };
}

export interface TimeSeriesSpec extends CommonPanel {
  stack?: boolean;
  bars?: boolean;
  /** Per-query overrides: refId → unit (and right axis). */
  rightAxis?: { refId: string; unit: string };
}

export function timeseries(p: TimeSeriesSpec): PanelDraft {
  const custom = {
    drawStyle: p.bars ? GraphDrawStyle.Bars : GraphDrawStyle.Line,
    lineWidth: 1,
    fillOpacity: p.bars || p.stack ? 60 : 10,
    gradientMode: GraphGradientMode.None,
    showPoints: VisibilityMode.Never,
    spanNulls: false,
    stacking: { mode: p.stack ? StackingMode.Normal : StackingMode.None, group: "A" },
  } satisfies TimeSeriesCfg.FieldConfig;
  const fieldConfig: FieldConfigSource = {
    defaults: { ...fieldDefaults(p), custom },
    overrides: p.rightAxis
      ? [{
        matcher: { id: "byFrameRefID", options: p.rightAxis.refId },
        properties: [
          { id: "unit", value: p.rightAxis.unit },
          { id: "custom.axisPlacement", value: "right" },
        ],
      }]
      : [],
  };
  const options = {
    legend: {
      showLegend: true,
      displayMode: LegendDisplayMode.List,
      placement: "bottom",
      calcs: [],
    },
    tooltip: { mode: TooltipDisplayMode.Multi, sort: SortOrder.Descending },
  } satisfies TimeSeriesCfg.Options;
  return {
    type: "timeseries",
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    fieldConfig,
    options,
    targets: targets(p.queries) as unknown as Record<string, unknown>[],
  };
}

export interface StatSpec extends CommonPanel {
  /** How the series is reduced to one number (default: last value). */
  calc?: "lastNotNull" | "mean" | "max" | "sum";
  graph?: boolean;
  /** Instant query: the value now (or over $__range), no sparkline. */
  instant?: boolean;
  width?: number;
}

export function stat(p: StatSpec): PanelDraft {
  const options = {
    reduceOptions: { calcs: [p.calc ?? "lastNotNull"], fields: "", values: false },
    orientation: VizOrientation.Auto,
    colorMode: BigValueColorMode.Value,
    graphMode: p.graph ? BigValueGraphMode.Area : BigValueGraphMode.None,
    justifyMode: BigValueJustifyMode.Auto,
    textMode: BigValueTextMode.Auto,
    wideLayout: true,
    showPercentChange: false,
    percentChangeColorMode: PercentChangeColorMode.Standard,
  } satisfies StatCfg.Options;
  return {
    type: "stat",
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    fieldConfig: { defaults: fieldDefaults(p), overrides: [] },
    options,
    targets: targets(p.queries, p.instant ?? false) as unknown as Record<string, unknown>[],
    ...(p.width ? { width: p.width } : {}),
  };
}

export function gauge(p: CommonPanel): PanelDraft {
  const options = {
    reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
    orientation: VizOrientation.Auto,
    showThresholdLabels: false,
    showThresholdMarkers: true,
  } satisfies Partial<GaugeCfg.Options>;
  return {
    type: "gauge",
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    fieldConfig: { defaults: fieldDefaults(p), overrides: [] },
    options,
    targets: targets(p.queries) as unknown as Record<string, unknown>[],
  };
}

/** Horizontal bars, one per series (e.g. per volume or per severity), instant values. */
export function bargauge(p: CommonPanel): PanelDraft {
  const options = {
    reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
    orientation: VizOrientation.Horizontal,
    displayMode: BarGaugeDisplayMode.Gradient,
    valueMode: BarGaugeValueMode.Color,
    namePlacement: BarGaugeNamePlacement.Auto,
    showUnfilled: true,
    sizing: BarGaugeSizing.Auto,
    minVizHeight: 16,
    minVizWidth: 8,
    maxVizHeight: 300,
    legend: {
      showLegend: false,
      displayMode: LegendDisplayMode.List,
      placement: "bottom",
      calcs: [],
    },
  } satisfies BarGaugeCfg.Options;
  return {
    type: "bargauge",
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    fieldConfig: { defaults: fieldDefaults(p), overrides: [] },
    options,
    targets: targets(p.queries, true) as unknown as Record<string, unknown>[],
  };
}

/** The `datasource` variable: pick any Prometheus data source at view time. */
export function datasourceVariable(): VariableModel {
  return {
    type: "datasource",
    name: "datasource",
    label: "Data source",
    query: "prometheus",
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    refresh: VariableRefresh.onDashboardLoad,
    regex: "",
    skipUrlSync: false,
  };
}

/**
 * A multi-value label filter (All by default) filled from a metric's label
 * values; `metric` may carry a selector to chain variables (`up{job=~"$job"}`).
 */
export function labelVariable(
  name: string,
  label: string,
  metric: string,
  description: string,
): VariableModel {
  const query = `label_values(${metric}, ${name})`;
  return {
    type: "query",
    name,
    label,
    description,
    datasource: DATASOURCE,
    query,
    definition: query,
    current: { selected: true, text: ["All"], value: ["$__all"] },
    hide: 0,
    includeAll: true,
    allValue: ".*",
    multi: true,
    options: [],
    refresh: VariableRefresh.onTimeRangeChanged,
    regex: "",
    skipUrlSync: false,
    sort: VariableSort.alphabeticalAsc,
  } as VariableModel;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableModel[];
  panels: PanelDraft[];
  links?: DashboardLink[];
}

const GRID_WIDTH = 24;

/**
 * Assembles the dashboard: ids in order, panels laid out left to right in
 * rows (default two per row), the Grafana defaults for a current schema.
 */
export function dashboard(spec: DashboardSpec): Dashboard {
  let x = 0, y = 0, rowHeight = 0;
  const panels: Panel[] = spec.panels.map((draft, i) => {
    const { width = 12, height = 8, ...panel } = draft;
    if (x + width > GRID_WIDTH) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const placed: Panel = { id: i + 1, gridPos: { x, y, w: width, h: height }, ...panel };
    x += width;
    rowHeight = Math.max(rowHeight, height);
    return placed;
  });
  return {
    id: null,
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: spec.tags,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    timezone: "browser",
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    timepicker: {},
    annotations: {
      list: [{
        builtIn: 1,
        datasource: { type: "grafana", uid: "-- Grafana --" },
        enable: true,
        hide: true,
        iconColor: "rgba(0, 211, 255, 1)",
        name: "Annotations & Alerts",
        type: "dashboard",
      }],
    },
    links: spec.links ?? [],
    templating: { list: spec.variables },
    panels,
  };
}
