// The local viewer (`deno task view`): the committed dashboards, Jaeger's traces and the alerts as web pages, rendered on the server.
/**
 * A Hono app on 127.0.0.1 (3000, the port the chapter gives Grafana) with
 * Grafana's URLs where they exist: `/d/<uid>?var-job=...&from=now-1h&to=now`,
 * `/explore?traceId=...`; plus `/trace/<id>`, `/traces` and `/alerts`. Every
 * page is HTML + server-rendered SVG (ECharts), with no script. Data comes
 * from Prometheus, Jaeger, Alertmanager and VictoriaLogs by GET only. Bad
 * input is a 400 of one line; a service that does not answer is named on a
 * 503 page that retries by itself.
 */
import { Hono } from "hono";
import { type MetricCatalog } from "../validate/catalog.ts";
import { loadCatalog } from "../validate/catalog.ts";
import { renderAlerts } from "./alerts_page.ts";
import { BadRequest, type Dashboard, loadDashboards } from "./dashboard.ts";
import { renderDashboard } from "./dashboard_page.ts";
import { redactUrl } from "../redact.ts";
import { errorPage, esc, page } from "./html.ts";
import { renderTrace, renderTraces, TRACE_ID } from "./traces_page.ts";
import { promScrapeIntervalMs, Unreachable, type Upstreams } from "./upstream.ts";

export interface ViewerOptions extends Upstreams {
  /** Folder of dashboard JSON (default dashboards/). */
  dashboardsDir?: string;
  catalog?: MetricCatalog;
  /** Called once per rendered dashboard (tests and logs). */
  onRender?: (uid: string, ms: number) => void;
}

export const DEFAULT_VIEW_PORT = 3000;

export { traceUrl } from "./waterfall.ts";

export async function createViewer(opts: ViewerOptions): Promise<Hono> {
  const catalog = opts.catalog ?? await loadCatalog();
  const up: Upstreams = {
    prometheus: opts.prometheus,
    jaeger: opts.jaeger,
    alertmanager: opts.alertmanager,
    victorialogs: opts.victorialogs,
  };
  // Dashboards are re-read when their files change (gen-dashboards while the viewer runs).
  let cache: { at: number; list: Dashboard[] } | null = null;
  const dashboards = () => {
    if (!cache || Date.now() - cache.at > 2000) {
      cache = { at: Date.now(), list: loadDashboards(opts.dashboardsDir) };
    }
    return cache.list;
  };
  let scrape: { at: number; ms: number } | null = null;
  const scrapeIntervalMs = async () => {
    if (!scrape || Date.now() - scrape.at > 60_000) {
      scrape = { at: Date.now(), ms: await promScrapeIntervalMs(up.prometheus) };
    }
    return scrape.ms;
  };

  const app = new Hono();
  // Read-only: anything but GET/HEAD is refused before a handler runs.
  app.use("*", async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      return c.text("method not allowed: this viewer only reads\n", 405, { allow: "GET, HEAD" });
    }
    await next();
  });
  app.onError((err, c) => {
    if (err instanceof BadRequest) return c.html(errorPage(err.message), 400);
    if (err instanceof Unreachable) {
      return c.html(
        page(`<h1>${esc(err.service)} is unreachable</h1>`, {
          title: `${err.service} unreachable`,
          down: [err.message],
        }),
        503,
      );
    }
    // Never a stack trace: one line, and the page retries.
    const line = String((err as Error).message ?? err).split("\n")[0].slice(0, 200);
    console.error(`view: ${c.req.path}: ${line}`);
    return c.html(errorPage(`could not render this page: ${line}`), 502);
  });
  app.notFound((c) => c.html(errorPage(`no page at ${c.req.path}`), 404));

  app.get("/-/healthy", (c) => c.text("ok\n"));
  app.get("/", (c) => {
    const cards = dashboards().map((d) =>
      `<div class="card"><a href="/d/${encodeURIComponent(d.uid)}">${
        esc(d.title)
      }</a><p class="meta">${esc(String(d.doc.description ?? ""))}</p><p class="meta">${
        esc(d.file)
      } · ${(d.doc.tags ?? []).map(esc).join(", ")}</p></div>`
    ).join("");
    return c.html(page(
      `<h1>Dashboards</h1><div class="cards">${cards}</div>
<p class="meta">Prometheus ${esc(up.prometheus)} · Jaeger ${esc(up.jaeger)} · Alertmanager ${
        esc(up.alertmanager)
      } · VictoriaLogs ${esc(redactUrl(up.victorialogs ?? "none"))}</p>`,
      { title: "Dashboards", section: "dashboards" },
    ));
  });
  const dashboard = async (c: { req: { param: (k: string) => string; url: string } }) => {
    const uid = c.req.param("uid");
    const r = await renderDashboard(uid, new URL(c.req.url).searchParams, {
      upstreams: up,
      catalog,
      scrapeIntervalMs,
      dashboards,
    });
    opts.onRender?.(uid, r.renderMs);
    return r.html;
  };
  app.get("/d/:uid", async (c) => c.html(await dashboard(c), 200, { "cache-control": "no-store" }));
  app.get("/d/:uid/:slug", async (c) => c.html(await dashboard(c)));
  app.get(
    "/traces",
    async (c) => c.html(await renderTraces(up.jaeger, new URL(c.req.url).searchParams)),
  );
  app.get("/trace", (c) => {
    const id = (c.req.query("id") ?? "").trim();
    if (!TRACE_ID.test(id)) {
      throw new BadRequest(`bad trace id '${id.slice(0, 40)}' (16 or 32 hex digits)`);
    }
    return c.redirect(`/trace/${id.toLowerCase()}`);
  });
  app.get("/trace/:id", async (c) => c.html(await renderTrace(up, c.req.param("id"))));
  // Grafana's Explore links: ?traceId=<id>, or left={"queries":[{"query":"<id>"}]}.
  app.get("/explore", (c) => {
    let id = c.req.query("traceId") ?? "";
    const left = c.req.query("left");
    if (!id && left) {
      try {
        id = String(JSON.parse(left)?.queries?.[0]?.query ?? "");
      } catch { /* below */ }
    }
    if (!TRACE_ID.test(id)) {
      throw new BadRequest("explore: give a trace id (?traceId=<16 or 32 hex digits>)");
    }
    return c.redirect(`/trace/${id.toLowerCase()}`);
  });
  app.get("/alerts", async (c) => {
    const r = await renderAlerts(up);
    return c.html(r.html, r.down.length ? 503 : 200);
  });
  return app;
}

/** Serves the viewer; resolves once it listens. */
export async function serveViewer(
  opts: ViewerOptions & { hostname?: string; port?: number; signal?: AbortSignal },
): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const app = await createViewer(opts);
  let ready: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  const server = Deno.serve({
    hostname: opts.hostname ?? "127.0.0.1",
    port: opts.port ?? DEFAULT_VIEW_PORT,
    signal: opts.signal,
    onListen: () => ready(),
  }, app.fetch);
  await listening;
  return server;
}
