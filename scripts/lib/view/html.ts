/**
 * The viewer's page frame: escaping, the navigation bar, the service-down
 * banner and the stylesheet (Grafana's dark look). No script: a page that
 * refreshes does it with <meta http-equiv=refresh>, which also makes a page
 * that named an unreachable service try again by itself.
 */

export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

export interface PageOptions {
  title: string;
  /** Seconds between reloads; 0 or undefined: none. */
  refreshSeconds?: number;
  /** Which section of the nav bar is current. */
  section?: "dashboards" | "traces" | "alerts";
  /** "Prometheus is unreachable at ..." lines; the page reloads every 5 s while set. */
  down?: string[];
}

/** While a service is down the page tries again this often. */
export const DOWN_RETRY_SECONDS = 5;

export function page(body: string, opts: PageOptions): string {
  const refresh = opts.down?.length ? DOWN_RETRY_SECONDS : opts.refreshSeconds ?? 0;
  const nav = (href: string, label: string, key: PageOptions["section"]) =>
    `<a href="${href}"${opts.section === key ? ' class="on"' : ""}>${label}</a>`;
  const banner = opts.down?.length
    ? `<div class="down" id="unreachable">${
      opts.down.map((d) => `<div>${esc(d)}</div>`).join("")
    }<div class="retry">This page tries again every ${DOWN_RETRY_SECONDS} s.</div></div>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh ? `<meta http-equiv="refresh" content="${refresh}">` : ""}
<link rel="icon" href="data:,">
<title>${esc(opts.title)} - obskit viewer</title>
<style>${CSS}</style></head>
<body><nav class="top"><span class="brand">obskit</span>${nav("/", "Dashboards", "dashboards")}${
    nav("/traces", "Traces", "traces")
  }${nav("/alerts", "Alerts", "alerts")}</nav>
${banner}<main>${body}</main></body></html>`;
}

/** A 400 (or other) page of one line. */
export function errorPage(message: string): string {
  return page(`<p class="error-line">${esc(message)}</p>`, { title: "error" });
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#111217;color:#ccccdc;font:13px/1.4 Inter,Helvetica,Arial,sans-serif}
a{color:#6e9fff;text-decoration:none}a:hover{text-decoration:underline}
nav.top{display:flex;gap:18px;align-items:center;padding:8px 16px;background:#181b1f;border-bottom:1px solid #2c3235}
nav.top .brand{font-weight:600;color:#fff}nav.top a.on{color:#fff;font-weight:600}
main{padding:12px 16px;max-width:1600px;margin:0 auto}
h1{font-size:18px;font-weight:500;margin:4px 0 8px}h2{font-size:15px;font-weight:500}
.down{background:#4a1c22;border:1px solid #c4162a;color:#fff;padding:8px 16px;margin:8px 16px}
.down .retry{color:#ffb3bd;font-size:12px}
.error-line{font-size:15px}
.bar{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin-bottom:10px}
.bar form{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.bar label{color:#8e8e9a}
select,input,button{background:#181b1f;color:#ccccdc;border:1px solid #2c3235;border-radius:2px;padding:3px 6px;font:inherit}
select[multiple]{height:24px}
button{cursor:pointer}
.ranges a{padding:2px 6px;border:1px solid #2c3235;border-radius:2px}.ranges a.on{background:#2c3235;color:#fff}
.meta{color:#8e8e9a;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(24,minmax(0,1fr));grid-auto-rows:30px;gap:8px}
.panel{background:#181b1f;border:1px solid #2c3235;border-radius:2px;display:flex;flex-direction:column;overflow:hidden;min-width:0}
.panel h3{font-size:13px;font-weight:500;margin:0;padding:5px 8px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;color:#ccccdc}
.panel .body{flex:1;min-height:0;display:flex;flex-direction:column;padding:0 6px 4px}
.chart-box{flex:1;min-height:0}svg.chart{width:100%;height:100%;display:block}
.legend{display:flex;flex-wrap:wrap;gap:2px 12px;font-size:12px;max-height:56px;overflow:auto}
.legend-table{font-size:11px;border-collapse:collapse;width:100%}.legend-table td,.legend-table th{padding:0 6px;text-align:right;white-space:nowrap}
.legend-table td:first-child{text-align:left;width:100%;overflow:hidden;text-overflow:ellipsis;max-width:0}
i.sw{display:inline-block;width:12px;height:3px;margin:0 5px 3px 0;vertical-align:middle}
.exemplars{font-size:11px;line-height:15px;max-height:30px;flex-shrink:0;overflow-y:auto;overflow-x:hidden;scrollbar-width:thin;scrollbar-color:#2c3235 transparent;color:#8e8e9a}.exemplars a{margin-right:4px;font-family:monospace}
i.sw.ex{width:7px;height:7px;transform:rotate(45deg);margin:0 6px 1px 2px}
table.logs td{font-family:monospace;font-size:12px;white-space:nowrap}table.logs td:last-child{white-space:normal;width:100%}
.level-ERROR{color:#f2495c}.level-WARN{color:#ff9830}
.stats{display:flex;flex:1;gap:6px}.stat{flex:1;display:flex;flex-direction:column;justify-content:center;align-items:center;border-radius:2px;position:relative;min-width:0}
.stat-value{font-weight:500;line-height:1.1;z-index:1}.stat-name{font-size:12px;z-index:1}
.spark{position:absolute;left:0;right:0;bottom:0;height:35%}
.gauge-labels{text-align:center;font-size:11px}
.nodata,.note{color:#8e8e9a;text-align:center;padding:4px}.nodata{flex:1;display:flex;align-items:center;justify-content:center}
.note.err{color:#ff7383}
.table-wrap{overflow:auto;flex:1}
table.data,table.list{border-collapse:collapse;width:100%}table.data td,table.data th,table.list td,table.list th{border-bottom:1px solid #2c3235;padding:3px 8px;text-align:left}
table.list th{color:#8e8e9a;font-weight:500}
.err-mark{color:#f2495c;font-weight:600}.ok-mark{color:#73bf69}
.state-firing{color:#f2495c;font-weight:600}.state-pending{color:#ff9830;font-weight:600}.state-inactive{color:#73bf69}
details{border-bottom:1px solid #2c3235;padding:3px 0}summary{cursor:pointer}
pre{white-space:pre-wrap;background:#0b0c0e;padding:6px;margin:4px 0;font-size:12px}
.exception{border-left:3px solid #f2495c;padding-left:8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.card{background:#181b1f;border:1px solid #2c3235;padding:10px}
`;
