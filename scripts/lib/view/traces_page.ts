/**
 * Traces from Jaeger's HTTP API (what Jaeger's own UI would show, which the
 * locally built Jaeger lacks): the services, a service's recent traces with
 * duration and error mark, and one trace as a waterfall (an ECharts bar
 * chart on the trace's time axis) with each span's attributes, events and
 * recorded exception, and the trace's log lines from VictoriaLogs (the
 * `logs` task's query). Logs are an extra: VictoriaLogs down is one line on
 * the page, never the page's failure.
 */
import * as echarts from "echarts";
import { logsQuery, queryLogs } from "../logs/mod.ts";
import { jaegerServices, type JaegerTrace, jaegerTrace, jaegerTraces } from "../verify/mod.ts";
import { BadRequest } from "./dashboard.ts";
import { esc, page } from "./html.ts";
import { THEME } from "./panels.ts";
import { PALETTE } from "./units.ts";
import { redactUrl } from "../redact.ts";
import { Unreachable } from "./upstream.ts";
import { formatUs, waterfall } from "./waterfall.ts";

/** Jaeger's answers through verify's client; a failed connection names Jaeger. */
async function jaeger<T>(base: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as Error;
    if (e instanceof TypeError || e.name === "TimeoutError" || e instanceof SyntaxError) {
      const why = e.name === "TimeoutError"
        ? "no answer within 5 s"
        : /refused/i.test(e.message)
        ? "connection refused"
        : e.message.split("\n")[0].slice(0, 120);
      throw new Unreachable("Jaeger", base, why);
    }
    throw err;
  }
}

export const TRACE_ID = /^[0-9a-f]{16,32}$/i;

const LOOKBACKS = ["15m", "1h", "6h", "24h", "48h"];

function isError(t: JaegerTrace): boolean {
  return t.spans.some((s) =>
    (s.tags ?? []).some((k) =>
      (k.key === "error" && String(k.value) === "true") ||
      (k.key === "otel.status_code" && k.value === "ERROR")
    )
  );
}

export async function renderTraces(base: string, params: URLSearchParams): Promise<string> {
  const services = (await jaeger(base, () => jaegerServices(base))).sort();
  const service = params.get("service") ?? "";
  const lookback = params.get("lookback") ?? "1h";
  if (!LOOKBACKS.includes(lookback)) {
    throw new BadRequest(`bad lookback '${lookback.slice(0, 20)}' (use ${LOOKBACKS.join(", ")})`);
  }
  const limit = Number(params.get("limit") ?? "20");
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
    throw new BadRequest("limit must be a whole number 1..200");
  }
  if (service && !services.includes(service)) {
    throw new BadRequest(
      `unknown service '${service.slice(0, 60)}' (Jaeger has: ${
        services.join(", ") || "none yet"
      })`,
    );
  }
  const list = services.map((s) =>
    `<a href="/traces?${new URLSearchParams({ service: s, lookback })}"${
      s === service ? ' style="font-weight:600;color:#fff"' : ""
    }>${esc(s)}</a>`
  ).join(" · ");
  let table = "";
  if (service) {
    const traces = await jaeger(base, () => jaegerTraces(base, service, { limit, lookback }));
    const rows = traces.map((t) => {
      const w = waterfall(t);
      const root = w.rows[0];
      return { t, w, root, err: isError(t) };
    }).sort((a, b) => b.w.startUs - a.w.startUs);
    table = `<h2>Recent traces of ${esc(service)} (last ${esc(lookback)})</h2>
<table class="list"><tr><th>started</th><th>root span</th><th>duration</th><th>spans</th><th>services</th><th></th></tr>${
      rows.map(({ t, w, root, err }) =>
        `<tr><td>${esc(new Date(w.startUs / 1000).toLocaleString())}</td><td><a href="/trace/${
          esc(t.traceID)
        }">${esc(root?.operation ?? "?")}</a></td><td>${
          esc(formatUs(w.totalUs))
        }</td><td>${t.spans.length}</td><td>${esc(w.services.join(", "))}</td><td>${
          err ? '<span class="err-mark">error</span>' : '<span class="ok-mark">ok</span>'
        }</td></tr>`
      ).join("")
    }</table>${rows.length ? "" : "<p>No traces in this time range.</p>"}`;
  }
  const body = `<h1>Traces</h1>
<form class="bar" method="get" action="/trace"><label for="trace-id">Trace ID</label>
<input id="trace-id" name="id" size="34" placeholder="32 hex digits, e.g. from a log line"><button type="submit">Open</button></form>
<p>Services: ${list || "none yet (send some traffic)"}</p>
<p class="ranges">${
    LOOKBACKS.map((l) =>
      `<a href="/traces?${new URLSearchParams({ service, lookback: l })}"${
        l === lookback ? ' class="on"' : ""
      }>last ${l}</a>`
    ).join(" ")
  }</p>${table}`;
  return page(body, { title: "Traces", section: "traces" });
}

