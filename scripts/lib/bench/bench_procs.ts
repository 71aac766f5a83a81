/**
 * Processes a benchmark drives: the instrumented app in one of its variants
 * (started with `deno run` directly, so the pid we hold is the server's),
 * CPU time from /proc (per process and machine-wide, to report how busy the
 * shared machine was), and the collector, Jaeger and VictoriaLogs of a private local stack
 * on free ports (scripts/lib/stack/mod.ts with its own state folder).
 */
import { dirname, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { freePort, waitForHttp } from "../net.ts";
import { REPO_ROOT, toolsDir } from "../paths.ts";
import { readProc } from "../process.ts";
import { freePorts, readState, stackDown, stackUp } from "../stack/mod.ts";

// Deno asks for --allow-all to read /proc/<pid>/... directly; readProc falls
// back to `cat` (covered by --allow-run), so the bench task needs no -A.

/** Linux USER_HZ: /proc times are in 1/100 s. */
const TICK_MS = 10;

/** CPU time (user + system, all threads) of a process in ms, or null when it is gone. */
export async function processCpuMs(pid: number): Promise<number | null> {
  const stat = await readProc(`/proc/${pid}/stat`);
  if (stat === null) return null;
  try {
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 (utime) and 15 (stime) are rest[11] and rest[12].
    return (Number(rest[11]) + Number(rest[12])) * TICK_MS;
  } catch {
    return null;
  }
}

/** Machine-wide CPU time from /proc/stat in ms (busy and total, summed over cores). */
export async function machineCpuMs(): Promise<{ busy: number; total: number }> {
  const line = (await readProc("/proc/stat") ?? "cpu 0 0 0 0").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
}

export function cpuCount(): number {
  return navigator.hardwareConcurrency ?? 1;
}

/** How the app under test is started. */
export interface AppVariant {
  /** Short id used in the table and JSON, e.g. "off", "on", "on-10%". */
  name: string;
  description: string;
  instrumentation: "on" | "off";
  /** Extra environment (sampler, exporter endpoint, OTEL_DENO ...). */
  env?: Record<string, string>;
  /** Extra `deno run` flags placed before the script. */
  denoFlags?: string[];
  /** Another checkout's apps/instrument_app.ts (to compare code versions); run from its repo root. */
  script?: string;
  /**
   * A reference server instead of the app (REFERENCE_SERVERS); `instrumentation`
   * and `script` are then ignored. Default "app".
   */
  server?: "app" | ReferenceServer;
}

export interface RunningApp {
  variant: AppVariant;
  pid: number;
  url: string;
  cpuMs(): Promise<number | null>;
  stop(): Promise<void>;
}

export const APP_SCRIPT = join(REPO_ROOT, "apps", "instrument_app.ts");

/**
 * The bench's reference servers, each with the permissions it needs and no
 * more. Neither has /health (one route, like a hello world).
 */
const REFERENCE_SERVERS = {
  // Hono on Deno.serve, /api/data only, no app code (Deno's own OTel needs no permission).
  bare: { script: "bare_hono.ts", permissions: ["--allow-net"] },
  // The app's per-request telemetry by hand, exported to the variant's endpoint.
  floor: {
    script: "floor_app.ts",
    permissions: ["--allow-net", "--allow-env=OTEL_EXPORTER_OTLP_ENDPOINT"],
  },
};
type ReferenceServer = keyof typeof REFERENCE_SERVERS;
// The run-app task's permissions (deno.json), plus nothing else.
const APP_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-sys=hostname,osRelease,uid,networkInterfaces,loadavg,systemMemoryInfo,cpus",
  "--allow-read=/etc/os-release,/proc",
];

/**
 * Starts one app variant on `port` (127.0.0.1) and waits for /health. Its
 * JSON log lines go to /dev/null (each line is still formatted and written:
 * the syscall is paid, the disk is not); stderr is kept for error messages.
 */
