/**
 * Serving and graceful shutdown shared by the demo servers: Deno.serve, then
 * on SIGINT/SIGTERM stop accepting, let in-flight requests finish, flush
 * telemetry, exit 0.
 */
import type { Hono } from "hono";
import { errorMessage, guardHost } from "./http_observability.ts";
import { flushLogs, type Logger, logWarning } from "./logger.ts";

const SHUTDOWN_FLUSH_MS = 3000;

export interface RunningServer {
  port: number;
  hostname: string;
  url: string;
  /** Stops accepting connections and resolves once in-flight requests finished. */
  stop(): Promise<void>;
  finished: Promise<void>;
}

/** How long after a dead listener the first re-listen is tried; doubles up to RELISTEN_MAX_MS. */
const RELISTEN_FIRST_MS = 100;
const RELISTEN_MAX_MS = 2000;
/** Dead listeners kept so stop() drains their connections (the most recent ones). */
const MAX_DEAD_LISTENERS = 16;

/**
 * Deno.serve with two guarantees the runtime does not give by itself:
 *
 * - The process never dies of a listener error. When accept() fails (EMFILE:
 *   out of file descriptors, e.g. under a flood of half-open connections),
 *   Deno.serve closes its listener and rejects `finished`; unhandled, that
 *   rejection ends the process. Here it is caught, said once, and the port is
 *   listened on again with backoff until descriptors free up; connections
 *   already accepted keep being served meanwhile.
 * - Routing sees the request's path only, whatever its Host header says
 *   (`guardHost`).
 *
 * Deno.serve (2.9) has no header-read, idle keep-alive or request timeout
 * (denoland/deno#3515): a client that never finishes its headers holds its
 * descriptor until it closes. README "What survives what" says what to put
 * in front of the app where that matters.
 */
export function startServer(
  app: Hono,
  opts: { port: number; hostname: string; warn?: (message: string) => void },
): RunningServer {
  const warn = opts.warn ?? logWarning;
  const handler = guardHost(app.fetch);
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  const dead: Deno.HttpServer<Deno.NetAddr>[] = [];
  let stopping = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => (resolveFinished = r));

  const listen = (port: number): Deno.HttpServer<Deno.NetAddr> => {
    const server = Deno.serve({ port, hostname: opts.hostname, onListen: () => {} }, handler);
    servers.push(server);
    server.finished.then(
      () => {
        if (stopping) resolveFinished();
      },
      (err) => {
        if (stopping) return resolveFinished();
        // Its listener is gone, but connections it accepted may still be served: keep it
        // for stop() to drain, bounded so a long flood of failures cannot grow the list.
        servers.splice(servers.indexOf(server), 1);
        dead.push(server);
        if (dead.length > MAX_DEAD_LISTENERS) dead.shift();
        // The port actually bound (an ephemeral --port 0 keeps its number).
        relisten(server.addr.port, errorMessage(err));
      },
    );
    return server;
  };

  // Under a sustained flood the listener can die again right after it is back:
  // one warning a minute at most, with how many failures it stands for.
  let lastWarnAt = -Infinity;
  let unreported = 0;
  const relisten = (port: number, reason: string) => {
    const since = Date.now();
    const report = since - lastWarnAt >= 60_000;
    if (report) {
      lastWarnAt = since;
      warn(
        `listener on ${opts.hostname}:${port} failed (${reason}): not accepting new connections; ` +
          "listening again as soon as the system allows" +
          (unreported ? ` (${unreported} more failures in the last minute)` : ""),
      );
      unreported = 0;
    } else unreported++;
    let delay = RELISTEN_FIRST_MS;
    const attempt = () => {
      if (stopping) return resolveFinished();
      try {
        listen(port);
        if (report) {
          warn(
            `accepting connections again on ${opts.hostname}:${port} after ${
              Date.now() - since
            } ms`,
          );
        }
      } catch {
        // Still out of descriptors (or the old socket not yet released): try again later.
        delay = Math.min(RELISTEN_MAX_MS, delay * 2);
        setTimeout(attempt, delay);
      }
    };
    setTimeout(attempt, delay);
  };

  let first: Deno.HttpServer<Deno.NetAddr>;
  try {
    first = listen(opts.port);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `port ${opts.port} on ${opts.hostname} is already in use: stop what holds it, or choose another with --port or PORT`,
      );
    }
    throw err;
  }
  const addr = first.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    port: addr.port,
    hostname: addr.hostname,
    url: `http://${host}:${addr.port}`,
    stop: async () => {
      stopping = true;
      // Every listener this server had: the current one and any that died with
      // connections still open.
      await Promise.allSettled([...servers, ...dead].map((s) => s.shutdown()));
      resolveFinished();
    },
    finished,
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
