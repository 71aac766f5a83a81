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

// ---------------------------------------------------------------------------
// Build progress (issue 15 item 6): packages compiled of the total, with an estimate

/** Lines as `go build -v` prints them (a cold collector build, a compile error, a download). */
const GO_BUILD_V = [
  "internal/goarch",
  "internal/abi",
  "github.com/hashicorp/go-version",
  "go.opentelemetry.io/collector/featuregate",
  "gopkg.in/yaml.v3",
  "github.com/json-iterator/go",
  "k8s.io/apimachinery/pkg/util/sets",
  "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver",
  "command-line-arguments",
  "go: downloading github.com/hashicorp/go-version v1.7.0",
  "# go.opentelemetry.io/collector/cmd/builder",
  "./components.go:12:2: undefined: otlpreceiver",
  "note: module requires Go 1.27",
  "",
];

Deno.test("goCompiledPackage: package lines count; errors, headers and downloads do not", async () => {
  const { goCompiledPackage } = await import("../scripts/lib/tools/build_progress.ts");
  const named = GO_BUILD_V.map(goCompiledPackage).filter((p) => p !== null);
  assert.deepEqual(named, GO_BUILD_V.slice(0, 9));
});

Deno.test("cargoCompiledCrate: cargo's Compiling lines name the crate", async () => {
  const { cargoCompiledCrate } = await import("../scripts/lib/tools/build_progress.ts");
  assert.equal(cargoCompiledCrate("   Compiling proc-macro2 v1.0.95"), "proc-macro2");
  assert.equal(cargoCompiledCrate("   Compiling oha v1.16.0"), "oha");
  assert.equal(cargoCompiledCrate("  Downloaded tokio v1.47.1"), null);
  assert.equal(cargoCompiledCrate("    Finished `release` profile [optimized] target(s)"), null);
});

