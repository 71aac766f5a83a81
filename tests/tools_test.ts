/**
 * `deno task tools`: stamps, manifest handling, the missing-Go message and
 * exit code, and (with the tools installed) that a second run does nothing
 * and is fast, and that the installed binaries are the pinned versions.
 */
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { repoPath, toolsDir } from "../scripts/lib/paths.ts";
import {
  CONTROLLER_TOOLS_VERSION,
  CRD_FILES,
  crdDir,
  formatTable,
  JAEGER_VERSION,
  KUBERNETES_VERSION,
  kubernetesLdflags,
  kwokStagesFile,
  readManifest,
  readStamp,
  resolveTool,
  rewriteOutputPath,
  stagingVersion,
  stampHash,
  wrapperGoMod,
} from "../scripts/lib/tools/mod.ts";
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

// ---------------------------------------------------------------------------
// --k8s: kube-apiserver, kubectl, etcd, controller-gen and the CRDs

/** The shape of k8s.io/kubernetes' go.mod: staging modules replaced by folders in its repository. */
const KUBERNETES_GO_MOD = `module k8s.io/kubernetes

go 1.26.0

require (
\tk8s.io/api v0.0.0
\tk8s.io/apiserver v0.0.0
\tgithub.com/spf13/cobra v1.10.2
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apiserver => ./staging/src/k8s.io/apiserver
\tk8s.io/kubectl => ./staging/src/k8s.io/kubectl
)
`;

Deno.test("wrapperGoMod: every ./staging replace becomes the published v0 tag, nothing else", () => {
  const mod = wrapperGoMod(KUBERNETES_GO_MOD, "v1.37.2");
  assert.doesNotMatch(mod, /\.\/staging/);
  assert.match(mod, /^require k8s\.io\/kubernetes v1\.37\.2$/m);
  assert.match(mod, /^go 1\.26\.0$/m);
  for (const m of ["k8s.io/api", "k8s.io/apiserver", "k8s.io/kubectl"]) {
    assert.match(
      mod,
      new RegExp(
        `^\\t${m.replaceAll(".", "\\.")} => ${m.replaceAll(".", "\\.")} v0\\.37\\.2$`,
        "m",
      ),
    );
  }
  assert.doesNotMatch(mod, /cobra/);
  assert.throws(() => wrapperGoMod("module x\n", "v1.37.2"), /no '\.\/staging' replace lines/);
});

Deno.test("stagingVersion and kubernetesLdflags: an honest version for the built binaries", () => {
  assert.equal(stagingVersion("v1.37.2"), "v0.37.2");
  assert.throws(() => stagingVersion("1.37"), /not a Kubernetes release tag/);
  const flags = kubernetesLdflags("v1.37.2");
  assert.match(flags, /-X k8s\.io\/component-base\/version\.gitVersion=v1\.37\.2/);
  assert.match(flags, /gitMajor=1 /);
  assert.match(flags, /gitMinor=37 /);
});

Deno.test("tools --k8s: no etcd and no apt-get on PATH -> exit 2 naming the Debian package", async () => {
  const dir = await Deno.makeTempDir({ prefix: "obskit-tools-" });
  try {
    const r = await runTools(["--only", "k8s"], { OBSKIT_TOOLS_DIR: dir, PATH: "" });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /error: etcd not found on PATH \(install the Debian package as root: apt-get install etcd-server\)/,
    );
    const help = await runTools(["--help"]);
    assert.match(help.stdout, /--k8s/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "tools --k8s: a second run is up to date and fast; binaries and CRDs are the pinned versions",
  ignore: missing("kube-apiserver", "kubectl", "etcd", "controller-gen", "kwok"),
  async fn() {
    const stamp = readStamp("kubernetes");
    const started = performance.now();
    const r = await runTools(["--only", "k8s"], { OBSKIT_TOOLS_DIR: toolsDir() });
    const ms = performance.now() - started;
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /kube-apiserver, kubectl, kube-controller-manager, kube-scheduler v1\.37\.2: up to date/,
    );
    assert.match(r.stderr, /kwok v0\.8\.0: up to date/);
    assert.doesNotMatch(r.stderr, /go build|go install/);
    assert.ok(ms < 20_000, `second run took ${Math.round(ms)} ms`);
    assert.deepEqual(readStamp("kubernetes"), stamp);
    for (
      const c of [
        "etcd",
        "controller-gen",
        "kube-apiserver",
        "kubectl",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
      ]
    ) {
      assert.match(r.stdout, new RegExp(`^${c}\\s+\\S+\\s+/`, "m"), `${c} row in:\n${r.stdout}`);
    }
    const api = await new Deno.Command(resolveTool("kube-apiserver")!, {
      args: ["--version"],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(api.stdout).trim(), `Kubernetes ${KUBERNETES_VERSION}`);
    const kc = await new Deno.Command(join(toolsDir(), "bin", "kubectl"), {
      args: ["version", "--client", "-o", "json"],
      stdout: "piped",
    }).output();
    assert.equal(
      JSON.parse(new TextDecoder().decode(kc.stdout)).clientVersion.gitVersion,
      KUBERNETES_VERSION,
    );
    const kinds = CRD_FILES.map((f) => {
      // deno-lint-ignore no-explicit-any
      const crd = parse(Deno.readTextFileSync(join(crdDir(), f))) as any;
      assert.equal(
        crd.metadata.annotations["controller-gen.kubebuilder.io/version"],
        CONTROLLER_TOOLS_VERSION,
      );
      assert.equal(crd.spec.group, "monitoring.coreos.com");
      return crd.spec.names.kind;
    });
    assert.deepEqual(kinds, ["PrometheusRule", "ServiceMonitor", "PodMonitor"]);
    // kwok's stages, copied from its module: node initialize + heartbeat, pod ready/complete/delete.
    const stages = parseAllDocuments(Deno.readTextFileSync(kwokStagesFile())).map((d) =>
      // deno-lint-ignore no-explicit-any
      (d.toJS() as any).metadata.name
    );
    assert.deepEqual(stages, [
      "node-initialize",
      "node-heartbeat-with-lease",
      "pod-ready",
      "pod-complete",
      "pod-delete",
    ]);
  },
});

Deno.test("tools: Sloth is part of the default build, pinned to v0.16.0", async () => {
  const { DEFAULT_GROUPS, SLOTH_PKG, SLOTH_VERSION } = await import("../scripts/lib/tools/mod.ts");
  assert.ok((DEFAULT_GROUPS as readonly string[]).includes("sloth"));
  assert.equal(SLOTH_PKG, "github.com/slok/sloth/cmd/sloth");
  assert.equal(SLOTH_VERSION, "v0.16.0");
});

Deno.test({
  name: "tools: the installed sloth reports the pinned version (set at build, not 'dev')",
  ignore: missing("sloth"),
  async fn() {
    const { SLOTH_VERSION } = await import("../scripts/lib/tools/mod.ts");
    const out = await new Deno.Command(resolveTool("sloth")!, {
      args: ["version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), SLOTH_VERSION);
  },
});
