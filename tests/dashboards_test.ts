import { strict as assert } from "node:assert";
import { join } from "node:path";
import { parse } from "yaml";
import type { Dashboard, Panel } from "@grafana/schema";
import { SCHEMA_VERSION } from "../scripts/lib/dashboards/builders.ts";
import {
  buildDashboard,
  dashboardFileName,
  PERSONAS,
  renderDashboard,
  selectPersonas,
} from "../scripts/lib/dashboards/generate.ts";
import { UsageError } from "../scripts/lib/cli.ts";
import { pathsMix, runLoad } from "../scripts/lib/load/mod.ts";
import { spawnInstrumentedApp, startPrometheus } from "../scripts/lib/load/load_target.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import { analyzePromQL, inFamilies } from "../scripts/lib/promql.ts";
import { knownFamilies, loadCatalog } from "../scripts/lib/validate/catalog.ts";
import { findTool, missing, runScript, YAML_ENV } from "./support.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
/** Reads the committed dashboards. */
const readsRepo = { permissions: { ...unit.permissions, read: true } } as const;
/** Reads and parses the repository's metric catalog (YAML). */
const readsCatalog = { permissions: { ...readsRepo.permissions, env: YAML_ENV } } as const;
/** Runs gen_dashboards.ts as a subprocess writing into a temp folder. */
const cli = { permissions: { net: false, run: true, read: true, write: true } } as const;
/** A real Prometheus and the instrumented app on loopback ports, driven by load. */
const realPrometheus = {
  permissions: { net: true, run: true, read: true, env: true, write: true },
} as const;

interface Target {
  expr: string;
  refId: string;
  datasource: { type: string; uid: string };
}

/** Panels per persona: the SRE and management dashboards carry the SLO panels. */
const PANEL_COUNT: Record<string, number> = { developer: 6, sre: 8, management: 7, security: 6 };

/** Recording-rule outputs of the shipped rule files: dashboards may query them. */
function recordedByRules(): Set<string> {
  const out = new Set<string>();
  for (const f of ["alert-rules.yaml", "slo-rules.yaml"]) {
    const doc = parse(Deno.readTextFileSync(repoPath("rules", f)));
    for (const g of doc.groups) for (const r of g.rules) if (r.record) out.add(r.record);
  }
  return out;
}

function panelsOf(d: Dashboard): Panel[] {
  return (d.panels ?? []) as Panel[];
}

function targetsOf(p: Panel): Target[] {
  return (p.targets ?? []) as unknown as Target[];
}

const dashboards = PERSONAS.map((p) => ({ persona: p, dash: buildDashboard(p) }));

Deno.test({
  name: "dashboards: committed JSON is exactly the generator's output (no drift)",
  ...readsRepo,
  async fn() {
    for (const p of PERSONAS) {
      const path = repoPath("dashboards", dashboardFileName(p));
      const committed = await Deno.readTextFile(path);
      assert.ok(
        committed === renderDashboard(p),
        `${path} differs from the generator: run 'deno task gen-dashboards' and commit`,
      );
    }
  },
});

Deno.test({
  name:
    "dashboards: four personas, six panels each (eight for SRE, seven for management: the SLO panels), stable uids, tags, current schema",
  ...unit,
  fn() {
    assert.deepEqual(PERSONAS.map((p) => p.key), ["developer", "sre", "management", "security"]);
    const uids = new Set<string>();
    for (const { persona, dash } of dashboards) {
      assert.equal(dash.uid, `obskit-${persona.key}`);
      uids.add(dash.uid!);
      assert.ok(
        dash.tags?.includes("obskit") && dash.tags.includes(persona.key),
        `${dash.uid} tags`,
      );
      assert.equal(dash.schemaVersion, SCHEMA_VERSION);
      assert.ok(SCHEMA_VERSION >= 39, `schemaVersion ${SCHEMA_VERSION}`);
      assert.equal(dash.refresh, "30s");
      assert.deepEqual(dash.time, { from: "now-6h", to: "now" });
      assert.equal(dash.id, null);
      const panels = panelsOf(dash);
      const n = PANEL_COUNT[persona.key];
      assert.equal(panels.length, n, `${dash.uid} has ${panels.length} panels`);
      assert.deepEqual(panels.map((p) => p.id), Array.from({ length: n }, (_, i) => i + 1));
      // No two panels overlap on the grid, and all fit in 24 columns.
      const cells = new Set<string>();
      for (const p of panels) {
        const g = p.gridPos!;
        assert.ok(g.x + g.w <= 24, `${p.title} overflows`);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            const k = `${x},${y}`;
            assert.ok(!cells.has(k), `${dash.uid}: ${p.title} overlaps at ${k}`);
            cells.add(k);
          }
        }
        assert.ok(p.description && p.description.length > 20, `${p.title} explains itself`);
      }
    }
    assert.equal(uids.size, 4);
  },
});

