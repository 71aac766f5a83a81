/**
 * Test support for the Kubernetes/Grafana phases (used by tests/*_test.ts,
 * never by a script). Runs a task's script the way `deno task` does (same permissions, read
 * from deno.json), with a controlled PATH (so kubectl/helm are present or
 * absent on purpose), an isolated state folder and an empty kubeconfig:
 * no test ever reaches a real cluster.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, repoPath } from "./paths.ts";

/** The real tool on this machine's PATH, or null. */
export function onPath(tool: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return null;
}

/** `deno run` arguments of a task line in deno.json (flags and script). */
export function taskRunArgs(task: string): string[] {
  const tasks = JSON.parse(readFileSync(repoPath("deno.json"), "utf8")).tasks as Record<
    string,
    string
  >;
  const line = tasks[task];
  if (!line) throw new Error(`no task ${task} in deno.json`);
  const words = line.split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") throw new Error(`task ${task} is not 'deno run'`);
  return words.slice(1);
}

export interface Sandbox {
  dir: string;
  stateDir: string;
  /** PATH folder: empty unless tools are linked into it. */
  binDir: string;
  kubeconfig: string;
  cleanup(): void;
}

/**
 * A temp folder with state/, bin/ (linking the named real tools found here)
 * and a kubeconfig. `stateInRepo` puts the state folder under the
 * repository's .stack/ instead, where the tasks' --allow-write lets them write.
 */
export function sandbox(linkTools: string[] = [], opts: { stateInRepo?: boolean } = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "obskit-k8s-"));
  let stateDir = join(dir, "state");
  if (opts.stateInRepo) {
    mkdirSync(repoPath(".stack"), { recursive: true });
    stateDir = mkdtempSync(join(repoPath(".stack"), "k8s-test-"));
  } else mkdirSync(stateDir);
  const binDir = join(dir, "bin");
  mkdirSync(binDir);
  for (const t of linkTools) {
    const real = onPath(t);
    if (real) symlinkSync(real, join(binDir, t));
  }
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
  );
  return {
    dir,
    stateDir,
    binDir,
    kubeconfig,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      if (opts.stateInRepo) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface TaskResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runTask(
  task: string,
  args: string[],
  box: Sandbox,
  env: Record<string, string> = {},
): Promise<TaskResult> {
  const keep = ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"];
  const base: Record<string, string> = {};
  for (const k of keep) {
    const v = Deno.env.get(k);
    if (v !== undefined) base[k] = v;
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...taskRunArgs(task), ...args],
    cwd: REPO_ROOT,
    clearEnv: true,
    env: {
      ...base,
      PATH: box.binDir,
      OBSKIT_STATE_DIR: box.stateDir,
      KUBECONFIG: box.kubeconfig,
      NO_COLOR: "1",
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The command lines of a dry run: comment lines dropped, trailing `   # note` removed. */
export function commandLines(stdout: string): string[] {
  return stdout.split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => l.replace(/\s{3}# .*$/, ""));
}

/** Kubernetes/helm verbs that fail on a second run ("already exists"). */
export function nonIdempotent(lines: string[]): string[] {
  return lines.filter((l) =>
    /^helm( --kube-context \S+)? install\b/.test(l) ||
    /^kubectl( --context \S+)? create\b/.test(l) ||
    (/^helm( --kube-context \S+)? repo add\b/.test(l) && !l.includes("--force-update")) ||
    /^kubectl( --context \S+)? (replace|run|expose)\b/.test(l)
  );
}
