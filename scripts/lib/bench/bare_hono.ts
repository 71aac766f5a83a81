/**
 * The bench's "bare" variant: Hono on Deno.serve answering GET /api/data with
 * the same JSON shape as the instrumented app's /api/data (delay 0), and
 * nothing else: no app code, no middleware, no logger, no metrics. Every
 * throughput ratio in `deno task bench` is reported against this server, so it
 * must stay as small as a "hello world" written with the same framework.
 *
 *   deno run --allow-net scripts/lib/bench/bare_hono.ts --port 8080 [--host 127.0.0.1]
 *
 * With OTEL_DENO=true (the "deno-otel" variant) Deno's built-in OpenTelemetry
 * instruments Deno.serve itself; this file does not change.
 */
import { Hono } from "hono";
import { serverArgs } from "./server_args.ts";

// The instrumented app serves ids 0..99 priced 5 + (id % 20) * 2.5: the same
// body sizes, so bytes on the wire do not differ between variants.
const ITEM_COUNT = 100;

const { port, hostname } = serverArgs(
  "The bench's bare variant: Hono on Deno.serve answering GET /api/data, no app code.",
);

const app = new Hono();
app.get("/api/data", (c) => {
  const id = Math.floor(Math.random() * ITEM_COUNT);
  return c.json({ data: { id, name: `item-${id}`, price: 5 + (id % 20) * 2.5 }, delay_seconds: 0 });
});

Deno.serve({ port, hostname, onListen() {} }, app.fetch);