Deno.test({
  name: "dashboards: every panel and query uses the datasource variable",
  ...unit,
  fn() {
    for (const { dash } of dashboards) {
      const vars = dash.templating?.list ?? [];
      const ds = vars.find((v) => v.name === "datasource");
      assert.ok(ds, `${dash.uid} has a datasource variable`);
      assert.equal(ds.type, "datasource");
      assert.equal(ds.query, "prometheus");
      for (const v of vars.filter((v) => v.type === "query")) {
        assert.deepEqual(v.datasource, { type: "prometheus", uid: "${datasource}" });
      }
      for (const p of panelsOf(dash)) {
        assert.deepEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, p.title ?? "");
        const ts = targetsOf(p);
        assert.ok(ts.length > 0, `${p.title} has queries`);
        for (const t of ts) assert.deepEqual(t.datasource, p.datasource, `${p.title} ${t.refId}`);
      }
      // Nothing anywhere names a concrete data source.
      const text = JSON.stringify(dash);
      for (const m of text.matchAll(/"uid":\s*"([^"]*)"/g)) {
        assert.ok(
          ["${datasource}", "-- Grafana --", dash.uid].includes(m[1]),
          `${dash.uid} hard-codes uid ${m[1]}`,
        );
      }
    }
  },
});

Deno.test({
  name: "dashboards: the chapter's panels, in each persona's words",
  ...unit,
  fn() {
    const expected: Record<string, RegExp[]> = {
      developer: [
        /latency/i,
        /error rate/i,
        /request count/i,
        /response size/i,
        /database/i,
        /cache hit/i,
      ],
      sre: [
        /pod availability/i,
        /node utili[sz]ation/i,
        /error rate/i,
        /sla/i,
        /error budget remaining/i,
        /burn rate/i,
        /restarts/i,
        /volume/i,
      ],
      management: [
        /availability/i,
        /error budget left/i,
        /mttr/i,
        /request volume/i,
        /critical incidents/i,
        /revenue/i,
        /customer issues/i,
      ],
      security: [
        /critical cves/i,
        /vulnerability scans/i,
        /401/,
        /403 \/ 404/,
        /compliance/i,
        /scan coverage/i,
      ],
    };
    for (const { persona, dash } of dashboards) {
      const titles = panelsOf(dash).map((p) => p.title ?? "");
      expected[persona.key].forEach((re, i) =>
        assert.match(titles[i], re, `${persona.key} panel ${i + 1}`)
      );
      for (const q of persona.questions) assert.ok(dash.description!.includes(q));
    }
    assert.equal(
      buildDashboard(selectPersonas("security")[0]).title,
      "Security Dashboard - CVE & Compliance",
    );
    assert.throws(() => selectPersonas("nope"), (e: Error) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /developer, sre, management, security/);
      return true;
    });
  },
});

