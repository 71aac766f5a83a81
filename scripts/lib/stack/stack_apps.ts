/**
 * The chapter's apps next to the local stack (for `deno task demo` and the
 * end-to-end tests): started as background processes with the same Deno
 * permissions as their `deno task` lines, pointed at the stack's collector,
 * and recorded in the stack's state so `stack down` stops them too.
 */
import { join } from "node:path";
import { CheckFailed } from "../cli.ts";
import { isListening } from "../net.ts";
import { REPO_ROOT, repoPath, stateDir } from "../paths.ts";
import { describeHolder, portHolder, spawnDetached, stopProcess, tailFile } from "../process.ts";
import { type AppName, forgetProcess, readState, recordProcess, type StackPorts } from "./mod.ts";

/**
 * `deno run` arguments of a deno.json task ("run-app" →
 * [--allow-net, ..., apps/instrument_app.ts]) so a spawned app has exactly
 * the task's permissions.
 */
export function taskRunArgs(task: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(repoPath("deno.json"))) as {
    tasks: Record<string, string>;
  };
  const line = config.tasks[task];
  if (!line) throw new Error(`deno.json has no task '${task}'`);
  const words = line.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new Error(`task '${task}' is not a 'deno run' line: ${line}`);
  }
  return words.slice(1).map((
    w,
  ) => (w.endsWith(".ts") && !w.startsWith("/") ? join(REPO_ROOT, w) : w));
}

/** Environment that points an app at the stack's collector. */
export function appEnv(
  ports: StackPorts,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.otlpHttp}`,
    // OTLP metrics every 5 s instead of 10 s, so exported metrics show up quickly.
    OTEL_METRIC_EXPORT_INTERVAL: "5000",
    DEPLOYMENT_ENV: "local",
    NO_COLOR: "1",
    ...extra,
  };
}

const APPS: Record<AppName, { task: string; port: (p: StackPorts) => number }> = {
  "instrumented-app": { task: "run-app", port: (p) => p.app },
  "metrics-pull": { task: "run-pull", port: (p) => p.pull },
};

/**
 * Starts one app on its stack port (127.0.0.1), waits for /health, and
 * records it in the stack state. Already running (recorded and healthy):
 * left alone.
 */
export async function startApp(
  name: AppName,
  ports: StackPorts,
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ pid: number; started: boolean }> {
  const port = APPS[name].port(ports);
  const health = `http://127.0.0.1:${port}/health`;
  const rec = readState()?.components[name];
  if (rec && await isListening(port)) {
    try {
      const res = await fetch(health, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.ok) return { pid: rec.pid, started: false };
    } catch { /* restart below */ }
  }
  if (await isListening(port)) {
    const h = await portHolder(port);
    throw new CheckFailed(
      `port ${port} (needed by ${name}) is already in use by ${
        h ? describeHolder(h) : "another process"
      }; ` +
        `pick another with --${name === "metrics-pull" ? "pull" : "app"}-port`,
    );
  }
  const logFile = join(stateDir(), "logs", `${name}.log`);
  Deno.mkdirSync(join(stateDir(), "logs"), { recursive: true });
  const args = [...taskRunArgs(APPS[name].task), "--port", String(port), "--host", "127.0.0.1"];
  const proc = await spawnDetached({
    cmd: Deno.execPath(),
    args,
    env: appEnv(ports, opts.env),
    logFile,
    cwd: REPO_ROOT,
  });
  recordProcess({
    name,
    pid: proc.pid,
    startTime: proc.startTime,
    port,
    ports: [port],
    healthUrl: health,
    logFile,
    command: [Deno.execPath(), ...args],
    startedAt: new Date().toISOString(),
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    try {
      const res = await fetch(health, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return { pid: proc.pid, started: true };
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stopProcess(proc.pid, proc.startTime);
  forgetProcess(name);
  throw new CheckFailed(
    `${name} (port ${port}) did not answer ${health}; last lines of ${logFile}:\n${
      tailFile(logFile, 10)
    }`,
  );
}

export interface PushResult {
  code: number;
  traceId: string | null;
  output: string;
}

/** Runs the push demo (phase 6) against the stack's collector; returns its trace id. */
export async function runPush(ports: StackPorts, extraArgs: string[] = []): Promise<PushResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...taskRunArgs("run-push"), ...extraArgs],
    env: appEnv(ports),
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const m = /Trace ID:\s*([0-9a-f]{32})/i.exec(output);
  return { code: out.code, traceId: m ? m[1].toLowerCase() : null, output };
}
