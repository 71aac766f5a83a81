/**
 * `deno task validate`: runs the checks of the chosen classes against a
 * folder (the repository by default), prints one line per check, or JSON.
 */
import { UsageError } from "../cli.ts";
import { REPO_ROOT } from "../paths.ts";
import { resolveTool } from "../tools/mod.ts";
import { collectorChecks } from "./collector.ts";
import { dashboardChecks } from "./dashboards.ts";
import { k8sChecks } from "./k8s.ts";
import { ruleChecks } from "./rules.ts";
import { formatProblem, listFiles, type Problem } from "./source.ts";
import {
  type Check,
  CHECK_CLASSES,
  type CheckClass,
  fail,
  type Outcome,
  result,
  runTool,
  type Status,
  type ValidateContext,
} from "./types.ts";

const appChecks: Check[] = [
  {
    cls: "TestInstrumentedApp",
    name: "app code type-checks (deno check apps/)",
    run: async (ctx) => {
      const files = listFiles(ctx.root, "apps", /\.ts$/);
      if (files.length === 0) return fail([{ file: "apps/", message: "no TypeScript files" }]);
      const { code, output } = await runTool(Deno.execPath(), ["check", "-q", ...files], {
        cwd: ctx.root,
        env: { NO_COLOR: "1" },
        timeoutMs: 300_000,
      });
      if (code === 0) return result([], `${files.length} files`);
      const problems: Problem[] = [];
      for (
        const m of output.matchAll(
          /(TS\d+) \[ERROR\]: ([^\n]*)[\s\S]*?at file:\/\/([^\n]*?):(\d+):\d+/g,
        )
      ) {
        const abs = m[3];
        const rel = abs.startsWith(ctx.root) ? abs.slice(ctx.root.length + 1) : abs;
        problems.push({ file: rel, line: Number(m[4]), message: `${m[1]} ${m[2]}` });
      }
      if (problems.length === 0) {
        problems.push({
          file: "apps/",
          message: output.trim().split("\n").slice(0, 3).join(" | "),
        });
      }
      return fail(problems);
    },
  },
];

export const ALL_CHECKS: Check[] = [
  ...collectorChecks,
  ...k8sChecks,
  ...dashboardChecks,
  ...ruleChecks,
  ...appChecks,
];

export interface CheckReport {
  class: CheckClass;
  name: string;
  status: Status;
  reason: string;
  problems: Problem[];
  ms: number;
}

export interface ValidateOptions {
  root?: string;
  classes?: string[];
  ci?: boolean;
  findTool?: (name: string) => string | null;
}

export function parseClasses(names: string[]): CheckClass[] {
  for (const n of names) {
    if (!(CHECK_CLASSES as readonly string[]).includes(n)) {
      throw new UsageError(`unknown check class '${n}'; one of ${CHECK_CLASSES.join(", ")}`);
    }
  }
  return names as CheckClass[];
}

export async function runValidate(opts: ValidateOptions = {}): Promise<CheckReport[]> {
  const classes = opts.classes?.length ? parseClasses(opts.classes) : [...CHECK_CLASSES];
  const ctx: ValidateContext = {
    root: opts.root ?? REPO_ROOT,
    ci: opts.ci ?? Deno.env.get("CI") === "true",
    findTool: opts.findTool ?? resolveTool,
    memo: new Map(),
  };
  const reports: CheckReport[] = [];
  for (const check of ALL_CHECKS.filter((c) => classes.includes(c.cls))) {
    const t0 = performance.now();
    let out: Outcome;
    try {
      out = await check.run(ctx);
    } catch (err) {
      out = fail([{ file: "(validate)", message: `check crashed: ${(err as Error).message}` }]);
    }
    reports.push({
      class: check.cls,
      name: check.name,
      status: out.status,
      reason: out.status === "fail"
        ? (out.problems ?? []).map(formatProblem).join("; ")
        : out.reason ?? "",
      problems: out.problems ?? [],
      ms: Math.round(performance.now() - t0),
    });
  }
  return reports;
}

const MARK: Record<Status, string> = { pass: "✔", fail: "✘", skip: "–" };

/**
 * One line per check under its class, then the totals. `verbose` (the
 * chapter's `-v`) adds each check's duration and every problem on a line of
 * its own (file:line: message) instead of one joined reason.
 */
export function formatReports(reports: CheckReport[], opts: { verbose?: boolean } = {}): string {
  const lines: string[] = [];
  let cls = "";
  for (const r of reports) {
    if (r.class !== cls) {
      cls = r.class;
      lines.push(cls);
    }
    const reason = r.reason
      ? (r.status === "skip" ? ` (skipped: ${r.reason})` : ` — ${r.reason}`)
      : "";
    if (!opts.verbose) {
      lines.push(`  ${MARK[r.status]} ${r.name}${reason}`);
      continue;
    }
    const why = r.status === "fail"
      ? ""
      : (r.reason ? ` (${r.status === "skip" ? "skipped: " : ""}${r.reason})` : "");
    lines.push(`  ${MARK[r.status]} ${r.name}${why} [${r.ms} ms]`);
    for (const p of r.problems) lines.push(`      ${formatProblem(p)}`);
  }
  const n = (s: Status) => reports.filter((r) => r.status === s).length;
  lines.push("", `${n("pass")} passed, ${n("fail")} failed, ${n("skip")} skipped`);
  return lines.join("\n");
}

export function exitCode(reports: CheckReport[]): number {
  return reports.some((r) => r.status === "fail") ? 1 : 0;
}
