/**
 * The chapter's phases 4, 5, 10 and 11 in order, as documented, with their
 * defaults: the two apps on the stack, `deno task load` with its default
 * mix, rate and duration, then `deno task verify`, which must pass (every
 * local panel, the security ones included, has data from that traffic
 * alone). Only the target is given, because the stack runs on free ports.
 */
import { strict as assert } from "node:assert";
import { REPO_ROOT } from "../scripts/lib/paths.ts";
import { freePorts, stackUp } from "../scripts/lib/stack/mod.ts";
import { startApp } from "../scripts/lib/stack/stack_apps.ts";
import { inPrivateState, missing } from "./support.ts";

async function task(name: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command("deno", {
    args: ["task", "-q", name, ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test({
  name: "phases 4, 5, 10 and 11 in order with defaults: verify passes on the default load alone",
  ignore: missing("otelcol-obskit", "jaeger", "prometheus", "prometheus-alertmanager"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await inPrivateState("obskit-phases-", async (state) => {
      const ports = await freePorts();
      await stackUp({ ports, timeoutMs: 90_000, progress: { write: () => {} } });
      // Phases 4 and 5: the apps as their tasks start them, pointed at the stack.
      await startApp("instrumented-app", ports);
      await startApp("metrics-pull", ports);
      const env = { OBSKIT_STATE_DIR: state };
      // Phase 10 with its defaults (the chapter's mix, 10/s for 30 s).
      const load = await task("load", ["--target", `http://127.0.0.1:${ports.app}`], env);
      assert.equal(load.code, 0, load.output);
      assert.match(load.output, /401=\d+/, "the default mix carries unauthenticated requests");
      assert.match(load.output, /404=\d+/, "and requests for paths that do not exist");
      // Phase 11 as typed, right after the load: its task waits (up to 90 s) for a scrape
      // and a rule evaluation instead of failing the checks whose data is still on its way.
      const verify = await task("phase11", [], env);
      assert.equal(verify.code, 0, verify.output);
    });
  },
});
