/**
 * TestAlertRules: rule files (rules/*.yaml except *.test.yaml) checked for
 * labels and annotations, by promtool (`check rules`, `test rules`), for
 * test coverage (a firing and a silent case per alert), and PromQL: every
 * expression parses and selects only known metrics.
 */
import { join } from "node:path";
import { analyzePromQL, isRecordingRuleName, unknownMetrics } from "../promql.ts";
import { parseSloConfig, slaThresholdDrift } from "../slo/mod.ts";
import { UNAVAILABLE_LINTERS } from "../tools/mod.ts";
import { knownFamilies, parseCatalog } from "./catalog.ts";
import {
  exists,
  isMap,
  type Json,
  lineAt,
  listFiles,
  type Problem,
  readYaml,
  SourceError,
  type YamlSource,
} from "./source.ts";
import {
  type Check,
  fail,
  memo,
  missingTool,
  type Outcome,
  result,
  runTool,
  skip,
  type ValidateContext,
} from "./types.ts";

export const ALERT_RULES = "rules/alert-rules.yaml";
export const CATALOG = "config/metric-catalog.yaml";
export const SLO_CONFIG = "config/slo.yaml";
export const REQUIRED_ANNOTATIONS = ["summary", "description", "runbook"];

export interface RuleRef {
  src: YamlSource;
  group: number;
  index: number;
  rule: Json;
}

export function ruleFiles(root: string): string[] {
  return listFiles(root, "rules", /\.ya?ml$/).filter((f) => !/\.test\.ya?ml$/.test(f));
}

export function ruleTestFiles(root: string): string[] {
  return listFiles(root, "rules", /\.test\.ya?ml$/);
}

function loadRules(ctx: ValidateContext): { rules: RuleRef[]; problems: Problem[] } {
  return memo(ctx, "rules", () => {
    const rules: RuleRef[] = [];
    const problems: Problem[] = [];
    for (const rel of ruleFiles(ctx.root)) {
      try {
        const src = readYaml(ctx.root, rel);
        const doc = src.docs[0]?.toJS();
        const groups = doc?.groups;
        if (!Array.isArray(groups)) {
          problems.push({ file: rel, message: "no 'groups' list" });
          continue;
        }
        groups.forEach((g: Json, gi: number) => {
          (Array.isArray(g?.rules) ? g.rules : []).forEach((rule: Json, ri: number) => {
            rules.push({ src, group: gi, index: ri, rule });
          });
        });
      } catch (err) {
        if (err instanceof SourceError) problems.push(...err.problems);
        else throw err;
      }
    }
    return { rules, problems };
  });
}

function lineOf(r: RuleRef, ...path: (string | number)[]): number | undefined {
  return lineAt(r.src, ["groups", r.group, "rules", r.index, ...path]);
}

/** Alerts need severity (the chapter's check), team, and the core annotations. */
export function labelProblems(rules: RuleRef[]): Problem[] {
  const problems: Problem[] = [];
  for (const r of rules) {
    if (!r.rule?.alert) continue;
    const name = r.rule.alert;
    const labels = isMap(r.rule.labels) ? r.rule.labels : {};
    if (!labels.severity) {
      problems.push({
        file: r.src.file,
        line: lineOf(r, "alert"),
        message: `alert ${name} has no severity label`,
      });
    } else if (!["critical", "warning", "info"].includes(String(labels.severity))) {
      problems.push({
        file: r.src.file,
        line: lineOf(r, "labels", "severity"),
        message: `alert ${name}: severity '${labels.severity}' is not critical, warning or info`,
      });
    }
  }
  return problems;
}

export function metadataProblems(rules: RuleRef[]): Problem[] {
  const problems: Problem[] = [];
  for (const r of rules) {
    if (!r.rule?.alert) continue;
    const name = r.rule.alert;
    if (!r.rule.labels?.team) {
      problems.push({
        file: r.src.file,
        line: lineOf(r, "alert"),
        message: `alert ${name} has no team label`,
      });
    }
    const ann = isMap(r.rule.annotations) ? r.rule.annotations : {};
    for (const a of REQUIRED_ANNOTATIONS) {
      if (!ann[a]) {
        problems.push({
          file: r.src.file,
          line: lineOf(r, "alert"),
          message: `alert ${name} has no ${a} annotation`,
        });
      }
    }
    if (r.rule.labels?.severity === "critical" && !ann.escalate) {
      problems.push({
        file: r.src.file,
        line: lineOf(r, "alert"),
        message: `critical alert ${name} has no escalate annotation`,
      });
    }
  }
  return problems;
}

