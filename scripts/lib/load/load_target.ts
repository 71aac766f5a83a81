/**
 * Starts the chapter's instrumented app (apps/instrument_app.ts) as its own
 * process on a loopback port, as a target for the load generator and the
 * gate (their tests, and anyone who wants traffic without the full stack).
 * A separate process, so the app and the load generator do not share an
 * event loop and the measured rate is the app's, not ours.
 */
import { join } from "node:path";
import { freePort, waitForHttp } from "../net.ts";
import { repoPath } from "../paths.ts";

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
 * /health. Unless the caller sets OTEL_EXPORTER_OTLP_ENDPOINT, the app's
 * OTLP goes to a small sink served here that accepts and drops everything,
 * so a test never sends telemetry to someone else's collector (nor to a
 * "free" port that another test's server may take later).
 */
export async function spawnInstrumentedApp(opts: SpawnAppOptions = {}): Promise<AppProcess> {
  const port = opts.port ?? freePort();
  const sink = opts.env?.OTEL_EXPORTER_OTLP_ENDPOINT ? undefined : Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      await req.body?.cancel();
      return Response.json({});
    },
  );
  const env: Record<string, string> = {
    ...(sink ? { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.addr.port}` } : {}),
    LOG_LEVEL: "WARN",
    // Should an export hang, stopping the app does not wait long for it.
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
    await sink?.shutdown();
  };
  try {
    await waitForHttp(`${url}/health`, opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw new Error(`instrumented app did not start: ${(err as Error).message}\n${out}`);
  }
  return { port, url, stop, output: () => out };
}

export interface ScrapeTarget {
  port: number;
  labels?: Record<string, string>;
}

export interface ThrowawayPrometheus {
  url: string;
  /** SIGTERM, wait, remove its config and storage. */
  stop(): Promise<void>;
}

/**
 * Starts a real Prometheus (`binary`, e.g. the Debian package's) on a free
 * loopback port with a temporary config and storage, scraping each job's
 * targets every second, and waits until each target has been scraped once.
 */
export async function startPrometheus(
  binary: string,
  jobs: Record<string, ScrapeTarget[]>,
): Promise<ThrowawayPrometheus> {
  const dir = await Deno.makeTempDir({ prefix: "obskit-prometheus-" });
  const port = freePort();
  const config = {
    global: { scrape_interval: "1s", evaluation_interval: "1s" },
    scrape_configs: Object.entries(jobs).map(([job, targets]) => ({
      job_name: job,
      static_configs: targets.map((t) => ({
        targets: [`127.0.0.1:${t.port}`],
        labels: t.labels ?? {},
      })),
    })),
  };
  await Deno.writeTextFile(join(dir, "prometheus.yml"), JSON.stringify(config));
  const log = await Deno.open(join(dir, "prometheus.log"), { write: true, create: true });
  const child = new Deno.Command(binary, {
    args: [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logged = child.stderr.pipeTo(log.writable).catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await logged;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitForHttp(`${url}/-/ready`, 20_000);
  } catch (err) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await logged;
    const tail = (await Deno.readTextFile(join(dir, "prometheus.log")).catch(() => ""))
      .split("\n").slice(-5).join("\n");
    await stop();
    throw new Error(`prometheus did not become ready: ${(err as Error).message}\n${tail}`);
  }
  // Service discovery hands targets to the scrapers in batches (every ~5 s):
  // wait until every target has been scraped once, so callers' traffic counts.
  const expected = Object.values(jobs).reduce((n, t) => n + t.length, 0);
  const deadline = Date.now() + 20_000;
  while (true) {
    const body = await fetch(`${url}/api/v1/targets?state=active`)
      .then((r) => r.json())
      .catch(() => null) as { data?: { activeTargets?: { health: string }[] } } | null;
    const targets = body?.data?.activeTargets ?? [];
    if (targets.length >= expected && targets.every((t) => t.health !== "unknown")) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not scrape its ${expected} target(s) within 20 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, stop };
}
