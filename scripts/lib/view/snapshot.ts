/**
 * `view --snapshot DIR`: each dashboard page loaded in headless Chromium and
 * written as DIR/<uid>.png (the README's pictures), then the push demo's
 * trace (trace.png) and the alerts (alerts.png); with the viewer's
 * measurements of each page: render time, size, panels with data.
 */
import { join } from "node:path";
import { CheckFailed } from "../cli.ts";
import { Browser } from "./chromium.ts";

export interface PageCheck {
  uid: string;
  status: number;
  /** Milliseconds from navigation start to the load event, as the browser measured it. */
  loadMs: number;
  /** The server's own render time (the page prints it). */
  renderMs: number;
  bytes: number;
  panels: { title: string; source: string; series: number; svg: number }[];
  errors: string[];
  png: Uint8Array;
}

/** Loads `/d/<uid>` in the browser and reads back what it shows. */
export async function checkPage(
  browser: Browser,
  base: string,
  uid: string,
  query: string,
): Promise<PageCheck> {
  const before = browser.errors.length;
  const status = await browser.goto(`${base}/d/${encodeURIComponent(uid)}?${query}`);
  const info = await browser.eval<
    { loadMs: number; renderMs: number; bytes: number; panels: PageCheck["panels"] }
  >(`(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    return {
      loadMs: nav ? nav.loadEventStart - nav.startTime : -1,
      renderMs: Number(document.getElementById("render-ms")?.textContent ?? -1),
      bytes: nav ? nav.decodedBodySize : document.documentElement.outerHTML.length,
      panels: [...document.querySelectorAll("section.panel")].map((p) => ({
        title: p.querySelector("h3")?.textContent ?? "",
        source: p.dataset.source,
        series: Number(p.dataset.series),
        // What was drawn: chart shapes, or a stat's value (HTML, not SVG).
        svg: p.querySelectorAll("svg path, svg text, .stat-value").length,
      })),
    };
  })()`);
  const png = await browser.screenshot();
  return { uid, status, ...info, errors: browser.errors.slice(before), png };
}

export async function snapshotDashboards(
  base: string,
  uids: string[],
  dir: string,
  opts: { from?: string; log?: (line: string) => void; traceId?: string | null } = {},
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const browser = await Browser.launch({ width: 1600, height: 900 });
  const written: string[] = [];
  try {
    for (const uid of uids) {
      const r = await checkPage(
        browser,
        base,
        uid,
        `from=${opts.from ?? "now-1h"}&to=now&refresh=off`,
      );
      if (r.status !== 200) throw new CheckFailed(`/d/${uid} answered ${r.status}`);
      const name = `${uid}.png`;
      await Deno.writeFile(join(dir, name), r.png);
      written.push(name);
      const withData = r.panels.filter((p) => p.series > 0).length;
      opts.log?.(
        `${name}: ${r.panels.length} panels, ${withData} with data, rendered in ${r.renderMs} ms, ${
          (r.bytes / 1024).toFixed(0)
        } KB${r.errors.length ? `, console errors: ${r.errors.join("; ")}` : ""}`,
      );
    }
    // The push demo's waterfall and the alerts, for the README next to the dashboards.
    const extra: [string, string][] = [["alerts.png", `${base}/alerts`]];
    if (opts.traceId) extra.unshift(["trace.png", `${base}/trace/${opts.traceId}`]);
    for (const [name, url] of extra) {
      const status = await browser.goto(url);
      if (status !== 200) throw new CheckFailed(`${url} answered ${status}`);
      await Deno.writeFile(join(dir, name), await browser.screenshot());
      written.push(name);
      opts.log?.(`${name}: ${url}`);
    }
  } finally {
    await browser.close();
  }
  return written;
}
