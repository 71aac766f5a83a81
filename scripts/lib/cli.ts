/**
 * Command-line plumbing shared by every script: flag parsing with `--help`,
 * and the exit-code contract (docs/architecture.md: 0 ok, 1 a check failed, 2 bad
 * usage/input or a missing prerequisite). Errors print one line, never a
 * stack trace (set OBSKIT_DEBUG=1 to see one).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { redactSecrets } from "./redact.ts";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad flags or input: exit 2 with the message. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A prerequisite (a tool, a cluster, a running service) is missing: exit 2, say how to get it. */
export class MissingPrerequisite extends Error {
  override name = "MissingPrerequisite";
  constructor(what: string, readonly fix: string) {
    super(`${what} (${fix})`);
  }
}

/** A check, gate or verification failed: exit 1. */
export class CheckFailed extends Error {
  override name = "CheckFailed";
}

export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[];
  /** One line for --help; `<value>` hint is taken from `valueName`. */
  description: string;
  valueName?: string;
}

export interface CommandSpec {
  /** The `deno task` name, e.g. "run-app". */
  name: string;
  summary: string;
  /** Usage line after the task name, e.g. "[--port N]". */
  usage?: string;
  flags: Record<string, FlagSpec>;
  /** Extra text after the flag list (examples, environment variables). */
  epilog?: string;
  allowPositionals?: boolean;
}

export function helpText(spec: CommandSpec): string {
  const lines = [
    `${spec.summary}`,
    "",
    `Usage: deno task ${spec.name} ${spec.usage ?? "[options]"}`.trimEnd(),
    "",
    "Options:",
  ];
  const rows: [string, string][] = Object.entries(spec.flags).map(([name, f]) => {
    const short = f.short ? `-${f.short}, ` : "    ";
    const value = f.type === "string" ? ` <${f.valueName ?? "value"}>` : "";
    const dflt = f.default !== undefined && f.default !== false && f.type === "string"
      ? ` (default: ${Array.isArray(f.default) ? f.default.join(",") : f.default})`
      : "";
    return [`  ${short}--${name}${value}`, f.description + dflt];
  });
  rows.push(["  -h, --help", "show this help and exit"]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  for (const [l, r] of rows) lines.push(l.padEnd(width) + r);
  if (spec.epilog) lines.push("", spec.epilog.trimEnd());
  return lines.join("\n");
}

export interface Parsed<T> {
  flags: T;
  positionals: string[];
}

/**
 * Parses `args` against `spec`. `--help` prints the help and exits 0; an
 * unknown flag or a missing value throws UsageError.
 */
export function parseFlags<T = Record<string, string | boolean | string[] | undefined>>(
  spec: CommandSpec,
  args: string[] = Deno.args,
): Parsed<T> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(helpText(spec));
    Deno.exit(EXIT_OK);
  }
  const options: ParseArgsConfig["options"] = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = {
      type: f.type,
      ...(f.short ? { short: f.short } : {}),
      ...(f.multiple ? { multiple: true } : {}),
      ...(f.default !== undefined ? { default: f.default } : {}),
    } as NonNullable<ParseArgsConfig["options"]>[string];
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options,
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
    return { flags: values as T, positionals };
  } catch (err) {
    throw new UsageError(
      `${usageMessage((err as Error).message)}; see 'deno task ${spec.name} --help'`,
    );
  }
}

/**
 * node:util's parse errors are long, mention its own API and end in a
 * period; say the same thing in our words.
 */
function usageMessage(raw: string): string {
  const first = raw.split("\n")[0];
  let m = /^Option '(--[\w-]+)'.* argument is ambiguous/.exec(first);
  if (m) return `${m[1]} needs a value (a value starting with '-' is written ${m[1]}=-5)`;
  m = /^Option '(--[\w-]+)[^']*' argument missing/.exec(first);
  if (m) return `${m[1]} needs a value`;
  m = /^Unknown option '([^']+)'/.exec(first);
  if (m) return `unknown option ${m[1]}`;
  m = /^Unexpected argument '([^']*)'/.exec(first);
  if (m) return `unexpected argument '${m[1]}'`;
  return first.replace(/\.$/, "");
}

/** Parses a positive integer flag value, naming the flag in the error. */
export function intFlag(name: string, raw: string | undefined, min = 1, max = 65535): number {
  if (raw === undefined) throw new UsageError(`--${name} needs a value`);
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a whole number, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`--${name} must be ${min}..${max}, got ${n}`);
  return n;
}

/** Parses a duration like 500ms, 10s, 5m, 1h (or plain seconds). */
export function durationFlag(name: string, raw: string | undefined): number {
  if (raw === undefined) throw new UsageError(`--${name} needs a value`);
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) throw new UsageError(`--${name} must be a duration like 30s or 5m, got '${raw}'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms"];
  const ms = Number(m[1]) * unit;
  if (!(ms > 0)) throw new UsageError(`--${name} must be greater than zero`);
  return ms;
}

/**
 * Runs a script's main function and maps errors to the exit-code contract.
 * `main` may return an exit code; thrown errors become one line on stderr.
 */
export async function runMain(main: () => Promise<number | void> | number | void): Promise<never> {
  let code: number = EXIT_OK;
  try {
    code = (await main()) ?? EXIT_OK;
  } catch (err) {
    code = exitCodeFor(err);
    const msg = err instanceof Error ? err.message : String(err);
    // Messages often quote a URL or a server's answer: never with credentials.
    console.error(`error: ${redactSecrets(msg)}`);
    if (debugEnabled()) console.error(err);
  }
  Deno.exit(code);
}

/** OBSKIT_DEBUG=1 shows stack traces; a task without env permission simply has none. */
function debugEnabled(): boolean {
  try {
    return Boolean(Deno.env.get("OBSKIT_DEBUG"));
  } catch {
    return false;
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof MissingPrerequisite) return EXIT_USAGE;
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    return EXIT_USAGE;
  }
  return EXIT_FAILED;
}

/**
 * An `up` (stack, control plane) was interrupted by a signal; what it had
 * started is stopped again and named here.
 */
export class Interrupted extends Error {
  override name = "Interrupted";
  constructor(readonly stopped: string[]) {
    super(
      `interrupted; stopped what this 'up' had started${
        stopped.length ? ` (${stopped.join(", ")})` : " (nothing yet)"
      }`,
    );
  }
}
