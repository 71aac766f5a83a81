/**
 * Serving and graceful shutdown shared by the demo servers: Deno.serve, then
 * on SIGINT/SIGTERM stop accepting, let in-flight requests finish, flush
 * telemetry, exit 0.
 */
import type { Hono } from "hono";
import { guardHost } from "./http_observability.ts";
import { flushLogs, type Logger } from "./logger.ts";

const SHUTDOWN_FLUSH_MS = 3000;

export interface RunningServer {
  port: number;
  hostname: string;
  url: string;
  /** Stops accepting connections and resolves once in-flight requests finished. */
  stop(): Promise<void>;
  finished: Promise<void>;
}

export function startServer(
  app: Hono,
  opts: { port: number; hostname: string },
): RunningServer {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { port: opts.port, hostname: opts.hostname, onListen: () => {} },
      // Routing sees the path only, whatever the Host header says (http_observability.ts).
      guardHost(app.fetch),
    );
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `port ${opts.port} on ${opts.hostname} is already in use: stop what holds it, or choose another with --port or PORT`,
      );
    }
    throw err;
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    port: addr.port,
    hostname: addr.hostname,
    url: `http://${host}:${addr.port}`,
    stop: () => server.shutdown(),
    finished: server.finished,
  };
}

/**
 * Runs until SIGINT/SIGTERM, then shuts down in order. Ctrl-C under
 * `deno task` delivers the signal twice (terminal process group + task
 * forwarding), so repeats within a second are ignored; a later one while
 * draining exits at once (status 130) for an impatient user.
 */
export function runUntilSignal(
  server: RunningServer,
  logger: Logger,
  flushTelemetry: () => Promise<void>,
): Promise<never> {
  return new Promise(() => {
    let drainingSince = 0;
    const onSignal = async (signal: Deno.Signal) => {
      if (drainingSince && Date.now() - drainingSince < 1000) return;
      if (drainingSince) {
        logger.warn("second signal: exiting without waiting", { signal });
        flushLogs();
        Deno.exit(130);
      }
      drainingSince = Date.now();
      logger.info("shutting down: finishing in-flight requests", { signal });
      await server.stop();
      // Bounded: with no collector, a final export must not hold the exit hostage.
      await Promise.race([
        flushTelemetry().catch(() => {}),
        new Promise((r) => setTimeout(r, SHUTDOWN_FLUSH_MS)),
      ]);
      logger.info("shutdown complete");
      flushLogs();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
    Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
  });
}

/** Port from --port, then PORT, then the default; a bad value is a usage error. */
export function resolvePort(flag: string | undefined, fallback: number): string {
  return flag ?? (Deno.env.get("PORT") || String(fallback));
}
