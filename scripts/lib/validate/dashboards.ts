/**
 * TestGrafanaDashboard: every dashboards/*.json parses, has a title and
 * panels, matches Grafana's published dashboard schema (the TypeScript types
 * of npm `@grafana/schema`, checked by `deno check` with excess-property
 * checks on), uses a datasource variable, and its PromQL parses and selects
 * only known metrics. The platform dashboard also has the chapter's settings.
 */
import { join } from "node:path";
import { analyzePromQL, substituteGrafanaVariables, unknownMetrics } from "../promql.ts";
import { REPO_ROOT } from "../paths.ts";
import { UNAVAILABLE_LINTERS } from "../tools/mod.ts";
import { knownMetricSet, ruleFiles } from "./rules.ts";
import {
  exists,
  isMap,
  type Json,
  type JsonSource,
  lineAt,
  listFiles,
  type Problem,
  readJson,
  readYaml,
  SourceError,
} from "./source.ts";
import {
  type Check,
  denoCheckSource,
  fail,
  memo,
  missingTool,
  type Outcome,
  result,
  runTool,
  skip,
  type ValidateContext,
} from "./types.ts";

export const PLATFORM_DASHBOARD = "dashboards/grafana-dashboard-platform.json";
/** The dashboard schemaVersion of the Grafana release @grafana/schema describes. */
export const GRAFANA_SCHEMA_VERSION = 42;
export const PLATFORM_UID = "platform-observability";

export interface PanelRef {
  panel: Json;
  path: (string | number)[];
}

/** Panels including those nested in (collapsed) rows. */
export function allPanels(dash: Json): PanelRef[] {
  const out: PanelRef[] = [];
  (Array.isArray(dash?.panels) ? dash.panels : []).forEach((p: Json, i: number) => {
    out.push({ panel: p, path: ["panels", i] });
    (Array.isArray(p?.panels) ? p.panels : []).forEach((c: Json, j: number) => {
      out.push({ panel: c, path: ["panels", i, "panels", j] });
    });
  });
  return out;
}

function loadDashboards(ctx: ValidateContext): { dashboards: JsonSource[]; problems: Problem[] } {
  return memo(ctx, "dashboards", () => {
    const dashboards: JsonSource[] = [];
    const problems: Problem[] = [];
    for (const rel of listFiles(ctx.root, "dashboards", /\.json$/)) {
      try {
        dashboards.push(readJson(ctx.root, rel));
      } catch (err) {
        if (err instanceof SourceError) problems.push(...err.problems);
        else throw err;
      }
    }
    return { dashboards, problems };
  });
}

function withDashboards(
  ctx: ValidateContext,
  body: (ds: JsonSource[]) => Outcome | Promise<Outcome>,
): Outcome | Promise<Outcome> {
  if (!exists(join(ctx.root, PLATFORM_DASHBOARD))) {
    return fail([{ file: PLATFORM_DASHBOARD, message: "file is missing" }]);
  }
  const { dashboards, problems } = loadDashboards(ctx);
  if (problems.length) return fail(problems);
  return body(dashboards);
}

const line = (d: JsonSource, path: (string | number)[]) => lineAt(d.yaml, path);

export function structureProblems(d: JsonSource): Problem[] {
  const v = d.value as Json;
  const problems: Problem[] = [];
  if (!isMap(v)) return [{ file: d.file, line: 1, message: "not a JSON object" }];
  if (typeof v.title !== "string" || !v.title.trim()) {
    problems.push({ file: d.file, line: 1, message: "dashboard has no title" });
  }
  if (!Array.isArray(v.panels) || v.panels.length === 0) {
    problems.push({
      file: d.file,
      line: line(d, ["panels"]) ?? 1,
      message: "dashboard has no panels",
    });
  }
  return problems;
}