/** Recording-rule outputs defined in the rule files. */
export function recordedNames(rules: RuleRef[]): Set<string> {
  return new Set(rules.filter((r) => r.rule?.record).map((r) => String(r.rule.record)));
}

export function rulePromqlProblems(rules: RuleRef[], known: Set<string> | null): Problem[] {
  const problems: Problem[] = [];
  const recorded = recordedNames(rules);
  for (const r of rules) {
    const expr = r.rule?.expr;
    const what = r.rule?.alert ? `alert ${r.rule.alert}` : `record ${r.rule?.record}`;
    if (typeof expr !== "string" && typeof expr !== "number") {
      problems.push({ file: r.src.file, line: lineOf(r), message: `${what} has no expr` });
      continue;
    }
    const a = analyzePromQL(String(expr));
    const exprLine = lineOf(r, "expr");
    // A block scalar's content starts on the line after `expr: |`.
    const base = (exprLine ?? 0) +
      (/^\s*expr:\s*[|>]/.test(r.src.text.split("\n")[(exprLine ?? 1) - 1] ?? "") ? 1 : 0);
    for (const e of a.errors) {
      problems.push({
        file: r.src.file,
        line: base + e.line - 1 || exprLine,
        message: `${what}: PromQL syntax error at column ${e.column}: ${e.message}`,
      });
    }
    if (known) {
      for (const m of unknownMetrics(a.metrics, known, recorded)) {
        problems.push({
          file: r.src.file,
          line: exprLine,
          message: `${what} queries ${m}, which no app emits and ${CATALOG} does not list`,
        });
      }
    }
  }
  return problems;
}

/**
 * Per alert: cases where it fires and cases where it must not. Sloth gives
 * an SLO's page and ticket alerts one name and tells them apart by the
 * `sloth_severity` label, so those count per severity: a case fires the page
 * alert when it expects an alert with sloth_severity=page, and is silent for
 * it when it expects none.
 */
export function coverageProblems(ctx: ValidateContext, rules: RuleRef[]): Problem[] {
  const fires = new Map<string, number>();
  const silent = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const variants = new Map<string, Set<string>>();
  for (const r of rules) {
    if (!r.rule?.alert) continue;
    const sev = r.rule.labels?.sloth_severity;
    const set = variants.get(r.rule.alert) ?? new Set<string>();
    if (sev) set.add(String(sev));
    variants.set(r.rule.alert, set);
  }
  for (const rel of ruleTestFiles(ctx.root)) {
    let doc: Json;
    try {
      doc = readYaml(ctx.root, rel).docs[0]?.toJS();
    } catch (err) {
      if (err instanceof SourceError) return err.problems;
      throw err;
    }
    for (const t of doc?.tests ?? []) {
      for (const a of t?.alert_rule_test ?? []) {
        const expected: Json[] = a.exp_alerts ?? [];
        bump(expected.length ? fires : silent, a.alertname);
        for (const sev of variants.get(a.alertname) ?? []) {
          const hit = expected.some((e) => e?.exp_labels?.sloth_severity === sev);
          bump(hit ? fires : silent, `${a.alertname}/${sev}`);
        }
      }
    }
  }
  const problems: Problem[] = [];
  for (const r of rules) {
    const name = r.rule?.alert;
    if (!name) continue;
    const sev = r.rule.labels?.sloth_severity;
    const key = sev ? `${name}/${sev}` : name;
    const f = fires.get(key) ?? 0;
    const s = silent.get(key) ?? 0;
    if (f === 0 || s === 0 || f + s < 2) {
      problems.push({
        file: r.src.file,
        line: lineOf(r, "alert"),
        message: `alert ${name}${
          sev ? ` (sloth_severity ${sev})` : ""
        } needs promtool cases that fire and that stay silent (has ${f} firing, ${s} silent)`,
      });
    }
  }
  return problems;
}

function withRules(ctx: ValidateContext, body: (rules: RuleRef[]) => Outcome | Promise<Outcome>) {
  if (!exists(join(ctx.root, ALERT_RULES))) {
    return fail([{ file: ALERT_RULES, message: "file is missing" }]);
  }
  const { rules, problems } = loadRules(ctx);
  if (problems.length) return fail(problems);
  return body(rules);
}

export function knownMetricSet(ctx: ValidateContext): Set<string> {
  return memo(ctx, "catalog", () => {
    try {
      return knownFamilies(parseCatalog(Deno.readTextFileSync(join(ctx.root, CATALOG)), CATALOG));
    } catch (err) {
      throw new SourceError([{
        file: CATALOG,
        message: (err as Error).message.replace(/^.*?: /, ""),
      }]);
    }
  });
}