export async function startApp(variant: AppVariant, port: number): Promise<RunningApp> {
  const reference = variant.server && variant.server !== "app"
    ? REFERENCE_SERVERS[variant.server]
    : undefined;
  const args = reference
    ? [
      "run",
      ...reference.permissions,
      ...(variant.denoFlags ?? []),
      join(REPO_ROOT, "scripts", "lib", "bench", reference.script),
      "--port",
      String(port),
    ]
    : [
      "run",
      ...APP_PERMISSIONS,
      ...(variant.denoFlags ?? []),
      variant.script ?? APP_SCRIPT,
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--instrumentation",
      variant.instrumentation,
    ];
  // OTEL_* from the caller's shell (a sampler, an endpoint) would change what a
  // variant measures: each variant gets only its own.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("OTEL_")) env[k] = v;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: variant.script && !reference ? resolve(dirname(variant.script), "..") : REPO_ROOT,
    clearEnv: true,
    env: { ...env, LOG_LEVEL: "INFO", ...(variant.env ?? {}) },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const drain = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) stderr = (stderr + dec.decode(chunk)).slice(-4000);
  })().catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([
      waitForHttp(`${url}${reference ? "/api/data" : "/health"}`, 30_000, 50),
      status.then((s) => {
        throw new Error(`exited with code ${s.code}`);
      }),
    ]);
  } catch (err) {
    if (!exited) child.kill("SIGKILL");
    await status;
    await drain;
    throw new Error(
      `app variant '${variant.name}' did not start: ${(err as Error).message}` +
        (stderr.trim() ? `; stderr: ${stderr.trim().split("\n").slice(-3).join(" | ")}` : ""),
    );
  }
  return {
    variant,
    pid: child.pid,
    url,
    cpuMs: () => processCpuMs(child.pid),
    async stop() {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }
      const timer = setTimeout(() => {
        if (!exited) {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }
      }, 6000);
      await status;
      clearTimeout(timer);
      await drain;
    },
  };
}

export interface BenchStack {
  /** OTLP/HTTP base URL of the collector. */
  otlpEndpoint: string;
  collectorPid: number;
  /** Jaeger's and VictoriaLogs' processes: their CPU is the pipeline's, not other work. */
  backendPids: number[];
  stop(): Promise<void>;
}

/**
 * Starts the collector (and Jaeger and VictoriaLogs, where it sends traces
 * and logs) of a private stack on free ports, with state in `stateFolder`, so a user's
 * `deno task stack up` on the book's ports is not disturbed.
 */
export async function startBenchStack(stateFolder: string): Promise<BenchStack> {
  const ports = await freePorts();
  const withState = async <T>(fn: () => Promise<T>): Promise<T> => {
    const prev = Deno.env.get("OBSKIT_STATE_DIR");
    Deno.env.set("OBSKIT_STATE_DIR", stateFolder);
    try {
      return await fn();
    } finally {
      if (prev === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", prev);
    }
  };
  // A previous interrupted bench may have left its private stack running.
  await withState(async () => {
    if (readState()) await stackDown();
  });
  const up = await withState(() =>
    stackUp({
      ports,
      // Every backend the collector exports to: without VictoriaLogs its log pipeline
      // backs up and the app drops most log lines, which would make "on" look cheaper.
      only: ["jaeger", "victorialogs", "collector"],
      timeoutMs: 60_000,
      progress: { tty: false, write: () => {} },
    })
  );
  return {
    otlpEndpoint: `http://127.0.0.1:${ports.otlpHttp}`,
    collectorPid: up.state.components.collector.pid,
    backendPids: [up.state.components.jaeger?.pid, up.state.components.victorialogs?.pid]
      .filter((pid): pid is number => typeof pid === "number"),
    stop: async () => {
      await withState(() => stackDown());
    },
  };
}

/**
 * A private collector whose pipelines end in its debug exporter (a line per
 * batch): the real OTLP receiver decodes everything the app sends, and
 * nothing behind it can back up. On a 2-core machine at saturation Jaeger
 * falls behind (the stack collector logs "sending queue is full" for it), so
 * the stack measures the whole pipeline; the sink measures the app's own cost
 * of making and delivering everything (the bench's "telemetry dropped" column
 * shows whether it did).
 */
export async function startSinkCollector(stateFolder: string): Promise<BenchStack> {
  const binary = join(toolsDir(), "bin", "otelcol-obskit");
  if (!existsSync(binary)) {
    throw new Error(`the collector is not built: run 'deno task tools' (looked for ${binary})`);
  }
  const [otlp, health] = [freePort(), freePort()];
  await Deno.mkdir(stateFolder, { recursive: true });
  const config = join(stateFolder, "sink-collector.yaml");
  await Deno.writeTextFile(
    config,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
exporters:
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 1000
extensions:
  health_check:
    endpoint: 127.0.0.1:${health}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
    metrics: {receivers: [otlp], exporters: [debug]}
    logs: {receivers: [otlp], exporters: [debug]}
`,
  );
  const child = new Deno.Command(binary, {
    args: ["--config", config],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForHttp(`http://127.0.0.1:${health}/`, 30_000);
  } catch (err) {
    child.kill("SIGTERM");
    await child.status;
    throw new Error(`the sink collector did not start: ${(err as Error).message}`);
  }
  return {
    otlpEndpoint: `http://127.0.0.1:${otlp}`,
    collectorPid: child.pid,
    backendPids: [],
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}