/** Panels and queries use the datasource variable, never a fixed datasource. */
export function datasourceProblems(d: JsonSource): Problem[] {
  const v = d.value as Json;
  const problems: Problem[] = [];
  const vars: Json[] = v?.templating?.list ?? [];
  const dsVars = vars.filter((x) => x?.type === "datasource").map((x) => x.name);
  if (dsVars.length === 0) {
    problems.push({
      file: d.file,
      line: line(d, ["templating"]) ?? 1,
      message: "no datasource template variable",
    });
  }
  const usesVar = (ds: Json) => {
    if (ds === undefined || ds === null) return true; // inherits the panel's / default
    const uid = typeof ds === "string" ? ds : ds?.uid;
    return typeof uid === "string" && dsVars.some((n) => uid === `$${n}` || uid === `\${${n}}`);
  };
  const check = (ds: Json, path: (string | number)[], what: string) => {
    if (!usesVar(ds)) {
      problems.push({
        file: d.file,
        line: line(d, path),
        message: `${what} uses a fixed datasource ${JSON.stringify(ds)}; use \${${
          dsVars[0] ?? "datasource"
        }}`,
      });
    }
  };
  for (const { panel, path } of allPanels(v)) {
    if (panel?.type === "row") continue;
    check(panel?.datasource, [...path, "datasource"], `panel '${panel?.title}'`);
    (panel?.targets ?? []).forEach((t: Json, j: number) =>
      check(
        t?.datasource,
        [...path, "targets", j, "datasource"],
        `panel '${panel?.title}' query ${t?.refId ?? j}`,
      )
    );
  }
  vars.forEach((x, i) => {
    if (x?.type === "query") {
      check(x.datasource, ["templating", "list", i, "datasource"], `variable ${x.name}`);
    }
  });
  return problems;
}

export interface DashboardQuery {
  file: string;
  line?: number;
  panel: string;
  expr: string;
}

export function dashboardQueries(d: JsonSource): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const { panel, path } of allPanels(d.value)) {
    (panel?.targets ?? []).forEach((t: Json, j: number) => {
      if (typeof t?.expr === "string") {
        out.push({
          file: d.file,
          line: line(d, [...path, "targets", j, "expr"]),
          panel: String(panel?.title),
          expr: t.expr,
        });
      }
    });
  }
  return out;
}

export function dashboardPromqlProblems(
  ds: JsonSource[],
  known: Set<string> | null,
  recorded: Set<string> = new Set(),
): Problem[] {
  const problems: Problem[] = [];
  for (const d of ds) {
    for (const q of dashboardQueries(d)) {
      const a = analyzePromQL(q.expr, { grafana: true });
      if (!known) {
        for (const e of a.errors) {
          problems.push({
            file: q.file,
            line: q.line,
            message:
              `panel '${q.panel}': PromQL syntax error at column ${e.column}: ${e.message} in ${
                JSON.stringify(q.expr)
              }`,
          });
        }
        continue;
      }
      for (const m of unknownMetrics(a.metrics, known, recorded)) {
        problems.push({
          file: q.file,
          line: q.line,
          message:
            `panel '${q.panel}' queries ${m}, which no app emits and config/metric-catalog.yaml does not list`,
        });
      }
    }
  }
  return problems;
}

export function platformProblems(d: JsonSource): Problem[] {
  const v = d.value as Json;
  const problems: Problem[] = [];
  const p = (message: string, path: (string | number)[] = []) =>
    problems.push({ file: d.file, line: line(d, path) ?? 1, message });
  if (v.schemaVersion !== GRAFANA_SCHEMA_VERSION) {
    p(`schemaVersion is ${v.schemaVersion}, current Grafana is ${GRAFANA_SCHEMA_VERSION}`, [
      "schemaVersion",
    ]);
  }
  if (v.uid !== PLATFORM_UID) {
    p(`uid is ${JSON.stringify(v.uid)}, the stable uid is ${PLATFORM_UID}`, ["uid"]);
  }
  if (v.refresh !== "30s") p(`refresh is ${JSON.stringify(v.refresh)}, want 30s`, ["refresh"]);
  if (v.time?.from !== "now-6h") {
    p(`time range starts ${JSON.stringify(v.time?.from)}, want now-6h`, ["time"]);
  }
  const titles = allPanels(v).map((x) => String(x.panel?.title ?? "").toLowerCase());
  const want: [string, RegExp][] = [
    ["latency p50/p95/p99", /latency/],
    ["error rate", /error/],
    ["pod health", /pod/],
    ["node CPU/memory", /node/],
    ["SLA compliance", /sla/],
    ["request volume", /volume/],
    ["database query performance", /database|db /],
    ["cache efficiency", /cache/],
  ];
  for (const [what, re] of want) {
    if (!titles.some((t) => re.test(t))) p(`no ${what} panel`, ["panels"]);
  }
  const sla = allPanels(v).find((x) => /sla/i.test(String(x.panel?.title)));
  if (sla) {
    const steps: Json[] = sla.panel?.fieldConfig?.defaults?.thresholds?.steps ?? [];
    if (!steps.some((s) => s?.value === 99)) {
      p("SLA panel has no threshold at 99", [...sla.path, "fieldConfig"]);
    }
  }
  return problems;
}

