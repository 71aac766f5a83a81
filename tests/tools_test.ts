/**
 * `deno task tools`: stamps, manifest handling, the missing-Go message and
 * exit code, and (with the tools installed) that a second run does nothing
 * and is fast, and that the installed binaries are the pinned versions.
 */
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { parse } from "yaml";
import { repoPath, toolsDir } from "../scripts/lib/paths.ts";
import {
  formatTable,
  JAEGER_VERSION,
  readManifest,
  readStamp,
  resolveTool,
  rewriteOutputPath,
  stampHash,
} from "../scripts/lib/tools.ts";
import { missing } from "./support.ts";

const TOOLS = repoPath("scripts", "tools.ts");

async function runTools(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TOOLS, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("stampHash: deterministic and sensitive to every input", async () => {
  const a = await stampHash("collector", "manifest text", "v0.161.0");
  assert.equal(a, await stampHash("collector", "manifest text", "v0.161.0"));
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.notEqual(a, await stampHash("collector", "manifest text ", "v0.161.0"));
  assert.notEqual(a, await stampHash("collector", "manifest text", "v0.161.1"));
  // Joining must not make ("ab","c") equal to ("a","bc").
  assert.notEqual(await stampHash("ab", "c"), await stampHash("a", "bc"));
});

Deno.test("readManifest: the committed builder manifest names the binary and version", () => {
  const m = readManifest();
  assert.equal(m.name, "otelcol-obskit");
  assert.match(m.version, /^\d+\.\d+\.\d+$/);
  assert.equal(m.builderVersion, `v${m.version}`);
});

Deno.test("rewriteOutputPath: only dist.output_path changes", () => {
  const text = Deno.readTextFileSync(repoPath("config", "otelcol-builder.yaml"));
  const out = rewriteOutputPath(text, "/tmp/x/build");
  // deno-lint-ignore no-explicit-any
  const before = parse(text) as any, after = parse(out) as any;
  assert.equal(after.dist.output_path, "/tmp/x/build");
  after.dist.output_path = before.dist.output_path;
  assert.deepEqual(after, before);
  const noPath = "dist:\n  name: x\n  version: 1.0.0\n";
  // deno-lint-ignore no-explicit-any
  assert.equal((parse(rewriteOutputPath(noPath, "/o")) as any).dist.output_path, "/o");
});

Deno.test("formatTable: aligned columns with a rule under the header", () => {
  const t = formatTable(["a", "bb"], [["xxx", "y"], ["z", "wwww"]]);
  assert.equal(t, "a    bb\n---  ----\nxxx  y\nz    wwww");
});

Deno.test("tools: no Go on PATH -> exit 2 naming what to install", async () => {
  const dir = await Deno.makeTempDir({ prefix: "obskit-tools-" });
  try {
    const r = await runTools(["--only", "collector"], {
      OBSKIT_TOOLS_DIR: dir,
      PATH: "",
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error: go not found on PATH/);
    assert.match(r.stderr, /install Go >= 1\.26/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tools: usage errors exit 2; --help exits 0", async () => {
  const bad = await runTools(["--only", "kafka"], { OBSKIT_TOOLS_DIR: "/nonexistent-obskit" });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown component 'kafka'/);
  const help = await runTools(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /OBSKIT_TOOLS_DIR/);
});

Deno.test({
  name: "tools: a second run finds everything up to date, builds nothing and is fast",
  ignore: missing("otelcol-obskit", "jaeger", "prometheus", "promtool"),
  async fn() {
    const stamps = ["collector", "jaeger"].map((c) => readStamp(c));
    const started = performance.now();
    const r = await runTools([], { OBSKIT_TOOLS_DIR: toolsDir() });
    const ms = performance.now() - started;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /collector otelcol-obskit \S+: up to date/);
    assert.match(
      r.stderr,
      new RegExp(`jaeger ${JAEGER_VERSION.replaceAll(".", "\\.")}: up to date`),
    );
    assert.doesNotMatch(r.stderr, /go build|ocb build/);
    assert.ok(ms < 20_000, `second run took ${Math.round(ms)} ms`);
    // The table lists every component with a version and a path.
    for (const c of ["otelcol-obskit", "jaeger", "prometheus", "promtool", "alertmanager"]) {
      assert.match(r.stdout, new RegExp(`^${c}\\s+\\S+\\s+/`, "m"), `${c} row in:\n${r.stdout}`);
    }
    // Nothing was rebuilt: the stamps are unchanged.
    assert.deepEqual(["collector", "jaeger"].map((c) => readStamp(c)), stamps);
  },
});

Deno.test({
  name: "tools: the installed collector is the manifest's version with the manifest's components",
  ignore: missing("otelcol-obskit"),
  async fn() {
    const bin = resolveTool("otelcol-obskit")!;
    const version = await new Deno.Command(bin, { args: ["--version"], stdout: "piped" }).output();
    assert.match(
      new TextDecoder().decode(version.stdout),
      new RegExp(`version ${readManifest().version}`),
    );
    const comps = await new Deno.Command(bin, { args: ["components"], stdout: "piped" }).output();
    const text = new TextDecoder().decode(comps.stdout);
    for (
      const name of [
        "otlp",
        "prometheus",
        "syslog",
        "jaeger",
        "memory_limiter",
        "batch",
        "health_check",
      ]
    ) {
      assert.match(text, new RegExp(`name: ${name}\\b`), `component ${name} in the build`);
    }
    assert.ok(join(toolsDir(), "bin", "otelcol-obskit") === bin || bin.length > 0);
  },
});

Deno.test("spinner: elapsed formatting", async () => {
  const { formatElapsed } = await import("../scripts/lib/spinner.ts");
  assert.equal(formatElapsed(850), "850ms");
  assert.equal(formatElapsed(12_340), "12.3s");
  assert.equal(formatElapsed(125_000), "2m05s");
});

Deno.test("spinner: without a terminal, a start line, 'still working' lines while it runs, one end line", async () => {
  const { progress } = await import("../scripts/lib/spinner.ts");
  const lines: string[] = [];
  const p = progress("building", { tty: false, quietEveryMs: 100, write: (t) => lines.push(t) });
  await new Promise((r) => setTimeout(r, 1250));
  p.succeed("done it");
  p.fail("ignored: already ended");
  assert.equal(lines[0], "… building\n");
  assert.ok(lines.some((l) => /^… building: still working \(1\.\d+s\)\n$/.test(l)), lines.join(""));
  assert.match(lines.at(-1)!, /^✔ building: done it \(1\.\ds\)\n$/);
  assert.equal(lines.filter((l) => l.startsWith("✔") || l.startsWith("✘")).length, 1);
});

Deno.test("spinner: on a terminal, the line is redrawn in place and ends with a newline", async () => {
  const { progress } = await import("../scripts/lib/spinner.ts");
  let text = "";
  const p = progress("waiting", { tty: true, write: (t) => (text += t) });
  await new Promise((r) => setTimeout(r, 350));
  p.fail("timed out");
  const clear = "\r\x1b[2K";
  assert.ok(text.split(clear).length - 1 >= 3, "redrawn at least 3 times");
  const last = text.slice(text.lastIndexOf(clear) + clear.length);
  assert.match(last, /^✘ waiting: timed out \(\d+ms\)\n$/);
});