Deno.test({
  name: "dashboards: every query parses and uses only emitted or catalogued metrics",
  ...readsCatalog,
  async fn() {
    const catalog = await loadCatalog();
    const known = knownFamilies(catalog);
    const recorded = recordedByRules();
    const emitted = new Set(catalog.emitted.map((e) => e.name));
    let queries = 0;
    const used = new Set<string>();
    for (const { dash } of dashboards) {
      for (const p of panelsOf(dash)) {
        for (const t of targetsOf(p)) {
          queries++;
          const a = analyzePromQL(t.expr, { grafana: true });
          assert.deepEqual(a.errors, [], `${dash.uid} "${p.title}" ${t.refId}: ${t.expr}`);
          assert.ok(a.metrics.length > 0, `${p.title}: selects no metric`);
          for (const m of a.metrics) {
            assert.ok(
              inFamilies(m, known) || recorded.has(m),
              `${dash.uid} "${p.title}" uses ${m}: not in the catalog`,
            );
            used.add(m);
          }
        }
      }
      for (const v of dash.templating?.list ?? []) {
        if (v.type !== "query") continue;
        const m = /^label_values\((.+),\s*(\w+)\)$/.exec(String(v.query));
        assert.ok(m, `variable ${v.name}: ${v.query}`);
        assert.equal(m[2], v.name);
        const a = analyzePromQL(m[1], { grafana: true });
        assert.deepEqual(a.errors, [], `variable ${v.name}: ${m[1]}`);
        for (const metric of a.metrics) {
          assert.ok(inFamilies(metric, known), `variable ${v.name} uses ${metric}`);
        }
      }
    }
    assert.ok(queries >= 24, `${queries} queries`);
    // The business panels use real metrics the instrumented app emits.
    for (
      const m of ["app_revenue_dollars_total", "app_customer_issues_total", "cache_requests_total"]
    ) {
      assert.ok(used.has(m) && emitted.has(m), m);
    }
  },
});

function runGen(args: string[]) {
  return runScript(
    "scripts/gen_dashboards.ts",
    // The task's own grant: yaml (config/slo.yaml) reads LOG_TOKENS and LOG_STREAM.
    ["--allow-read", "--allow-write", "--allow-env=OBSKIT_DEBUG,LOG_TOKENS,LOG_STREAM"],
    args,
  );
}