/** The @grafana/schema version pinned in the repository's deno.json. */
function grafanaSchemaSpecifier(): string {
  try {
    const cfg = JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, "deno.json")));
    return cfg.imports?.["@grafana/schema"] ?? "npm:@grafana/schema";
  } catch {
    return "npm:@grafana/schema";
  }
}

/**
 * Type-checks each dashboard against Grafana's `Dashboard` type. String
 * enums become their values (JSON has no enums); everything else, including
 * unknown properties, is checked as TypeScript checks an object literal.
 */
export async function schemaProblems(ds: JsonSource[]): Promise<Problem[]> {
  const header = [
    `import type { Dashboard } from "${grafanaSchemaSpecifier()}";`,
    "type Plain<T> = T extends string ? `${T}` : T extends number | boolean | null | undefined ? T",
    "  : T extends (infer U)[] ? Plain<U>[] : T extends object ? { [K in keyof T]: Plain<T[K]> } : T;",
    // Grafana writes a query variable's `definition` (its query as text),
    // which the generated types omit: allow it.
    'type Var = NonNullable<NonNullable<Dashboard["templating"]>["list"]>[number];',
    'type Dash = Omit<Plain<Dashboard>, "templating"> & {',
    "  templating?: { list?: (Plain<Var> & { definition?: string })[] };",
    "};",
  ];
  const lines = [...header];
  const ranges: { file: string; start: number; end: number }[] = [];
  ds.forEach((d, i) => {
    const start = lines.length + 1; // 1-based line of the JSON's first line
    const body = d.text.replace(/\n$/, "").split("\n");
    body[0] = `export const d${i} = (${body[0]}`;
    body[body.length - 1] += ") satisfies Dash;";
    lines.push(...body);
    ranges.push({ file: d.file, start, end: lines.length });
  });
  const { code, output, errors } = await denoCheckSource(
    "dashboards_schema_check",
    lines.join("\n") + "\n",
  );
  if (code === 0) return [];
  const problems: Problem[] = errors.map((e) => {
    const r = ranges.find((x) => e.line >= x.start && e.line <= x.end);
    return {
      file: r?.file ?? "dashboards/",
      line: r ? e.line - r.start + 1 : undefined,
      message: `Grafana schema: ${schemaMessage(e.message)}`,
    };
  });
  if (problems.length === 0) {
    const first = output.split("\n").find((l) => /error/i.test(l)) ?? `deno check exited ${code}`;
    problems.push({
      file: "dashboards/",
      message: `schema check could not run: ${first.trim()}`,
    });
  }
  return problems;
}

/**
 * Prometheus' own parser on every panel query: each becomes a recording rule
 * in a temporary file for `promtool check rules`, which also catches type
 * errors the grammar alone cannot (`rate()` of an instant vector...).
 */
