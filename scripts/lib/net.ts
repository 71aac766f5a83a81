/** Small network helpers shared by scripts and tests (loopback only). */
import { readProcSync } from "./process.ts";

const PORT_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range";
let ephemeralLow: number | undefined;

/**
 * The lowest port of the kernel's ephemeral range (outgoing connections take
 * their local port from it). Deno reads /proc only with --allow-all, else
 * readProcSync runs `cat`: without that permission (a prompt in a terminal),
 * Linux's default.
 */
function lowestEphemeralPort(): number {
  if (ephemeralLow !== undefined) return ephemeralLow;
  const text = Deno.permissions.querySync({ name: "run", command: "cat" }).state === "granted"
    ? readProcSync(PORT_RANGE_FILE)
    : null;
  const low = Number(text?.trim().split(/\s+/)[0]);
  ephemeralLow = low > 1024 ? low : 32768;
  return ephemeralLow;
}

function canBind(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** Ports handed out lately: two calls in a row never get the same one before either binds it. */
const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1, drawn below the ephemeral range: a port the
 * kernel picks (port 0) comes from that range, where any outgoing connection
 * can take it between this choice and the listener's bind (a collector's
 * receiver failed "address already in use" in CI that way).
 */
export function freePort(): number {
  const low = 20000, high = Math.min(lowestEphemeralPort() - 1, 32767);
  for (let attempt = 0; attempt < 200 && high > low; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port) || !canBind(port)) continue;
    handedOut.add(port);
    if (handedOut.size > 1000) handedOut.delete(handedOut.values().next().value!);
    return port;
  }
  // Nothing free below the range: let the kernel choose.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** True when something accepts TCP connections on host:port. */
export async function isListening(port: number, hostname = "127.0.0.1"): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `url` until it answers with a 2xx, or throws after `timeoutMs`
 * with the last error seen.
 */
export async function waitForHttp(
  url: string,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return res;
      last = `HTTP ${res.status}`;
      await res.body?.cancel();
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url} did not become ready within ${timeoutMs} ms (${last})`);
}
