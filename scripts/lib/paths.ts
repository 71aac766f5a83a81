/**
 * Where things live. The repository root is found from this file, so scripts
 * work from any working directory. Installed tools and local-stack state go
 * to git-ignored folders that CI may redirect (OBSKIT_TOOLS_DIR,
 * OBSKIT_STATE_DIR) to keep a cache between runs.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

/** Folder of installed real components (collector, jaeger, linters). */
export function toolsDir(): string {
  return Deno.env.get("OBSKIT_TOOLS_DIR") ?? repoPath(".tools");
}

/** Folder of local-stack pids, logs and data. */
export function stateDir(): string {
  return Deno.env.get("OBSKIT_STATE_DIR") ?? repoPath(".stack");
}