export async function promtoolPanelProblems(
  promtool: string,
  ds: JsonSource[],
): Promise<Problem[]> {
  const queries = ds.flatMap(dashboardQueries);
  if (queries.length === 0) return [];
  const rules = queries.map((q, i) => ({
    record: `dashboard_query_${i}`,
    expr: substituteGrafanaVariables(q.expr),
  }));
  const dir = Deno.makeTempDirSync({ prefix: "obskit-panel-promql-" });
  const file = join(dir, "panels.rules.yaml");
  try {
    Deno.writeTextFileSync(
      file,
      JSON.stringify({ groups: [{ name: "dashboards", rules }] }, null, 1),
    );
    const { code, output } = await runTool(promtool, ["check", "rules", file]);
    if (code === 0) return [];
    const problems: Problem[] = [];
    for (const m of output.matchAll(/rule (\d+), "dashboard_query_\d+": ([^\n]*)/g)) {
      const q = queries[Number(m[1]) - 1];
      if (!q) continue;
      problems.push({
        file: q.file,
        line: q.line,
        message: `panel '${q.panel}': Prometheus rejects the query: ${
          m[2].replace(/^could not parse expression: /, "")
        }`,
      });
    }
    if (problems.length === 0) {
      problems.push({
        file: "dashboards/",
        message: `promtool: ${output.trim().split("\n").slice(-2).join(" | ")}`,
      });
    }
    return problems;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Shortens TypeScript's messages: long inline types become "the expected type". */
export function schemaMessage(msg: string): string {
  const excess =
    /Object literal may only specify known properties, and '"?([^'"]+)"?' does not exist/.exec(msg);
  if (excess) return `unknown property '${excess[1]}'`;
  return msg.replace(/'\{[^']{60,}'/g, "the expected type").slice(0, 240);
}

function recordedInRules(ctx: ValidateContext): Set<string> {
  const names = new Set<string>();
  for (const rel of ruleFiles(ctx.root)) {
    try {
      const doc = readYaml(ctx.root, rel).docs[0]?.toJS();
      for (const g of doc?.groups ?? []) {
        for (const r of g?.rules ?? []) if (r?.record) names.add(r.record);
      }
    } catch { /* reported by TestAlertRules */ }
  }
  return names;
}

export const dashboardChecks: Check[] = [
  {
    cls: "TestGrafanaDashboard",
    name: "dashboard JSON is valid",
    run: (ctx) => {
      if (!exists(join(ctx.root, PLATFORM_DASHBOARD))) {
        return fail([{ file: PLATFORM_DASHBOARD, message: "file is missing" }]);
      }
      const { dashboards, problems } = loadDashboards(ctx);
      return result(problems, `${dashboards.length} dashboards`);
    },
  },
  {
    cls: "TestGrafanaDashboard",
    name: "dashboards have a title and panels",
    run: (ctx) =>
      withDashboards(ctx, (ds) =>
        result(
          ds.flatMap(structureProblems),
          ds.map((d) => `${d.file.replace("dashboards/", "")}: ${allPanels(d.value).length}`).join(
            ", ",
          ),
        )),
  },
  {
    cls: "TestGrafanaDashboard",
    name: "dashboards match Grafana's dashboard schema (@grafana/schema)",
    run: (ctx) =>
      withDashboards(
        ctx,
        async (ds) =>
          result(await schemaProblems(ds), `schemaVersion ${GRAFANA_SCHEMA_VERSION} types`),
      ),
  },
  {
    cls: "TestGrafanaDashboard",
    name: "panels use the datasource variable, not a fixed datasource",
    run: (ctx) => withDashboards(ctx, (ds) => result(ds.flatMap(datasourceProblems))),
  },
  {
    cls: "TestGrafanaDashboard",
    name: "every panel's PromQL parses",
    run: (ctx) =>
      withDashboards(ctx, (ds) =>
        result(
          dashboardPromqlProblems(ds, null),
          `${ds.reduce((n, d) => n + dashboardQueries(d).length, 0)} expressions`,
        )),
  },
  {
    cls: "TestGrafanaDashboard",
    name: "every panel's PromQL is accepted by Prometheus (promtool)",
    run: (ctx) =>
      withDashboards(ctx, async (ds) => {
        const bin = ctx.findTool("promtool");
        if (!bin) {
          return missingTool(
            ctx,
            PLATFORM_DASHBOARD,
            "promtool",
            "apt-get install prometheus, or run 'deno task tools'",
          );
        }
        return result(
          await promtoolPanelProblems(bin, ds),
          "promtool check rules on every panel query",
        );
      }),
  },
  {
    cls: "TestGrafanaDashboard",
    name: "every metric a panel queries is emitted or catalogued",
    run: (ctx) =>
      withDashboards(ctx, (ds) => {
        let known: Set<string>;
        try {
          known = knownMetricSet(ctx);
        } catch (err) {
          if (err instanceof SourceError) return fail(err.problems);
          throw err;
        }
        return result(dashboardPromqlProblems(ds, known, recordedInRules(ctx)));
      }),
  },
  {
    cls: "TestGrafanaDashboard",
    name: "platform dashboard: schemaVersion, stable uid, 30s refresh, last 6h, chapter panels",
    run: (ctx) =>
      withDashboards(ctx, (ds) => {
        const d = ds.find((x) => x.file === PLATFORM_DASHBOARD)!;
        return result(platformProblems(d), `uid ${PLATFORM_UID}`);
      }),
  },
  {
    cls: "TestGrafanaDashboard",
    name: "dashboard-linter lint --strict",
    run: (ctx) =>
      withDashboards(ctx, async (ds) => {
        const bin = ctx.findTool("dashboard-linter");
        if (!bin) {
          const why = UNAVAILABLE_LINTERS.find((l) => l.component === "dashboard-linter");
          if (why) return skip(`dashboard-linter not installed: ${why.reason}`);
          return missingTool(ctx, PLATFORM_DASHBOARD, "dashboard-linter", "run 'deno task tools'");
        }
        const problems: Problem[] = [];
        for (const d of ds) {
          const { code, output } = await runTool(bin, ["lint", "--strict", join(ctx.root, d.file)]);
          if (code !== 0) {
            problems.push({
              file: d.file,
              message: `dashboard-linter: ${output.trim().split("\n").slice(0, 3).join(" | ")}`,
            });
          }
        }
        return result(problems);
      }),
  },
];