function withCatalog(ctx: ValidateContext, body: (known: Set<string>) => Outcome): Outcome {
  let known: Set<string>;
  try {
    known = knownMetricSet(ctx);
  } catch (err) {
    if (err instanceof SourceError) return fail(err.problems);
    throw err;
  }
  return body(known);
}

function promtoolOutcome(
  ctx: ValidateContext,
  file: string,
  args: string[],
  okReason: string,
): Promise<Outcome> | Outcome {
  const bin = ctx.findTool("promtool");
  if (!bin) {
    return missingTool(
      ctx,
      file,
      "promtool",
      "apt-get install prometheus, or run 'deno task tools'",
    );
  }
  return (async () => {
    const { code, output } = await runTool(bin, args, { cwd: ctx.root });
    if (code === 0) return result([], okReason);
    const lines = output.split("\n").map((l) => l.trim()).filter((l) =>
      l && !/^(Checking|Unit Testing)/.test(l)
    );
    return fail([{
      file,
      message: `promtool ${args[0]} ${args[1]}: ${lines.slice(0, 6).join(" | ")}`,
    }]);
  })();
}

export const ruleChecks: Check[] = [
  {
    cls: "TestAlertRules",
    name: "alert rules file exists",
    run: (ctx) =>
      exists(join(ctx.root, ALERT_RULES))
        ? result([], ALERT_RULES)
        : fail([{ file: ALERT_RULES, message: "file is missing" }]),
  },
  {
    cls: "TestAlertRules",
    name: "rule files are valid YAML",
    run: (ctx) => {
      const { rules, problems } = loadRules(ctx);
      return result(problems, `${rules.length} rules in ${ruleFiles(ctx.root).join(", ")}`);
    },
  },
  {
    cls: "TestAlertRules",
    name: "every alert carries a severity label",
    run: (ctx) =>
      withRules(
        ctx,
        (rules) =>
          result(labelProblems(rules), `${rules.filter((r) => r.rule?.alert).length} alerts`),
      ),
  },
  {
    cls: "TestAlertRules",
    name: "every alert carries team, summary, description, runbook (escalate if critical)",
    run: (ctx) => withRules(ctx, (rules) => result(metadataProblems(rules))),
  },
  {
    cls: "TestAlertRules",
    name: "every rule's PromQL parses",
    run: (ctx) =>
      withRules(
        ctx,
        (rules) => result(rulePromqlProblems(rules, null), `${rules.length} expressions`),
      ),
  },
  {
    cls: "TestAlertRules",
    name: "metric catalog is well formed (exporter named, no duplicates)",
    run: (ctx) => {
      if (!exists(join(ctx.root, CATALOG))) {
        return fail([{ file: CATALOG, message: "file is missing" }]);
      }
      let src: YamlSource;
      try {
        src = readYaml(ctx.root, CATALOG);
        parseCatalog(src.text, CATALOG);
      } catch (err) {
        if (err instanceof SourceError) return fail(err.problems);
        return fail([{ file: CATALOG, message: (err as Error).message.replace(/^[^:]*: /, "") }]);
      }
      const doc = src.docs[0]?.toJS() ?? {};
      const problems: Problem[] = [];
      const seen = new Map<string, string>();
      const types = new Set(["counter", "gauge", "histogram", "summary", "info", "stateset"]);
      for (const list of ["emitted", "metrics"] as const) {
        (doc[list] ?? []).forEach((e: Json, i: number) => {
          const line = lineAt(src, [list, i]);
          if (seen.has(e.name)) {
            problems.push({
              file: CATALOG,
              line,
              message: `${e.name} is listed twice (also in ${seen.get(e.name)})`,
            });
          }
          seen.set(e.name, list);
          if (!types.has(e.type)) {
            problems.push({ file: CATALOG, line, message: `${e.name}: unknown type '${e.type}'` });
          }
          if (isRecordingRuleName(e.name)) {
            problems.push({
              file: CATALOG,
              line,
              message: `${e.name} looks like a recording rule; rules define those`,
            });
          }
        });
      }
      return result(problems, `${seen.size} families`);
    },
  },
  {
    cls: "TestAlertRules",
    name: "every metric a rule queries is emitted or catalogued",
    run: (ctx) =>
      withRules(ctx, (rules) =>
        withCatalog(ctx, (known) =>
          result(
            rulePromqlProblems(rules, known).filter((p) => !/syntax error/.test(p.message)),
            `${known.size} known families`,
          ))),
  },
  {
    cls: "TestAlertRules",
    name: "alert dashboard links point to shipped dashboards",
    run: (ctx) =>
      withRules(ctx, (rules) => {
        const uids = new Set<string>();
        for (const rel of listFiles(ctx.root, "dashboards", /\.json$/)) {
          try {
            const uid = JSON.parse(Deno.readTextFileSync(join(ctx.root, rel)))?.uid;
            if (typeof uid === "string") uids.add(uid);
          } catch { /* reported by TestGrafanaDashboard */ }
        }
        const problems: Problem[] = [];
        for (const r of rules) {
          const link = r.rule?.annotations?.dashboard;
          if (!r.rule?.alert || typeof link !== "string") continue;
          const uid = /\/d\/([^/?#\s]+)/.exec(link)?.[1];
          if (!uid || !uids.has(uid)) {
            problems.push({
              file: r.src.file,
              line: lineOf(r, "annotations", "dashboard"),
              message: `alert ${r.rule.alert} links to dashboard '${
                uid ?? link
              }', which no dashboards/*.json has as uid`,
            });
          }
        }
        return result(problems, `uids: ${[...uids].sort().join(", ")}`);
      }),
  },
  {
    cls: "TestAlertRules",
    name: "the SLA alerts' thresholds are config/slo.yaml's objectives",
    run: (ctx) =>
      withRules(ctx, () => {
        let drift;
        try {
          const cfg = parseSloConfig(Deno.readTextFileSync(join(ctx.root, SLO_CONFIG)), SLO_CONFIG);
          drift = slaThresholdDrift(cfg, Deno.readTextFileSync(join(ctx.root, ALERT_RULES)));
        } catch (err) {
          return fail([{ file: SLO_CONFIG, message: (err as Error).message }]);
        }
        return result(
          drift.map((d) => ({
            file: ALERT_RULES,
            message: `${d.alert}: expected ${d.expected} (from ${SLO_CONFIG}), found ${
              d.found ?? "nothing"
            }`,
          })),
          "SLAViolation, ServiceDegraded, HighP95Latency",
        );
      }),
  },
  {
    cls: "TestAlertRules",
    name: "promtool check rules",
    run: (ctx) =>
      withRules(
        ctx,
        () =>
          promtoolOutcome(
            ctx,
            ALERT_RULES,
            ["check", "rules", ...ruleFiles(ctx.root)],
            "promtool: SUCCESS",
          ),
      ),
  },
  {
    cls: "TestAlertRules",
    name: "promtool test rules",
    run: (ctx) =>
      withRules(ctx, () => {
        const tests = ruleTestFiles(ctx.root);
        if (tests.length === 0) {
          return fail([{ file: "rules/", message: "no *.test.yaml promtool unit tests" }]);
        }
        return promtoolOutcome(
          ctx,
          tests[0],
          ["test", "rules", ...tests],
          `promtool: SUCCESS (${tests.join(", ")})`,
        );
      }),
  },
  {
    cls: "TestAlertRules",
    name: "every alert has a firing and a silent test case",
    run: (ctx) =>
      withRules(ctx, (rules) => {
        let cases = 0;
        for (const rel of ruleTestFiles(ctx.root)) {
          try {
            const doc = readYaml(ctx.root, rel).docs[0]?.toJS();
            for (const t of doc?.tests ?? []) cases += (t?.alert_rule_test ?? []).length;
          } catch { /* reported by coverageProblems */ }
        }
        const alerts = rules.filter((r) => r.rule?.alert).length;
        return result(coverageProblems(ctx, rules), `${cases} alert cases for ${alerts} alerts`);
      }),
  },
  {
    cls: "TestAlertRules",
    name: "pint lint (offline)",
    run: (ctx) =>
      withRules(ctx, async () => {
        const bin = ctx.findTool("pint");
        if (!bin) {
          const why = UNAVAILABLE_LINTERS.find((l) => l.component === "pint");
          if (why) return skip(`pint not installed: ${why.reason}`);
          return missingTool(ctx, ALERT_RULES, "pint", "run 'deno task tools'");
        }
        const { code, output } = await runTool(bin, ["--offline", "lint", ...ruleFiles(ctx.root)], {
          cwd: ctx.root,
        });
        if (code === 0) return result([], "pint: no problems");
        return fail([{
          file: ALERT_RULES,
          message: `pint: ${output.trim().split("\n").slice(0, 4).join(" | ")}`,
        }]);
      }),
  },
];
