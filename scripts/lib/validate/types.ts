/**
 * The shape of a validate check. A check belongs to a class (the chapter's
 * TestOTELCollector, TestGrafanaDashboard, TestAlertRules,
 * TestInstrumentedApp) and returns pass, fail (with problems naming file and
 * line) or skip (a real tool is missing; CI turns that into a failure).
 */
import type { Problem } from "./source.ts";
import { join } from "node:path";

export const CHECK_CLASSES = [
  "TestOTELCollector",
  "TestGrafanaDashboard",
  "TestAlertRules",
  "TestInstrumentedApp",
] as const;
export type CheckClass = typeof CHECK_CLASSES[number];

export type Status = "pass" | "fail" | "skip";

export interface Outcome {
  status: Status;
  /** One line: what was checked (pass), why it was skipped (skip). */
  reason?: string;
  problems?: Problem[];
}

export interface ValidateContext {
  /** The folder validated (the repository, or a copy of it in tests). */
  root: string;
  /** CI=true: a missing real tool fails instead of skipping. */
  ci: boolean;
  /** Finds a real tool (toolsDir()/bin, then PATH). */
  findTool(name: string): string | null;
  /** Memo shared by the checks of one run (parsed files). */
  memo: Map<string, unknown>;
}

export interface Check {
  cls: CheckClass;
  name: string;
  run(ctx: ValidateContext): Outcome | Promise<Outcome>;
}

export const pass = (reason?: string): Outcome => ({ status: "pass", reason });
export const fail = (problems: Problem[]): Outcome => ({ status: "fail", problems });
export const skip = (reason: string): Outcome => ({ status: "skip", reason });
export const result = (problems: Problem[], reason?: string): Outcome =>
  problems.length ? fail(problems) : pass(reason);

/** Memoises `make()` under `key` for the duration of one validate run. */
export function memo<T>(ctx: ValidateContext, key: string, make: () => T): T {
  if (!ctx.memo.has(key)) {
    try {
      ctx.memo.set(key, { ok: make() });
    } catch (err) {
      ctx.memo.set(key, { err });
    }
  }
  const v = ctx.memo.get(key) as { ok?: T; err?: unknown };
  if ("err" in v) throw v.err;
  return v.ok as T;
}

/** Runs a program, returning exit code and combined output. */
export async function runTool(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs ?? 120_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** A missing tool: skip outside CI, fail in CI (the rule of tests/support.ts). */
export function missingTool(
  ctx: ValidateContext,
  file: string,
  tool: string,
  fix: string,
): Outcome {
  const msg = `${tool} not found (${fix})`;
  return ctx.ci
    ? fail([{ file, message: `CI=true and a real component is missing: ${msg}` }])
    : skip(msg);
}

export interface TypeScriptError {
  /** e.g. "TS2353" */
  code: string;
  message: string;
  /** 1-based line in the checked text */
  line: number;
}

/**
 * Type-checks generated TypeScript with `deno check` in a temporary file
 * (no config, no lock) and returns the exit code, the raw output and the
 * errors with their lines. Used where a published type is the schema.
 */
export async function denoCheckSource(
  name: string,
  text: string,
): Promise<{ code: number; output: string; errors: TypeScriptError[] }> {
  const dir = Deno.makeTempDirSync({ prefix: `obskit-${name}-` });
  const file = join(dir, `${name}.ts`);
  try {
    Deno.writeTextFileSync(file, text);
    const { code, output } = await runTool(
      Deno.execPath(),
      ["check", "--no-config", "--no-lock", "-q", file],
      { env: { NO_COLOR: "1" }, timeoutMs: 180_000 },
    );
    // "TS2353 [ERROR]: message\n ...\n    at file:///.../x.ts:LINE:COL"
    const re = /(TS\d+) \[ERROR\]: ([^\n]*)[\s\S]*?at file:\/\/[^\n]*?:(\d+):\d+/g;
    const errors = [...output.matchAll(re)].map((m) => ({
      code: m[1],
      message: m[2],
      line: Number(m[3]),
    }));
    return { code, output, errors };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
