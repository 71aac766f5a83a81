/**
 * `/d/<uid>?var-job=...&from=now-1h&to=now`: one dashboard, laid out by its
 * gridPos, with its variables, time range and refresh, every target run
 * through Prometheus' query_range / query on the server, and the exemplars of
 * targets marked `"exemplar": true` through query_exemplars. Which panels need a
 * cluster exporter comes from verify's exprSources (config/metric-catalog.yaml).
 */
import { type MetricCatalog } from "../validate/catalog.ts";
import { exprSources } from "../verify/mod.ts";
import {
  ALL,
  BadRequest,
  type Dashboard,
  durationMs,
  flattenPanels,
  formatSelection,
  interpolate,
  type Json,
  parseLabelValues,
  queryStep,
  type Selection,
  type TimeRange,
  timeRange,
  variables,
} from "./dashboard.ts";
import { esc, page } from "./html.ts";
import {
  drawnSeries,
  type Exemplar,
  panelBody,
  type PanelData,
  type TargetData,
} from "./panels.ts";
import {
  promExemplars,
  promInstant,
  promLabelValues,
  promRange,
  QueryError,
  Unreachable,
  type Upstreams,
} from "./upstream.ts";

/** The page's width in CSS pixels that panel sizes are computed for (main's max width). */
export const PAGE_WIDTH = 1568;
const GAP = 8;
const ROW = 30;

export function panelPixels(gridPos: Json): { width: number; height: number } {
  const col = (PAGE_WIDTH - 23 * GAP) / 24;
  const w = Number(gridPos?.w ?? 12), h = Number(gridPos?.h ?? 8);
  return { width: w * col + (w - 1) * GAP - 14, height: h * ROW + (h - 1) * GAP - 34 };
}

export interface DashboardContext {
  upstreams: Upstreams;
  catalog: MetricCatalog;
  scrapeIntervalMs: () => Promise<number>;
  dashboards: () => Dashboard[];
  now?: number;
}

/** Values of every variable, checked against Prometheus' label values. */
async function selections(
  doc: Json,
  params: URLSearchParams,
  range: TimeRange,
  ctx: DashboardContext,
): Promise<Selection[]> {
  const out: Selection[] = [];
  const vars: Record<string, string> = {};
  for (const v of variables(doc)) {
    const given = params.getAll(`var-${v.name}`);
    if (v.type === "datasource") {
      const value = given[0] ?? "default";
      if (!/^(default|prometheus)$/i.test(value)) {
        throw new BadRequest(
          `variable ${v.name}: unknown data source '${
            value.slice(0, 60)
          }' (this viewer has one: prometheus)`,
        );
      }
      out.push({ variable: v, all: false, values: [value], options: ["prometheus"] });
      continue;
    }
    let options: string[] = v.custom;
    if (v.type === "query" && v.query) {
      const lv = parseLabelValues(
        interpolate(v.query, { vars, range, stepMs: 1000, rateIntervalMs: 1000 }),
      );
      if (lv) {
        options = await promLabelValues(
          ctx.upstreams.prometheus,
          lv.label,
          lv.match,
          range.from,
          range.to,
        );
      }
    }
    const all = given.length === 0 ? v.includeAll : given.some((g) => g === ALL || g === "All");
    if (!all) {
      for (const g of given) {
        if (!options.includes(g)) {
          throw new BadRequest(
            `variable ${v.name}: '${g.slice(0, 60)}' is not a value of it${
              options.length
                ? ` (values: ${options.slice(0, 8).join(", ")}${options.length > 8 ? ", ..." : ""})`
                : " (it has none in this time range)"
            }`,
          );
        }
      }
      if (given.length > 1 && !v.multi) {
        throw new BadRequest(`variable ${v.name} takes one value, got ${given.length}`);
      }
    }
    const values = all ? [] : given.length ? given : options.slice(0, 1);
    const sel: Selection = { variable: v, all, values, options };
    out.push(sel);
    vars[v.name] = formatSelection(sel);
  }
  return out;
}

