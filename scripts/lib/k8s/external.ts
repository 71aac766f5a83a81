/**
 * External commands (kubectl, helm) for the Kubernetes phases: preflight
 * (tool on PATH and its version, the kube context, whether the cluster
 * answers), running a command with streamed output and a timeout, and a
 * dry-run mode that prints the exact command lines instead of running them.
 * Every error says what to do next.
 */
import { isAbsolute, relative } from "node:path";
import { CheckFailed, MissingPrerequisite } from "../cli.ts";
import { REPO_ROOT } from "../paths.ts";

/** How to get each tool the Kubernetes phases drive. */
export const INSTALL_HINTS: Record<string, string> = {
  kubectl:
    "install kubectl: https://kubernetes.io/docs/tasks/tools/ (Debian/Ubuntu: apt-get install kubernetes-client; macOS: brew install kubectl)",
  helm:
    "install helm 3: https://helm.sh/docs/intro/install/ (macOS: brew install helm; or 'go install helm.sh/helm/v3/cmd/helm@latest')",
};

/** Arguments for `--context` on kubectl and `--kube-context` on helm. */
export interface KubeTarget {
  /** kube context to use; undefined = the current context. */
  context?: string;
}

export function kubectlArgs(target: KubeTarget, ...args: string[]): string[] {
  return ["kubectl", ...(target.context ? ["--context", target.context] : []), ...args];
}

export function helmArgs(target: KubeTarget, ...args: string[]): string[] {
  return ["helm", ...(target.context ? ["--kube-context", target.context] : []), ...args];
}

/** Quotes one argument for a POSIX shell, only when it needs it. */
export function shellQuote(arg: string): string {
  if (arg !== "" && /^[A-Za-z0-9_@%+=:,./{}\[\]-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The exact command line, copy-pasteable into a POSIX shell. */
export function commandLine(cmd: string[]): string {
  return cmd.map(shellQuote).join(" ");
}

/** A path as the user should see it: relative to the repository when inside it. */
export function displayPath(path: string): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(REPO_ROOT, path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

export interface RunOptions {
  /** Kill the command after this many milliseconds (default 5 minutes). */
  timeoutMs?: number;
  /** Capture output without echoing it (for JSON, secrets). */
  quiet?: boolean;
  /** The output is a secret: never put it in an error message. */
  secret?: boolean;
  /** Data for the command's stdin. */
  stdin?: string;
  /** One line printed after the command line in dry-run (as a shell comment). */
  note?: string;
  /** What to tell the user when the command fails. */
  hint?: string;
  /** Exit codes that are not a failure (default [0]). */
  okCodes?: number[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Where a Runner writes its progress lines. Tests pass a collector. */
export type Printer = (line: string) => void;

const defaultPrinter: Printer = (line) => console.log(line);

/**
 * Runs external commands, or in dry-run prints them. Commands run with the
 * repository as working directory, so relative paths in command lines (as
 * printed in dry-run) are the ones used for real.
 */
export class Runner {
  /** True when printing to a terminal's stdout and stderr (a spinner may redraw). */
  readonly interactive: boolean;
  constructor(
    readonly dryRun: boolean,
    readonly print: Printer = defaultPrinter,
    readonly cwd: string = REPO_ROOT,
  ) {
    this.interactive = print === defaultPrinter && Deno.stdout.isTerminal() &&
      Deno.stderr.isTerminal();
  }

  /** Prints a comment line (prefixed `# ` so dry-run output stays a valid shell script). */
  say(text: string): void {
    this.print(`# ${text}`);
  }

  /** Runs `cmd`, streaming its output unless quiet; throws CheckFailed on failure. */
  async run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (this.dryRun) {
      this.print(commandLine(cmd) + (opts.note ? `   # ${opts.note}` : ""));
      return { code: 0, stdout: "", stderr: "", timedOut: false };
    }
    const result = await execute(cmd, { ...opts, cwd: this.cwd, echo: !opts.quiet });
    const ok = (opts.okCodes ?? [0]).includes(result.code) && !result.timedOut;
    if (!ok) throw commandFailure(cmd, result, opts);
    return result;
  }
}

function commandFailure(cmd: string[], r: RunResult, opts: RunOptions): CheckFailed {
  const what = `'${commandLine(cmd.slice(0, 4))}${cmd.length > 4 ? " ..." : ""}'`;
  const last = lastLine(r.stderr) || (opts.secret ? "" : lastLine(r.stdout));
  const why = r.timedOut
    ? `timed out after ${formatMs(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)}`
    : `exited with code ${r.code}${last && opts.quiet ? `: ${last}` : ""}`;
  return new CheckFailed(`${what} ${why}${opts.hint ? `; ${opts.hint}` : ""}`);
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}

export function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/**
 * Spawns a command, streams (echo) and captures its output, enforces a
 * timeout (SIGTERM, then SIGKILL after 3 s). A missing executable becomes
 * MissingPrerequisite with the install hint.
 */
export async function execute(
  cmd: string[],
  opts: RunOptions & { cwd?: string; echo?: boolean } = {},
): Promise<RunResult> {
  const [program, ...args] = cmd;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      cwd: opts.cwd ?? REPO_ROOT,
      stdin: opts.stdin !== undefined ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new MissingPrerequisite(
        `${program} is not on PATH`,
        INSTALL_HINTS[program] ?? `install ${program}`,
      );
    }
    throw err;
  }
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    killTimer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 3000);
  }, timeoutMs);
  const [stdout, stderr, status] = await Promise.all([
    pump(child.stdout, opts.echo ? Deno.stdout : null),
    pump(child.stderr, opts.echo ? Deno.stderr : null),
    child.status,
  ]);
  clearTimeout(timer);
  clearTimeout(killTimer);
  return { code: status.code, stdout, stderr, timedOut };
}

