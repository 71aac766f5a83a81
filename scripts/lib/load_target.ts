/**
 * Starts the chapter's instrumented app (apps/instrument_app.ts) as its own
 * process on a loopback port, as a target for the load generator and the
 * gate (their tests, and anyone who wants traffic without the full stack).
 * A separate process, so the app and the load generator do not share an
 * event loop and the measured rate is the app's, not ours.
 */
import { freePort, waitForHttp } from "./net.ts";
import { repoPath } from "./paths.ts";

export interface AppProcess {
  port: number;
  url: string;
  /** SIGTERM, then wait for the exit (the app drains and exits 0). */
  stop(): Promise<void>;
  /** What the app wrote to stdout/stderr (JSON log lines). */
  output(): string;
}

export interface SpawnAppOptions {
  port?: number;
  /** Extra environment, e.g. OTEL_EXPORTER_OTLP_ENDPOINT. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

/**
 * Spawns `apps/instrument_app.ts --host 127.0.0.1 --port N` and waits for
 * /health. Unless the caller sets OTEL_EXPORTER_OTLP_ENDPOINT, OTLP goes to
 * a free loopback port where nothing listens (exports fail quietly), so a
 * test never sends telemetry to someone else's collector.
 */
export async function spawnInstrumentedApp(opts: SpawnAppOptions = {}): Promise<AppProcess> {
  const port = opts.port ?? freePort();
  const env: Record<string, string> = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${freePort()}`,
    LOG_LEVEL: "WARN",
    // Exports to the dead endpoint fail fast, so stopping does not wait on them.
    OTEL_EXPORTER_OTLP_TIMEOUT: "500",
    ...opts.env,
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-sys",
      "--allow-read",
      repoPath("apps/instrument_app.ts"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
    ],
    env,
    cwd: repoPath(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const dec = new TextDecoder();
  const drain = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) {
      // Keep the tail only: a long run logs a lot.
      out = (out + dec.decode(chunk)).slice(-20_000);
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]).catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  child.status.then(() => exited = true);
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await child.status;
    await drained;
  };
  try {
    await waitForHttp(`${url}/health`, opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw new Error(`instrumented app did not start: ${(err as Error).message}\n${out}`);
  }
  return { port, url, stop, output: () => out };
}