Deno.test("BuildCounter and progressText: bar, percent, estimate, linking; unknown total said so", async () => {
  const { BuildCounter, progressText } = await import("../scripts/lib/tools/build_progress.ts");
  const c = new BuildCounter(200);
  assert.match(progressText(c, 0), /^\[\.{20}\] 0\/200 packages 0 %, estimating time left$/);
  for (let i = 0; i < 50; i++) c.feed(`example.com/p${i}`);
  c.feed("go: downloading example.com/q v1.0.0");
  assert.equal(c.done, 50);
  assert.equal(c.milestone(), 2);
  // 50 of 200 in 60 s: 150 more at the same rate is 180 s.
  assert.equal(progressText(c, 60_000), "[#####...............] 50/200 packages 25 %, ~3m00s left");
  for (let i = 0; i < 150; i++) c.feed(`example.com/r${i}`);
  assert.match(progressText(c, 240_000), /^\[#{20}\] 200\/200 packages, linking$/);
  const u = new BuildCounter(null);
  for (let i = 0; i < 250; i++) u.feed(`example.com/u${i}`);
  assert.equal(progressText(u, 1000), "250 packages compiled (total not known ahead)");
  assert.equal(u.milestone(), 2);
});

Deno.test("expectation: the size and the usual time up front; honest when unknown or cached", async () => {
  const { expectation, countStale } = await import("../scripts/lib/tools/build_progress.ts");
  const usual = "usually 7-15 min on 2 cores";
  // Real go list lines: a cached main package is "stale" but go build -v does not print it.
  assert.deepEqual(
    countStale(
      [
        "true build ID mismatch",
        "false ",
        "true stale dependency: github.com/hashicorp/go-version",
        "true not installed but available in build cache",
        "",
      ].join("\n"),
    ),
    { deps: 4, stale: 2 },
  );
  assert.equal(
    expectation({ deps: 2085, stale: 1846 }, usual),
    "~1846 packages to compile (of 2085), usually 7-15 min on 2 cores",
  );
  assert.match(expectation({ deps: 2085, stale: 1 }, usual), /~1 of 2085 .*a minute or two/);
  assert.match(expectation({ deps: 2085, stale: 0 }, usual), /linking only/);
  assert.match(
    expectation("go list failed: x", usual),
    /^total not known ahead \(go list failed: x\); usually/,
  );
});

Deno.test("runCounted without a terminal: one line per 10 %, from a real process's output", async () => {
  const { BuildCounter, runCounted } = await import("../scripts/lib/tools/build_progress.ts");
  const { progress } = await import("../scripts/lib/spinner.ts");
  const dir = await Deno.makeTempDir({ prefix: "obskit-progress-" });
  try {
    const lines: string[] = [];
    const write = (t: string) => lines.push(t);
    const p = progress("building x", { tty: false, write, quietEveryMs: Infinity });
    const script = Array.from({ length: 40 }, (_, i) => `example.com/pkg${i}`).join("\\n");
    await runCounted(
      {
        what: "build of x",
        cmd: "sh",
        args: ["-c", `printf '${script}\\n' >&2; echo 'go: downloading a v1' >&2`],
        logFile: join(dir, "x.log"),
        counter: new BuildCounter(40),
      },
      p,
      { tty: false, write },
    );
    p.succeed();
    const steps = lines.filter((l) => l.startsWith("  ["));
    assert.equal(steps.length, 10, lines.join(""));
    assert.match(steps[0], /^ {2}\[##\.{18}\] 4\/40 packages 10 %/);
    assert.match(steps.at(-1)!, /40\/40 packages, linking/);
    // Everything the build printed is in the log.
    assert.match(Deno.readTextFileSync(join(dir, "x.log")), /example\.com\/pkg39\ngo: downloading/);
    // A failing build: its log's last lines in the error.
    const q = progress("failing", { tty: false, write, quietEveryMs: Infinity });
    await assert.rejects(
      runCounted(
        {
          what: "build of y",
          cmd: "sh",
          args: ["-c", "echo './y.go:1:1: syntax error' >&2; exit 1"],
          logFile: join(dir, "y.log"),
          counter: new BuildCounter(3),
        },
        q,
        { tty: false, write },
      ),
      /build of y failed \(exit 1\); last lines of .*y\.log:\n.*syntax error/s,
    );
    q.fail();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "goBuildSize: go list's stale count is what go build -v then prints",
  ignore: missing("go"),
  async fn() {
    const { BuildCounter, goBuildSize, lineSplitter } = await import(
      "../scripts/lib/tools/build_progress.ts"
    );
    const dir = await Deno.makeTempDir({ prefix: "obskit-gobuild-" });
    try {
      // Fresh content, so the two packages cannot be in Go's build cache; fmt is.
      const nonce = crypto.randomUUID();
      Deno.writeTextFileSync(join(dir, "go.mod"), "module example.com/progress\n\ngo 1.22\n");
      Deno.mkdirSync(join(dir, "lib"));
      Deno.writeTextFileSync(
        join(dir, "lib", "lib.go"),
        `package lib\n\nconst Nonce = "${nonce}"\n`,
      );
      Deno.writeTextFileSync(
        join(dir, "main.go"),
        `package main\n\nimport (\n\t"fmt"\n\n\t"example.com/progress/lib"\n)\n\nfunc main() { fmt.Println(lib.Nonce) }\n`,
      );
      const env = { GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" };
      const size = await goBuildSize(".", ["-trimpath"], { cwd: dir, env });
      assert.ok(typeof size !== "string", String(size));
      assert.equal(size.stale, 2, JSON.stringify(size));
      assert.ok(size.deps > 10);
      const out = await new Deno.Command("go", {
        args: ["build", "-v", "-trimpath", "-o", join(dir, "x"), "."],
        cwd: dir,
        env,
        stderr: "piped",
      }).output();
      assert.ok(out.success);
      const c = new BuildCounter(size.stale);
      const split = lineSplitter((l) => c.feed(l));
      split.push(new TextDecoder().decode(out.stderr));
      split.end();
      assert.equal(c.done, size.stale);
      assert.equal(c.fraction(), 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("collectorBuildFlags: ocb's own compile flags for the committed manifest", async () => {
  const { collectorBuildFlags } = await import("../scripts/lib/tools/mod.ts");
  const text = Deno.readTextFileSync(repoPath("config", "otelcol-builder.yaml"));
  assert.deepEqual(collectorBuildFlags(text), {
    build: ["-trimpath", "-ldflags=-s -w", "-gcflags="],
    env: { CGO_ENABLED: "0" },
  });
  assert.deepEqual(
    collectorBuildFlags(
      "dist:\n  debug_compilation: true\n  build_tags: a,b\n  cgo_enabled: true\n",
    ),
    {
      build: ["-trimpath", "-ldflags=", "-gcflags=all=-N -l", "-tags", "a,b"],
      env: { CGO_ENABLED: "1" },
    },
  );
});

// ---------------------------------------------------------------------------
// oha (issue 14): the bench's open-model load generator, built with cargo

Deno.test("oha: the pinned cargo command line, opt-in with --bench, not in the demo's set", async () => {
  const m = await import("../scripts/lib/tools/mod.ts");
  assert.deepEqual(m.ohaInstallArgs("/t"), [
    "install",
    "oha",
    "--locked",
    "--version",
    "1.16.0",
    "--root",
    "/t",
  ]);
  assert.equal(m.ohaInstallArgs("/t", true).at(-1), "--force");
  assert.ok(!(m.DEFAULT_GROUPS as readonly string[]).includes("bench"));
  assert.ok((m.COMPONENT_GROUPS as readonly string[]).includes("bench"));
  // The demo builds what the stack runs; Sloth is only `deno task slo`'s.
  assert.deepEqual([...m.STACK_GROUPS], ["collector", "jaeger", "victorialogs", "debian"]);
  assert.ok(m.versionAtLeast("1.95.0", "1.88"));
  assert.ok(m.versionAtLeast("1.88.0", "1.88"));
  assert.ok(!m.versionAtLeast("1.65.0", "1.88"));
  assert.ok(!m.versionAtLeast("1.9", "1.88"));
});

Deno.test("tools --bench: no cargo on PATH -> exit 2, one line saying how to get Rust", async () => {
  const dir = await Deno.makeTempDir({ prefix: "obskit-tools-" });
  try {
    const r = await runTools(["--only", "bench"], { OBSKIT_TOOLS_DIR: dir, PATH: "" });
    assert.equal(r.code, 2, r.stderr);
    const err = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(err.length, 1, r.stderr);
    assert.match(
      err[0],
      /cargo not found on PATH.*rustup \(https:\/\/rustup\.rs\).*apt-get install cargo/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "tools --bench: a matching stamp is a cache hit; cargo is never run (none on PATH)",
  ignore: missing("oha"),
  async fn() {
    const { ohaStampHash, OHA_VERSION } = await import("../scripts/lib/tools/mod.ts");
    const { findTool } = await import("./support.ts");
    const dir = await Deno.makeTempDir({ prefix: "obskit-tools-" });
    try {
      const bin = join(dir, "bin", "oha");
      Deno.mkdirSync(join(dir, "bin"));
      Deno.mkdirSync(join(dir, "stamps"));
      Deno.copyFileSync(findTool("oha")!, bin);
      const stamp = {
        hash: await ohaStampHash(),
        version: OHA_VERSION,
        path: bin,
        builtAt: "2026-11-30T00:50:00.000Z",
        buildSeconds: 300,
      };
      Deno.writeTextFileSync(join(dir, "stamps", "oha.json"), JSON.stringify(stamp));
      const r = await runTools(["--only", "bench"], { OBSKIT_TOOLS_DIR: dir, PATH: "" });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /oha 1\.16\.0: up to date/);
      assert.match(r.stdout, new RegExp(`^oha\\s+1\\.16\\.0\\s+${bin}\\s+up to date$`, "m"));
      assert.deepEqual(JSON.parse(Deno.readTextFileSync(join(dir, "stamps", "oha.json"))), stamp);
      // A stale stamp (another version's hash) is a rebuild: here, cargo missing, exit 2.
      Deno.writeTextFileSync(
        join(dir, "stamps", "oha.json"),
        JSON.stringify({ ...stamp, hash: "0".repeat(64) }),
      );
      const stale = await runTools(["--only", "bench"], { OBSKIT_TOOLS_DIR: dir, PATH: "" });
      assert.equal(stale.code, 2, stale.stderr);
      assert.match(stale.stderr, /cargo not found on PATH/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tools: the installed oha is 1.16.0",
  ignore: missing("oha"),
  async fn() {
    const { findTool } = await import("./support.ts");
    const out = await new Deno.Command(findTool("oha")!, { args: ["--version"], stdout: "piped" })
      .output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "oha 1.16.0");
  },
});
