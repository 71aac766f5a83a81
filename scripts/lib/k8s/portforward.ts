/**
 * Background processes with pid files under stateDir(): the `kubectl
 * port-forward`s of phases 0 and 1. Starting is idempotent (a live forward
 * with the same command line is reused), `stop` is idempotent (nothing
 * running is fine). Liveness and stopping go through `ps` and `kill`, so
 * the scripts need only `--allow-run=kubectl,helm,ps,kill`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CheckFailed, UsageError } from "../cli.ts";
import {
  commandLine,
  displayPath,
  execute,
  kubectlArgs,
  type KubeTarget,
  Runner,
} from "./external.ts";
import { isListening } from "../net.ts";
import { stateDir } from "../paths.ts";

export interface Forward {
  /** Short name: the pid file is portforward-<name>.pid. */
  name: string;
  namespace: string;
  /** e.g. "svc/monitoring-grafana". */
  resource: string;
  /** [local, remote] port pairs. */
  ports: [number, number][];
  /** The command that stops it, for messages. */
  stopWith: string;
}

export function forwardCommand(target: KubeTarget, f: Forward): string[] {
  return kubectlArgs(
    target,
    "port-forward",
    "--namespace",
    f.namespace,
    "--address",
    "127.0.0.1",
    f.resource,
    ...f.ports.map(([local, remote]) => `${local}:${remote}`),
  );
}

export function pidFile(name: string): string {
  return join(stateDir(), `portforward-${name}.pid`);
}

interface PidRecord {
  pid: number;
  cmd: string[];
}

function readPid(file: string): PidRecord | null {
  if (!existsSync(file)) return null;
  try {
    const rec = JSON.parse(readFileSync(file, "utf8")) as PidRecord;
    return Number.isInteger(rec.pid) && Array.isArray(rec.cmd) ? rec : null;
  } catch {
    return null;
  }
}

/** True when `pid` is alive and its command line is `cmd` (guards against pid reuse). */
export async function isRunning(pid: number, cmd: string[]): Promise<boolean> {
  const r = await execute(["ps", "-o", "args=", "-p", String(pid)], { timeoutMs: 10_000 });
  if (r.code !== 0) return false;
  const args = r.stdout.trim();
  // ps shows the program as it was started (maybe a full path): compare the arguments.
  return args.endsWith(cmd.slice(1).join(" ")) && args.includes(cmd[0]);
}

/**
 * True when `pid` has exited: no such process, or a zombie with no thread
 * left. (An exiting process loses its command line before it closes its
 * files, so "its command line no longer matches" is not yet "its ports are
 * free".)
 */
export async function isGone(pid: number): Promise<boolean> {
  const r = await execute(["ps", "-o", "stat=", "-p", String(pid)], { timeoutMs: 10_000 });
  const stat = r.stdout.trim();
  // "Zl": the main thread is a zombie but other threads still run (and hold the sockets).
  return r.code !== 0 || stat === "" || (stat.startsWith("Z") && !stat.includes("l"));
}

/**
 * Starts `cmd` in the background, writes its pid file, and waits until
 * `ready()` is true. A live process recorded with the same command is
 * reused. Returns "started" or "running".
 */
export async function startBackground(
  runner: Runner,
  name: string,
  cmd: string[],
  ready: () => Promise<boolean>,
  readyTimeoutMs = 30_000,
  stopWith = "--stop",
): Promise<"started" | "running"> {
  const file = pidFile(name);
  if (runner.dryRun) {
    runner.print(
      `${commandLine(cmd)} &   # background; pid in ${displayPath(file)}; stop: ${stopWith}`,
    );
    return "started";
  }
  const rec = readPid(file);
  if (rec && commandLine(rec.cmd) === commandLine(cmd) && await isRunning(rec.pid, cmd)) {
    runner.say(`${name}: already running (pid ${rec.pid})`);
    return "running";
  }
  if (rec) await stopBackground(runner, name);
  if (await ready()) {
    throw new UsageError(
      `${name}: the local port is already in use by another process; stop it or choose another port with the port flag (see --help)`,
    );
  }
  mkdirSync(dirname(file), { recursive: true });
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    // Not piped: the process outlives this script, and a Go program writing
    // to a closed pipe dies of SIGPIPE.
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  let exited: Deno.CommandStatus | null = null;
  child.status.then((s) => exited = s);
  writeFileSync(file, JSON.stringify({ pid: child.pid, cmd }) + "\n");
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (exited) break;
    if (await ready()) {
      runner.say(`${name}: started (pid ${child.pid}; stop: ${stopWith})`);
      return "started";
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const status = exited as Deno.CommandStatus | null;
  rmSync(file, { force: true });
  if (!status) {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
  }
  throw new CheckFailed(
    `${name}: '${commandLine(cmd)}' ${
      status ? `exited with code ${status.code}` : `was not ready within ${readyTimeoutMs / 1000}s`
    }; run that command by hand to see why (is the service deployed and its pods Ready?)`,
  );
}

/** Stops the process recorded under `name`; true when one was stopped. */
export async function stopBackground(runner: Runner, name: string): Promise<boolean> {
  const file = pidFile(name);
  const rec = readPid(file);
  if (!rec) {
    runner.say(`${name}: not running (no ${displayPath(file)})`);
    return false;
  }
  if (runner.dryRun) {
    runner.print(`kill ${rec.pid}   # ${name}, from ${displayPath(file)}`);
    return true;
  }
  let stopped = false;
  if (await isRunning(rec.pid, rec.cmd)) {
    const r = await execute(["kill", "-TERM", String(rec.pid)], { timeoutMs: 10_000 });
    stopped = r.code === 0;
    for (let i = 0; i < 50 && !await isGone(rec.pid); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  rmSync(file, { force: true });
  runner.say(`${name}: ${stopped ? `stopped (pid ${rec.pid})` : "was not running"}`);
  return stopped;
}

/** Starts a kubectl port-forward; ready when every local port listens. */
export function startForward(
  runner: Runner,
  target: KubeTarget,
  f: Forward,
  readyTimeoutMs = 30_000,
): Promise<"started" | "running"> {
  const ready = async () => {
    for (const [local] of f.ports) if (!await isListening(local)) return false;
    return true;
  };
  return startBackground(
    runner,
    f.name,
    forwardCommand(target, f),
    ready,
    readyTimeoutMs,
    f.stopWith,
  );
}
