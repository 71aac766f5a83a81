/**
 * Test support. Tests that need a real component (collector, promtool,
 * Prometheus, Jaeger...) call `needs()`: in CI (CI=true) a missing component
 * fails the test; elsewhere the test is ignored with a printed reason.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitForHttp } from "../scripts/lib/net.ts";
import { repoPath, toolsDir } from "../scripts/lib/paths.ts";
import { stackDown } from "../scripts/lib/stack/mod.ts";

export const IN_CI = Deno.env.get("CI") === "true";

/** Finds an executable on PATH or in the tools folder's bin/. */
export function findTool(name: string): string | null {
  const candidates = [join(toolsDir(), "bin", name)];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir) candidates.push(join(dir, name));
  }
  return candidates.find((p) => existsSync(p)) ?? null;
}

/**
 * Returns `true` when the test should be ignored (component missing, not
 * in CI). In CI it throws at registration so the suite fails loudly.
 */
export function missing(...tools: string[]): boolean {
  const absent = tools.filter((t) => findTool(t) === null);
  if (absent.length === 0) return false;
  const msg = `needs ${absent.join(", ")} (run 'deno task tools')`;
  if (IN_CI) throw new Error(`CI=true and a real component is missing: ${msg}`);
  console.warn(`skipping: ${msg}`);
  return true;
}

/** Variables the npm `yaml` package reads: tests that parse YAML grant them by name. */
export const YAML_ENV = ["LOG_TOKENS", "LOG_STREAM"];

/** Variables node:os tmpdir() reads: tests that make temporary folders grant them. */
export const TEMP_ENV = ["TMPDIR", "TMP", "TEMP"];

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of our scripts in a child Deno with exactly `permissionFlags`
 * (so the test also proves the script needs no more), from the repository
 * root, and returns its exit code and output. `sigintAfterMs` interrupts it
 * like a Ctrl-C.
 */
export async function runScript(
  script: string,
  permissionFlags: string[],
  args: string[],
  opts: { env?: Record<string, string>; sigintAfterMs?: number } = {},
): Promise<ScriptResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissionFlags, repoPath(script), ...args],
    cwd: repoPath(),
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = opts.sigintAfterMs === undefined
    ? undefined
    : setTimeout(() => child.kill("SIGINT"), opts.sigintAfterMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "";
  while (Date.now() < deadline) {
    try {
      const last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${
      lastErr ? ` (last error: ${lastErr})` : ""
    }`,
  );
}

/** Sends `paths` in turn to `base` at about `perSecond` until the signal aborts. */
export async function trafficLoop(
  base: string,
  paths: string[],
  perSecond: number,
  signal: AbortSignal,
): Promise<void> {
  let n = 0;
  while (!signal.aborted) {
    const path = paths[n++ % paths.length];
    try {
      const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
      await res.body?.cancel();
    } catch { /* the assertions on Prometheus say whether it mattered */ }
    await new Promise((r) => setTimeout(r, 1000 / perSecond));
  }
}

/**
 * Runs `fn` with OBSKIT_STATE_DIR set to a fresh private folder; afterwards
 * stops whatever a stack started there, restores the variable and removes the
 * folder. A process or port the stop could not end fails the test (when `fn`
 * itself passed): it would otherwise leak into the tests after it.
 */
export async function inPrivateState<T>(
  prefix: string,
  fn: (state: string) => Promise<T>,
): Promise<T> {
  const state = await Deno.makeTempDir({ prefix });
  const before = Deno.env.get("OBSKIT_STATE_DIR");
  Deno.env.set("OBSKIT_STATE_DIR", state);
  let passed = false;
  try {
    const result = await fn(state);
    passed = true;
    return result;
  } finally {
    const down = await stackDown();
    if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
    else Deno.env.set("OBSKIT_STATE_DIR", before);
    await Deno.remove(state, { recursive: true }).catch(() => {});
    if (passed && (down.failures.length > 0 || down.stillListening.length > 0)) {
      // deno-lint-ignore no-unsafe-finally -- only when fn passed: never hides its error
      throw new Error(
        `stack down left things behind: ${
          [...down.failures, ...down.stillListening.map(String)].join(", ")
        }`,
      );
    }
  }
}

/**
 * Runs the real collector with `config` (YAML; `health_check` is added on a
 * free port and waited for), then `fn`; stops it and removes its folder.
 */
export async function withCollector<T>(config: string, fn: () => Promise<T>): Promise<T> {
  const health = freePort();
  const dir = await Deno.makeTempDir({ prefix: "obskit-collector-" });
  const file = join(dir, "config.yaml");
  // The health extension goes in front of the service's own settings.
  await Deno.writeTextFile(
    file,
    config.replace(
      /^service:\n/m,
      `extensions:\n  health_check:\n    endpoint: 127.0.0.1:${health}\nservice:\n  extensions: [health_check]\n`,
    ),
  );
  const child = new Deno.Command(findTool("otelcol-obskit")!, {
    args: ["--config", file],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await waitForHttp(`http://127.0.0.1:${health}/`, 20_000);
    return await fn();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
}

/** What the collector of withReexportingCollector re-exported, in arrival order. */
export interface Reexported {
  /** `/v1/traces`, `/v1/logs` or `/v1/metrics`. */
  path: string;
  /** The OTLP/JSON body the collector sent. */
  body: string;
}

/**
 * Runs the real collector receiving OTLP/HTTP on a free port and re-exporting
 * every signal as OTLP/JSON to a server of this test, so a test reads what
 * the collector decoded from what was sent to it. `fn` gets the receiver's
 * base URL and the list the re-exported requests are appended to.
 */
export async function withReexportingCollector<T>(
  fn: (otlpEndpoint: string, received: Reexported[]) => Promise<T>,
): Promise<T> {
  const [otlp, capture] = [freePort(), freePort()];
  const received: Reexported[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: capture, onListen() {} },
    async (req) => {
      received.push({ path: new URL(req.url).pathname, body: await req.text() });
      return new Response("{}", { headers: { "content-type": "application/json" } });
    },
  );
  const config = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${capture}
    encoding: json
    compression: none
    retry_on_failure: {enabled: false}
    sending_queue: {enabled: false}
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces: {receivers: [otlp], exporters: [otlphttp]}
    logs: {receivers: [otlp], exporters: [otlphttp]}
    metrics: {receivers: [otlp], exporters: [otlphttp]}
`;
  try {
    return await withCollector(config, () => fn(`http://127.0.0.1:${otlp}`, received));
  } finally {
    await server.shutdown();
  }
}