function ganttSvg(w: ReturnType<typeof waterfall>, width: number): string {
  const rowPx = 22;
  const height = w.rows.length * rowPx + 40;
  const colors = new Map(w.services.map((s, i) => [s, PALETTE[i % PALETTE.length]]));
  const labels = w.rows.map((r) => `${"\u2003".repeat(r.depth)}${r.service}: ${r.operation}`);
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  try {
    chart.setOption({
      animation: false,
      textStyle: { fontFamily: THEME.font },
      grid: { left: 8, right: 70, top: 24, bottom: 8, containLabel: true },
      xAxis: {
        type: "value",
        position: "top",
        min: 0,
        max: w.totalUs / 1000,
        axisLabel: { color: THEME.axis, formatter: (v: number) => formatUs(v * 1000) },
        splitLine: { lineStyle: { color: THEME.grid } },
      },
      yAxis: {
        type: "category",
        inverse: true,
        data: labels,
        axisTick: { show: false },
        axisLine: { lineStyle: { color: THEME.grid } },
        axisLabel: { color: THEME.text, fontSize: 12 },
      },
      series: [
        {
          type: "bar",
          stack: "span",
          silent: true,
          itemStyle: { color: "transparent" },
          data: w.rows.map((r) => r.offsetUs / 1000),
        },
        {
          type: "bar",
          stack: "span",
          barWidth: 12,
          label: {
            show: true,
            position: "right",
            color: THEME.text,
            formatter: (p: { dataIndex: number }) => formatUs(w.rows[p.dataIndex].durationUs),
          },
          data: w.rows.map((r) => ({
            value: Math.max(r.durationUs / 1000, w.totalUs / 1000 / 400),
            itemStyle: { color: r.error ? "#F2495C" : colors.get(r.service) },
          })),
        },
      ],
    });
    return chart.renderToSVGString().replace(
      /^<svg width="\d+" height="\d+"/,
      '<svg class="chart" style="height:auto"',
    );
  } finally {
    chart.dispose();
  }
}

/** Where VictoriaLogs' own UI shows the same query (without credentials: the page shows it). */
export function victoriaLogsUiUrl(base: string, query: string): string {
  const u = new URL(base);
  u.username = "";
  u.password = "";
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}/select/vmui/#/?query=${
    encodeURIComponent(query)
  }`;
}

/** The trace's log lines as a table, or one line saying why there are none. */
async function logsSection(victorialogs: string | undefined, traceId: string): Promise<string> {
  const head = "<h2>Logs</h2>";
  if (!victorialogs) {
    return `${head}<p class="note" id="logs-none">No VictoriaLogs URL given (--victorialogs).</p>`;
  }
  if (!/^[0-9a-f]{32}$/i.test(traceId)) {
    return `${head}<p class="note" id="logs-none">Log lines are found by a 32-digit trace id.</p>`;
  }
  const q = { traceId: traceId.toLowerCase(), limit: 500 };
  const query = logsQuery(q);
  const ui = `<a href="${esc(victoriaLogsUiUrl(victorialogs, query))}" id="logs-ui">${
    esc(query)
  }</a> in VictoriaLogs`;
  let lines;
  try {
    lines = await queryLogs(victorialogs, q);
  } catch (err) {
    const e = err as Error;
    const why = e.name === "TimeoutError"
      ? "no answer within 10 s"
      : /refused/i.test(e.message)
      ? "connection refused"
      : e.message.split("\n")[0].slice(0, 160);
    const line = e instanceof TypeError || e.name === "TimeoutError"
      ? `VictoriaLogs is unreachable at ${redactUrl(victorialogs)}: ${why}`
      : `VictoriaLogs could not answer: ${why}`;
    return `${head}<p class="note err" id="logs-down">${esc(line)}</p>`;
  }
  if (lines.length === 0) {
    return `${head}<p class="note" id="logs-none">No log lines with this trace id (yet: they arrive a few seconds after the request). ${ui}.</p>`;
  }
  const rows = lines.map((l) =>
    `<tr data-log data-span="${esc(l.spanId)}"><td>${esc(l.time)}</td><td class="level-${
      esc(l.level)
    }">${esc(l.level)}</td><td>${esc(l.service)}</td><td>${esc(l.message)}${
      Object.keys(l.fields).length
        ? ` <span class="meta">${
          esc(Object.entries(l.fields).map(([k, v]) => `${k}=${v}`).join(" "))
        }</span>`
        : ""
    }</td></tr>`
  ).join("");
  return `${head}<p class="meta">${lines.length} line(s) · ${ui}</p>