export interface RenderedDashboard {
  html: string;
  /** Per panel: title, source kind, series drawn (the browser test reads the same from the DOM). */
  panels: { title: string; source: string; series: number }[];
  renderMs: number;
}

function qs(params: Record<string, string | string[]>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const x of Array.isArray(v) ? v : [v]) u.append(k, x);
  }
  return u.toString();
}

const RANGES = ["now-5m", "now-15m", "now-1h", "now-6h", "now-24h", "now-7d"];

/** Renders `/d/<uid>`; BadRequest for bad input, Unreachable when Prometheus does not answer. */
export async function renderDashboard(
  uid: string,
  params: URLSearchParams,
  ctx: DashboardContext,
): Promise<RenderedDashboard> {
  const started = performance.now();
  const all = ctx.dashboards();
  const dash = all.find((d) => d.uid === uid);
  if (!dash) {
    throw new BadRequest(
      `unknown dashboard uid '${uid.slice(0, 80)}' (known: ${all.map((d) => d.uid).join(", ")})`,
    );
  }
  const doc = dash.doc;
  const range = timeRange(params, doc.time ?? { from: "now-6h", to: "now" }, ctx.now);
  const refreshRaw = params.get("refresh") ?? doc.refresh ?? "";
  const refreshMs = refreshRaw === "" || refreshRaw === "off" ? 0 : durationMs(String(refreshRaw));
  if (refreshMs === null) {
    throw new BadRequest(`bad refresh '${String(refreshRaw).slice(0, 20)}' (use 30s, 1m, or off)`);
  }
  const sels = await selections(doc, params, range, ctx);
  const vars = Object.fromEntries(sels.map((s) => [s.variable.name, formatSelection(s)]));
  const scrapeMs = await ctx.scrapeIntervalMs();
  const panels = flattenPanels(doc.panels).filter((p) => p.type !== "row" || p.title);
  const results = await Promise.all(panels.map(async (p) => {
    const size = panelPixels(p.gridPos);
    const maxPoints = Number(p.maxDataPoints ?? size.width);
    const minStep = durationMs(String(p.interval ?? "")) ?? scrapeMs;
    const { stepMs, rateIntervalMs } = queryStep(range, maxPoints, Math.max(minStep, scrapeMs));
    const clusterOnly = new Set<string>();
    let incident = false;
    let skipped = 0;
    const exemplars: Exemplar[] = [];
    const targets: TargetData[] = await Promise.all(
      (p.targets ?? []).filter((t: Json) => typeof t.expr === "string" && t.expr.trim() && !t.hide)
        .map(async (t: Json): Promise<TargetData> => {
          const src = exprSources(t.expr, ctx.catalog);
          incident ||= src.incident;
          const base = {
            refId: String(t.refId ?? "A"),
            legendFormat: t.legendFormat,
            instant: t.instant === true,
            samples: [],
          };
          if (src.clusterOnly.length) {
            src.clusterOnly.forEach((e) => clusterOnly.add(e));
            skipped++;
            return base;
          }
          const query = interpolate(t.expr, { vars, range, stepMs, rateIntervalMs });
          try {
            const [samples, found] = await Promise.all([
              base.instant
                ? promInstant(ctx.upstreams.prometheus, query, range.to)
                : promRange(ctx.upstreams.prometheus, query, range.from, range.to, stepMs),
              // Prometheus takes the expression itself and answers for the series it selects.
              t.exemplar === true && !base.instant
                ? promExemplars(ctx.upstreams.prometheus, query, range.from, range.to)
                : Promise.resolve([]),
            ]);
            exemplars.push(...found);
            return { ...base, samples };
          } catch (err) {
            if (err instanceof QueryError) return { ...base, error: err.message };
            throw err;
          }
        }),
    );
    const data: PanelData = {
      targets,
      clusterOnly: [...clusterOnly],
      incident,
      from: range.from,
      to: range.to,
      exemplars,
    };
    return { p, data, size, stepMs, ran: targets.length - skipped };
  }));
  const panelInfo: RenderedDashboard["panels"] = [];
  const cells = results.map(({ p, data, size, stepMs, ran }) => {
    const series = drawnSeries(data);
    const source = p.type === "row" || p.type === "text"
      ? "none"
      : ran === 0 && data.clusterOnly.length
      ? "cluster"
      : data.incident
      ? "incident"
      : "local";
    panelInfo.push({ title: String(p.title ?? ""), source, series });
    const g = p.gridPos ?? { x: 0, y: 0, w: 12, h: 8 };
    const style = `grid-column:${Number(g.x) + 1} / span ${g.w};grid-row:${
      Number(g.y) + 1
    } / span ${p.type === "row" ? 1 : g.h}`;
    if (p.type === "row") {
      return `<div class="row-title" style="${style}"><h2>${esc(String(p.title))}</h2></div>`;
    }
    return `<section class="panel" style="${style}" data-panel-id="${
      esc(String(p.id ?? ""))
    }" data-type="${
      esc(String(p.type))
    }" data-source="${source}" data-series="${series}" data-step="${stepMs / 1000}s"><h3 title="${
      esc(String(p.description ?? ""))
    }">${esc(String(p.title ?? ""))}</h3><div class="body">${
      panelBody(p, data, size)
    }</div></section>`;
  });
  const base: Record<string, string | string[]> = {};
  for (const s of sels) {
    base[`var-${s.variable.name}`] = s.all ? ALL : s.values;
  }
  const link = (from: string, to = "now") =>
    `/d/${encodeURIComponent(uid)}?${
      qs({ ...base, from, to, ...(params.has("refresh") ? { refresh: refreshRaw } : {}) })
    }`;
  const ranges = RANGES.map((r) =>
    `<a href="${esc(link(r))}"${
      r === range.rawFrom && range.rawTo === "now" ? ' class="on"' : ""
    }>${r.replace("now-", "Last ")}</a>`
  ).join(" ");
  const varForm = sels.filter((s) => s.variable.type !== "datasource").map((s) => {
    const v = s.variable;
    const opts = [
      ...(v.includeAll ? [`<option value="${ALL}"${s.all ? " selected" : ""}>All</option>`] : []),
      ...s.options.map((o) =>
        `<option value="${esc(o)}"${!s.all && s.values.includes(o) ? " selected" : ""}>${
          esc(o)
        }</option>`
      ),
    ].join("");
    return `<label for="var-${esc(v.name)}">${esc(v.label)}</label><select id="var-${
      esc(v.name)
    }" name="var-${esc(v.name)}"${v.multi ? " multiple" : ""}>${opts}</select>`;
  }).join("");
  const others = all.filter((d) => d.uid !== uid).map((d) =>
    `<a href="/d/${encodeURIComponent(d.uid)}?${qs({ from: range.rawFrom, to: range.rawTo })}">${
      esc(d.title)
    }</a>`
  ).join(" · ");
  const renderMs = performance.now() - started;
  const body = `<h1>${esc(dash.title)}</h1>
<div class="bar"><form method="get" action="/d/${esc(uid)}">${varForm}
<input type="hidden" name="from" value="${
    esc(range.rawFrom)
  }"><input type="hidden" name="to" value="${
    esc(range.rawTo)
  }"><button type="submit">Apply</button></form>
<span class="ranges">${ranges}</span>
<span class="meta">refresh ${refreshMs ? esc(String(refreshRaw)) : "off"} · ${
    esc(new Date(range.from).toLocaleString())
  } – ${esc(new Date(range.to).toLocaleString())} · rendered in <span id="render-ms">${
    renderMs.toFixed(0)
  }</span> ms</span></div>
<div class="grid">${cells.join("\n")}</div>
<p class="meta">Other views: ${others} · data from Prometheus at ${
    esc(ctx.upstreams.prometheus)
  }</p>`;
  return {
    html: page(body, {
      title: dash.title,
      section: "dashboards",
      refreshSeconds: refreshMs ? Math.max(5, refreshMs / 1000) : 0,
    }),
    panels: panelInfo,
    renderMs,
  };
}

export { Unreachable };