/** Reads a stream to the end, optionally echoing each chunk as it arrives. */
async function pump(
  stream: ReadableStream<Uint8Array>,
  echo: { writeSync(p: Uint8Array): number } | null,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    if (echo) writeAll(echo, chunk);
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

function writeAll(w: { writeSync(p: Uint8Array): number }, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += w.writeSync(data.subarray(off));
}

// ---------------------------------------------------------------------------
// Preflight

/** The tool's version line, e.g. "v1.32.4" for kubectl, "v3.16.2+g..." for helm. */
export async function toolVersion(tool: string): Promise<string> {
  const args = tool === "kubectl"
    ? ["kubectl", "version", "--client", "-o", "json"]
    : tool === "helm"
    ? ["helm", "version", "--short"]
    : [tool, "--version"];
  const r = await execute(args, { timeoutMs: 15_000 });
  if (r.code !== 0) {
    throw new MissingPrerequisite(
      `'${commandLine(args)}' failed (${lastLine(r.stderr) || `exit ${r.code}`})`,
      INSTALL_HINTS[tool] ?? `reinstall ${tool}`,
    );
  }
  if (tool === "kubectl") {
    try {
      return JSON.parse(r.stdout).clientVersion.gitVersion as string;
    } catch {
      return lastLine(r.stdout);
    }
  }
  return lastLine(r.stdout);
}

/** Parses "v3.16.2+gabc" or "v1.32.4-dispatcher" into [major, minor]. */
export function majorMinor(version: string): [number, number] | null {
  const m = /v?(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The kube context kubectl will use (the given one, or the current one). */
export async function kubeContext(target: KubeTarget): Promise<string> {
  if (target.context) return target.context;
  const r = await execute(["kubectl", "config", "current-context"], { timeoutMs: 15_000 });
  const name = r.stdout.trim();
  if (r.code !== 0 || !name) {
    throw new MissingPrerequisite(
      "kubectl has no current context",
      "point kubectl at a cluster: 'kind create cluster', or set KUBECONFIG, or 'kubectl config use-context NAME', or pass --context NAME",
    );
  }
  return name;
}

/** Asks the API server's /readyz; a cluster that does not answer is a missing prerequisite. */
export async function checkClusterAnswers(target: KubeTarget, context: string): Promise<void> {
  const args = kubectlArgs(target, "get", "--raw", "/readyz", "--request-timeout=10s");
  const r = await execute(args, { timeoutMs: 20_000 });
  if (r.code !== 0 || r.timedOut) {
    const why = lastLine(r.stderr) || (r.timedOut ? "no answer in 20s" : `exit ${r.code}`);
    throw new MissingPrerequisite(
      `the cluster of kube context '${context}' does not answer (${why})`,
      "start the cluster (e.g. 'kind create cluster', or restart Docker for kind), or choose another with --context NAME",
    );
  }
}

export interface PreflightOptions extends KubeTarget {
  tools: string[];
  /** Minimum [major, minor] per tool. */
  minVersions?: Record<string, [number, number]>;
}

/**
 * Tools on PATH with a usable version (asked by running them, so no read
 * access to PATH folders is needed), a kube context, and a cluster that
 * answers. In dry-run, reports tools as comments and never fails.
 */
export async function preflight(runner: Runner, opts: PreflightOptions): Promise<void> {
  for (const tool of opts.tools) {
    let version: string;
    try {
      version = await toolVersion(tool);
    } catch (err) {
      if (!runner.dryRun) throw err;
      runner.say(`preflight: ${(err as Error).message}`);
      continue;
    }
    const min = opts.minVersions?.[tool];
    const mm = majorMinor(version);
    if (min && mm && (mm[0] < min[0] || (mm[0] === min[0] && mm[1] < min[1]))) {
      const err = new MissingPrerequisite(
        `${tool} ${version} is too old (need ${min[0]}.${min[1]} or newer)`,
        INSTALL_HINTS[tool] ?? `upgrade ${tool}`,
      );
      if (!runner.dryRun) throw err;
      runner.say(`preflight: ${err.message}`);
      continue;
    }
    runner.say(`preflight: ${tool} ${version}`);
  }
  if (runner.dryRun) {
    runner.say(
      `preflight (not run in dry run): kube context ${
        opts.context ?? "(current)"
      } and its cluster answering /readyz`,
    );
    return;
  }
  if (opts.tools.includes("kubectl")) {
    const context = await kubeContext(opts);
    await checkClusterAnswers(opts, context);
    runner.say(`preflight: kube context '${context}' answers`);
  }
}
