/**
 * `--port N [--host H]` for the bench's reference servers (bare_hono.ts,
 * floor_app.ts): kept to a few lines, so that what those servers cost is
 * the framework's and the telemetry's, not a CLI library's. `--help` prints
 * `about` and the usage; a bad port is a one-line error and exit 2.
 */
export function serverArgs(about: string, args: readonly string[] = Deno.args): {
  port: number;
  hostname: string;
} {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(`${about}\n\nOptions: --port N (default 8080), --host H (default 127.0.0.1)`);
    Deno.exit(0);
  }
  const arg = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
  };
  const port = Number(arg("port", "8080"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: --port must be 0..65535, got '${arg("port", "")}'`);
    Deno.exit(2);
  }
  return { port, hostname: arg("host", "127.0.0.1") };
}