Deno.test({
  name: "gen-dashboards CLI: --print is JSON alone, unknown persona exits 2, files as committed",
  ...cli,
  async fn() {
    const printed = await runGen(["--persona", "security", "--print"]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(JSON.parse(printed.stdout).title, "Security Dashboard - CVE & Compliance");
    assert.equal(printed.stderr, "");

    const all = await runGen(["--print"]);
    assert.equal(JSON.parse(all.stdout).length, 4);

    const bad = await runGen(["--persona", "nope"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /unknown persona 'nope'.*developer, sre, management, security/);

    const dir = await Deno.makeTempDir({ prefix: "obskit-dash-" });
    try {
      const gen = await runGen(["--output-dir", dir]);
      assert.equal(gen.code, 0, gen.stderr);
      for (const p of PERSONAS) {
        const file = join(dir, dashboardFileName(p));
        assert.match(gen.stdout, new RegExp(`Generated: .*${dashboardFileName(p)}`));
        assert.equal(await Deno.readTextFile(file), renderDashboard(p));
      }
      assert.match(
        gen.stdout,
        /Persona: sre\n.*\n.*Tags: obskit, sre, infrastructure, reliability\n.*Panels: 8/,
      );
      const one = await runGen(["--persona", "developer", "--output-dir", join(dir, "one")]);
      assert.equal(one.code, 0);
      assert.deepEqual([...Deno.readDirSync(join(dir, "one"))].map((e) => e.name), [
        "dashboard-developer.json",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Grafana's variables as they would be with "All" selected and a 6 h range. */
function concrete(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "10s")
    .replaceAll("$__range", "2m")
    .replaceAll('"$job"', '".*"')
    .replaceAll('"$instance"', '".*"')
    .replaceAll('"$namespace"', '".*"');
}

Deno.test({
  name: "dashboards on a real Prometheus: every query runs; every app-metric query returns data",
  ...realPrometheus,
  ignore: missing("prometheus"),
  async fn() {
    const catalog = await loadCatalog();
    const emitted = new Set(catalog.emitted.map((e) => e.name));
    const app = await spawnInstrumentedApp();
    let prom: Awaited<ReturnType<typeof startPrometheus>> | undefined;
    try {
      // Scraped directly under the contract's job name (the stack gets the same
      // series through the collector; tests/prom_bridge_test.ts proves the two agree).
      prom = await startPrometheus(findTool("prometheus")!, {
        "platform-app": [{ port: app.port }],
      });
      const promUrl = prom.url;
      // Traffic that touches every app panel: data, slow data, errors, 401s, 404s.
      await runLoad({
        target: app.url,
        rate: 40,
        durationMs: 6000,
        mix: pathsMix([
          "/api/data",
          "/api/data?delay=0.2",
          "/error",
          "/api/admin",
          "/no-such-page",
          "/api/data",
        ]),
      });
      const empty: string[] = [];
      for (const { dash } of dashboards) {
        for (const p of panelsOf(dash)) {
          for (const t of targetsOf(p)) {
            const expr = concrete(t.expr);
            const res: Response = await fetch(`${promUrl}/api/v1/query`, {
              method: "POST",
              body: new URLSearchParams({ query: expr }),
            });
            const body: { status: string; error?: string; data: { result: unknown[] } } = await res
              .json();
            assert.equal(body.status, "success", `${p.title}: ${expr}: ${body.error}`);
            const fromApp = analyzePromQL(expr).metrics.every((m) => inFamilies(m, emitted));
            if (fromApp && body.data.result.length === 0) {
              empty.push(`${dash.uid} "${p.title}" ${t.refId}`);
            }
          }
        }
      }
      // The job and instance variables find the app (what Grafana asks for label_values).
      for (const v of dashboards[0].dash.templating?.list ?? []) {
        if (v.type !== "query") continue;
        const [, selector, label] = /^label_values\((.+),\s*(\w+)\)$/.exec(String(v.query))!;
        const u = new URL(`${promUrl}/api/v1/label/${label}/values`);
        u.searchParams.set("match[]", concrete(selector));
        const values: { data: string[] } = await (await fetch(u)).json();
        assert.ok(values.data.length > 0, `variable ${v.name}: no values for ${selector}`);
        if (v.name === "job") assert.deepEqual(values.data, ["platform-app"]);
      }
      assert.deepEqual(empty, [], "app-metric queries without data");
    } finally {
      await prom?.stop();
      await app.stop();
    }
  },
});

Deno.test({
  name:
    "dashboards: the SLA number, budget and page burn rates come from config/slo.yaml; SLO panels query Sloth's recording rules",
  ...readsCatalog,
  async fn() {
    const { readSloConfig } = await import("../scripts/lib/slo/mod.ts");
    const cfg = readSloConfig();
    const sla = cfg.objectives.availability.objective;
    const recorded = recordedByRules();
    const byKey = Object.fromEntries(dashboards.map(({ persona, dash }) => [persona.key, dash]));
    const find = (key: string, re: RegExp) => {
      const p = panelsOf(byKey[key]).find((p) => re.test(p.title ?? ""));
      assert.ok(p, `${key}: no panel ${re}`);
      return p;
    };
    const firstStep = (p: Panel) =>
      // deno-lint-ignore no-explicit-any
      (p.fieldConfig?.defaults?.thresholds?.steps as any[]).slice(1).map((s) => s.value);
    const sreSla = find("sre", /SLA compliance/);
    assert.equal(sreSla.title, `SLA compliance (${sla} % target)`);
    assert.deepEqual(firstStep(sreSla), [sla / 100]);
    const mgmt = find("management", /Service availability/);
    assert.equal(mgmt.title, `Service availability (${sla} % SLA)`);
    assert.deepEqual(firstStep(mgmt), [sla / 100]);
    // No other SLA number anywhere in the generated dashboards.
    for (const { dash } of dashboards) {
      assert.doesNotMatch(JSON.stringify(dash), /99\.9 ?%/, `${dash.uid} names 99.9 %`);
    }
    const burn = find("sre", /burn rate/i);
    assert.deepEqual(firstStep(burn), cfg.alerting.page.map((w) => w.burnRate).reverse());
    for (
      const p of [find("sre", /budget remaining/i), burn, find("management", /budget left/i)]
    ) {
      for (const t of targetsOf(p)) {
        const metrics = analyzePromQL(t.expr, { grafana: true }).metrics;
        assert.ok(metrics.length > 0 && metrics.every((m) => recorded.has(m)), t.expr);
        assert.match(t.expr, /sloth_service=~"\$job"/);
      }
    }
  },
});