<table class="list logs" id="logs"><tr><th>time</th><th>level</th><th>service</th><th>message</th></tr>${rows}</table>`;
}

export async function renderTrace(
  up: { jaeger: string; victorialogs?: string },
  id: string,
): Promise<string> {
  const base = up.jaeger;
  if (!TRACE_ID.test(id)) {
    throw new BadRequest(`bad trace id '${id.slice(0, 40)}' (16 or 32 hex digits)`);
  }
  const [trace, logs] = await Promise.all([
    jaeger(base, () => jaegerTrace(base, id.toLowerCase())),
    logsSection(up.victorialogs, id),
  ]);
  if (!trace) {
    return page(
      `<h1>Trace ${esc(id)}</h1><p id="not-found">Jaeger has no trace ${
        esc(id)
      } (yet: spans arrive a second or two after the request).</p>${logs}`,
      { title: `Trace ${id}`, section: "traces", refreshSeconds: 5 },
    );
  }
  const w = waterfall(trace);
  const details = w.rows.map((r) => {
    const attrs = r.attributes.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`)
      .join("");
    const events = r.events.map((e) =>
      `<li>${esc(formatUs(e.offsetUs))} <b>${esc(e.name)}</b> ${
        e.fields.filter(([k]) => k !== "exception.stacktrace").map(([k, v]) =>
          `${esc(k)}=${esc(v)}`
        ).join(" ")
      }</li>`
    ).join("");
    const exc = r.exception
      ? `<div class="exception"><b>${esc(r.exception.type)}</b>: ${esc(r.exception.message)}${
        r.exception.stacktrace ? `<pre>${esc(r.exception.stacktrace)}</pre>` : ""
      }</div>`
      : "";
    return `<details${r.error ? " open" : ""} data-span="${esc(r.spanID)}"><summary>${
      "&emsp;".repeat(r.depth)
    }${r.error ? '<span class="err-mark">●</span> ' : ""}<b>${esc(r.operation)}</b> ${
      esc(r.service)
    } · ${esc(formatUs(r.durationUs))} at +${
      esc(formatUs(r.offsetUs))
    }</summary>${exc}<table class="data">${attrs}</table>${
      events ? `<p>Events</p><ul>${events}</ul>` : ""
    }</details>`;
  }).join("");
  const body = `<h1>Trace ${esc(w.traceID)}</h1>
<p class="meta">${esc(new Date(w.startUs / 1000).toLocaleString())} · ${
    esc(formatUs(w.totalUs))
  } · ${w.rows.length} spans · ${esc(w.services.join(", "))}${
    w.rows.some((r) => r.error) ? ' · <span class="err-mark">error</span>' : ""
  }</p>
<div class="panel" id="waterfall">${ganttSvg(w, 1400)}</div>
<h2>Spans</h2>${details}
${logs}`;
  return page(body, { title: `Trace ${id}`, section: "traces" });
}
