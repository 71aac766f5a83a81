// Tools: builds or finds the pinned real components (collector, Jaeger, Prometheus, Sloth, the k8s
// control plane). Used by `deno task tools`, and by every task that runs one (stack, validate, slo).
/**
 * Installs into toolsDir()/bin. The collector is built with the official
 * builder (ocb) from config/otelcol-builder.yaml, Jaeger v2 with Go from a pinned module
 * version, Prometheus/promtool/Alertmanager come from Debian packages.
 *
 * With --k8s (the `k8s` group, never built by default: 12 minutes measured
 * cold on 2 cores) it also builds a real kube-apiserver and kubectl from the
 * Go module proxy, installs etcd (Debian etcd-server), builds controller-gen
 * and generates the prometheus-operator CRDs the cluster phases apply; see
 * installK8s.
 *
 * Idempotent: each built component leaves a stamp (hash of its inputs: the
 * manifest text or the pin) next to the binary; when the stamp matches and
 * the binary exists, the step is skipped, so a second run only prints the
 * table.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { MissingPrerequisite, UsageError } from "../cli.ts";
import { repoPath, toolsDir } from "../paths.ts";
import {
  formatElapsed,
  type Progress,
  progress,
  type ProgressOptions,
  stepLine,
} from "../spinner.ts";
import { tailFile } from "../process.ts";
import {
  BuildCounter,
  cargoCompiledCrate,
  goBuildWithProgress,
  runCounted,
} from "./build_progress.ts";

/**
 * What each build usually takes with empty Go caches on 2 cores, said before
 * it starts. Measured here: the collector 7 min alone, 15 min 24 s with other
 * work on the machine; Jaeger 4.5 min alone, 9 min 13 s shared (issue 15).
 */
export const COLD_BUILD = {
  collector: "usually 7-15 min on 2 cores",
  jaeger: "usually 4-9 min on 2 cores",
  sloth: "usually 2-4 min on 2 cores",
  victorialogs: "usually about 1 min on 2 cores",
  kubernetes: "usually 4-6 min each on 2 cores (about 10 min for all four)",
  oha: "usually about 5 min on 2 cores",
} as const;

/** Jaeger v2: the v1.76.0 tag of the module is the v2 binary line. */
export const JAEGER_PKG = "github.com/jaegertracing/jaeger/cmd/jaeger";
export const JAEGER_VERSION = "v1.76.0";

/**
 * The linters kubernetes-mixin runs. Both were checked on 2026-11-25 with
 * `go list -m -versions` and `go list -m <module>@<version>`: the Go module
 * proxy reachable here answers 403 "This module version is not available"
 * for every version of both modules, so they cannot be built here and are
 * left out (reported as not installed, with this reason).
 */
export const UNAVAILABLE_LINTERS: { component: string; module: string; reason: string }[] = [
  {
    component: "dashboard-linter",
    module: "github.com/grafana/dashboard-linter",
    reason: "not served by the Go module proxy here (403 for every version)",
  },
  {
    component: "pint",
    module: "github.com/cloudflare/pint",
    reason: "not served by the Go module proxy here (403 for every version)",
  },
];

export interface ToolRow {
  component: string;
  version: string;
  path: string;
  /** "built", "up to date", "found", "installed (apt)", "not installed: why". */
  state: string;
}

export interface ToolsOptions {
  /** Rebuild even when the stamp matches. */
  force?: boolean;
  /** Only these components (collector, jaeger, debian, k8s); default DEFAULT_GROUPS. */
  only?: string[];
  /** Add the k8s group to the default (or `only`) set. */
  k8s?: boolean;
  /** Add the bench group (oha) to the default (or `only`) set. */
  bench?: boolean;
  /** Progress display options (tests pass a writer). */
  progress?: ProgressOptions;
  /** Extra log sink for step lines. */
  log?: (line: string) => void;
}

export const COMPONENT_GROUPS = [
  "collector",
  "jaeger",
  "sloth",
  "victorialogs",
  "debian",
  "k8s",
  "bench",
] as const;
/**
 * What a plain `deno task tools` installs; `k8s` (--k8s) and `bench` (--bench:
 * oha, which needs Rust) are opt-in.
 */
export const DEFAULT_GROUPS = ["collector", "jaeger", "sloth", "victorialogs", "debian"] as const;
/**
 * What `deno task stack up` runs, and so all `deno task demo` builds on a
 * first run: Sloth is only `deno task slo`'s (rules/slo-rules.yaml is
 * committed), so the demo does not wait for it.
 */
export const STACK_GROUPS = ["collector", "jaeger", "victorialogs", "debian"] as const;

export function binDir(): string {
  return join(toolsDir(), "bin");
}

function which(name: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      const st = Deno.statSync(p);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111)) return p;
    } catch { /* not here */ }
  }
  return null;
}

/**
 * Finds an installed component: toolsDir()/bin first, then PATH. Alertmanager
 * is `prometheus-alertmanager` in Debian and `alertmanager` upstream.
 */
export function resolveTool(name: string): string | null {
  const names = name === "alertmanager" || name === "prometheus-alertmanager"
    ? ["alertmanager", "prometheus-alertmanager"]
    : [name];
  for (const n of names) {
    const p = join(binDir(), n);
    if (existsSync(p)) return p;
  }
  for (const n of names) {
    const p = which(n);
    if (p) return p;
  }
  return null;
}

/** Like resolveTool, but a missing tool is a MissingPrerequisite (exit 2). */
export function requireTool(name: string): string {
  const p = resolveTool(name);
  if (p) return p;
  const fix = ["otelcol-obskit", "jaeger", "sloth", "victoria-logs"].includes(name)
    ? "run 'deno task tools'"
    : name === "oha"
    ? "run 'deno task tools --bench' (builds it with cargo)"
    : K8S_TOOLS.includes(name)
    ? "run 'deno task tools --k8s' (as root for etcd)"
    : "install the Debian packages: apt-get install prometheus prometheus-alertmanager, or run 'deno task tools' as root";
  throw new MissingPrerequisite(`${name} not found in ${binDir()} or on PATH`, fix);
}

/** SHA-256 hex of the given strings (joined with NUL). */
export async function stampHash(...parts: string[]): Promise<string> {
  const data = new TextEncoder().encode(parts.join("\0"));
  const digest = await crypto.subtle.digest("SHA-256", data);
  return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
}

interface Stamp {
  hash: string;
  version: string;
  path: string;
  builtAt: string;
  buildSeconds: number;
}

function stampPath(component: string): string {
  return join(toolsDir(), "stamps", `${component}.json`);
}

export function readStamp(component: string): Stamp | null {
  try {
    return JSON.parse(Deno.readTextFileSync(stampPath(component))) as Stamp;
  } catch {
    return null;
  }
}

function writeStamp(component: string, stamp: Stamp): void {
  Deno.mkdirSync(join(toolsDir(), "stamps"), { recursive: true });
  Deno.writeTextFileSync(stampPath(component), JSON.stringify(stamp, null, 2) + "\n");
}

/**
 * Runs `work` as the step `p` shows: a failure marks the step failed and is
 * rethrown; success ends it (with `detail`) and returns its milliseconds.
 */
async function step(p: Progress, work: () => Promise<void>, detail?: string): Promise<number> {
  try {
    await work();
  } catch (err) {
    p.fail();
    throw err;
  }
  return p.succeed(detail);
}

/** Stamps a component just built and adds its row to the summary table. */
function recordBuilt(
  rows: ToolRow[],
  component: string,
  version: string,
  path: string,
  hash: string,
  ms: number,
  shownAs = component,
): void {
  writeStamp(component, {
    hash,
    version,
    path,
    builtAt: new Date().toISOString(),
    buildSeconds: ms / 1000,
  });
  rows.push({ component: shownAs, version, path, state: `built in ${formatElapsed(ms)}` });
}

/** True when the component's stamp matches `hash` and its binary exists. */
export function upToDate(component: string, hash: string): Stamp | null {
  const s = readStamp(component);
  return s && s.hash === hash && existsSync(s.path) ? s : null;
}

/**
 * When the stamp says `hash` was built (and --force was not given), reports
 * `component` up to date and returns true: its installer has nothing to do.
 */
function reportIfUpToDate(
  opts: ToolsOptions,
  rows: ToolRow[],
  component: string,
  version: string,
  bin: string,
  hash: string,
): boolean {
  if (opts.force || !upToDate(component, hash)) return false;
  stepLine(`${component} ${version}`, "up to date", opts.progress);
  rows.push({ component, version, path: bin, state: "up to date" });
  return true;
}

export interface CollectorManifest {
  text: string;
  name: string;
  version: string;
  /** ocb version: the core release the manifest's components are at. */
  builderVersion: string;
}

/** Reads config/otelcol-builder.yaml: binary name, version, builder version. */
export function readManifest(path = repoPath("config", "otelcol-builder.yaml")): CollectorManifest {
  const text = Deno.readTextFileSync(path);
  const doc = parseYaml(text) as { dist?: { name?: string; version?: string } };
  const name = doc?.dist?.name;
  const version = doc?.dist?.version;
  if (!name || !version) throw new UsageError(`${path}: dist.name and dist.version are required`);
  return { text, name, version, builderVersion: `v${version.replace(/^v/, "")}` };
}

/** The manifest with dist.output_path pointed at `outputPath` (absolute). */
export function rewriteOutputPath(manifestText: string, outputPath: string): string {
  if (/^\s+output_path:.*$/m.test(manifestText)) {
    return manifestText.replace(/^(\s+)output_path:.*$/m, `$1output_path: ${outputPath}`);
  }
  return manifestText.replace(/^dist:\s*$/m, `dist:\n  output_path: ${outputPath}`);
}

/**
 * The `go build` flags ocb's own compile step uses for this manifest
 * (cmd/builder internal/builder Compile), and its CGO_ENABLED: the tools
 * step compiles the generated sources itself so it can show progress.
 */
export function collectorBuildFlags(
  manifestText: string,
): { build: string[]; env: Record<string, string> } {
  const dist = (parseYaml(manifestText) as { dist?: Record<string, unknown> })?.dist ?? {};
  const debug = dist.debug_compilation === true;
  const build = [
    "-trimpath",
    `-ldflags=${debug ? "" : "-s -w"}`,
    `-gcflags=${debug ? "all=-N -l" : ""}`,
  ];
  if (typeof dist.build_tags === "string" && dist.build_tags) build.push("-tags", dist.build_tags);
  return { build, env: { CGO_ENABLED: dist.cgo_enabled === true ? "1" : "0" } };
}

/**
 * `go install -v module/pkg@version` with a progress bar: the total comes
 * from `go list -deps` run inside the module as Go downloaded it (go list
 * does not take pkg@version).
 */
async function goInstallWithProgress(
  label: string,
  usual: string,
  o: { module: string; version: string; pkg: string; buildFlags: string[]; logFile: string },
  popts?: ProgressOptions,
): Promise<number> {
  const started = performance.now();
  let dir: string | undefined;
  const p = progress(`${label}: resolving modules`, popts);
  await step(p, async () => {
    const info = JSON.parse(
      await captured(
        `go mod download ${o.module}`,
        "go",
        ["mod", "download", "-json", `${o.module}@${o.version}`],
        { cwd: toolsDir(), env: goEnv({ GOFLAGS: "" }) },
      ),
    ) as { Dir?: string };
    dir = info.Dir;
  });
  const rel = o.pkg === o.module ? "." : `./${o.pkg.slice(o.module.length + 1)}`;
  await goBuildWithProgress(`building ${label}`, usual, {
    what: `go install of ${label}`,
    cmd: "go",
    args: ["install", "-v", ...o.buildFlags, `${o.pkg}@${o.version}`],
    // The module cache is read-only: go list must not try to tidy it.
    list: { pkg: rel, flags: o.buildFlags, cwd: dir, env: goEnv({ GOFLAGS: "-mod=readonly" }) },
    env: goEnv({ GOBIN: binDir() }),
    logFile: o.logFile,
  }, popts);
  return performance.now() - started;
}

/** Environment for Go: let a module's `go` line fetch a newer toolchain through the proxy. */
function goEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { GOTOOLCHAIN: "auto", GOFLAGS: "-mod=mod", ...extra };
}

async function goVersion(): Promise<string> {
  const go = which("go");
  if (!go) {
    throw new MissingPrerequisite(
      "go not found on PATH; it builds the collector and Jaeger",
      "install Go >= 1.26 from https://go.dev/dl/ (or apt-get install golang-go if new enough) and re-run 'deno task tools'",
    );
  }
  const out = await new Deno.Command(go, { args: ["version"], stdout: "piped", stderr: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Runs a command with output appended to `logFile`; throws with the log's
 * last lines when it fails.
 */
async function runLogged(
  what: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; logFile: string },
): Promise<void> {
  const log = await Deno.open(opts.logFile, { create: true, append: true });
  try {
    await log.write(new TextEncoder().encode(`\n$ ${cmd} ${args.join(" ")}\n`));
  } finally {
    log.close();
  }
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const append = async (stream: ReadableStream<Uint8Array>) => {
    const f = await Deno.open(opts.logFile, { append: true });
    try {
      for await (const chunk of stream) await f.write(chunk);
    } finally {
      f.close();
    }
  };
  const [status] = await Promise.all([child.status, append(child.stdout), append(child.stderr)]);
  if (!status.success) {
    const tail = tailFile(opts.logFile, 12);
    throw new Error(
      `${what} failed (exit ${status.code}); last lines of ${opts.logFile}:\n${tail}`,
    );
  }
}

async function versionOf(path: string, args = ["--version"]): Promise<string> {
  try {
    const out = await new Deno.Command(path, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const m = /version:?\s+v?([0-9][^\s,)]*)/i.exec(text);
    return m ? m[1] : "?";
  } catch {
    return "?";
  }
}

function logsDir(): string {
  const d = join(toolsDir(), "logs");
  Deno.mkdirSync(d, { recursive: true });
  return d;
}

/** Builds the collector with ocb (installing ocb first). */
async function installCollector(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const manifest = readManifest();
  const bin = join(binDir(), manifest.name);
  const hash = await stampHash("collector", manifest.text, manifest.builderVersion);
  const fresh = opts.force ? null : upToDate("collector", hash);
  if (fresh) {
    stepLine(`collector ${manifest.name} ${manifest.version}`, "up to date", opts.progress);
    rows.push({ component: manifest.name, version: fresh.version, path: bin, state: "up to date" });
    return;
  }
  const goVer = await goVersion();
  const builder = join(binDir(), "builder");
  const builderHash = await stampHash("builder", manifest.builderVersion);
  if (opts.force || !upToDate("builder", builderHash)) {
    const p = progress(`ocb builder ${manifest.builderVersion} (go install)`, opts.progress);
    const ms = await step(p, async () => {
      await runLogged(
        "go install of the collector builder",
        "go",
        ["install", `go.opentelemetry.io/collector/cmd/builder@${manifest.builderVersion}`],
        { env: goEnv({ GOBIN: binDir() }), logFile: join(logsDir(), "builder.log") },
      );
    }, goVer);
    writeStamp("builder", {
      hash: builderHash,
      version: manifest.builderVersion,
      path: builder,
      builtAt: new Date().toISOString(),
      buildSeconds: ms / 1000,
    });
  }
  const buildDir = join(toolsDir(), "build");
  Deno.mkdirSync(buildDir, { recursive: true });
  const out = join(buildDir, "otelcol");
  const manifestCopy = join(buildDir, "otelcol-builder.yaml");
  Deno.writeTextFileSync(manifestCopy, rewriteOutputPath(manifest.text, out));
  const logFile = join(logsDir(), "collector-build.log");
  Deno.writeTextFileSync(logFile, "");
  const started = performance.now();
  // ocb buffers the output of the `go build` it runs, so it cannot show progress: it
  // generates the sources and resolves the modules, and the compile is ours, with ocb's flags.
  const gen = progress(
    `collector ${manifest.name} ${manifest.version}: generating sources, resolving modules (ocb)`,
    opts.progress,
  );
  await step(gen, async () => {
    await runLogged(
      "collector sources (ocb)",
      builder,
      ["--config", manifestCopy, "--skip-compilation"],
      { cwd: buildDir, env: goEnv(), logFile },
    );
  });
  const flags = collectorBuildFlags(manifest.text);
  await goBuildWithProgress(
    `building the collector ${manifest.name} ${manifest.version}`,
    COLD_BUILD.collector,
    {
      what: "collector build (go build)",
      cmd: "go",
      args: ["build", "-v", ...flags.build, "-o", manifest.name, "."],
      list: { pkg: ".", flags: flags.build, cwd: out, env: goEnv(flags.env) },
      cwd: out,
      env: goEnv(flags.env),
      logFile,
    },
    opts.progress,
  );
  Deno.copyFileSync(join(out, manifest.name), bin);
  Deno.chmodSync(bin, 0o755);
  const version = await versionOf(bin);
  const ms = performance.now() - started;
  stepLine(`collector ${manifest.name}`, `version ${version}`, opts.progress, "✔");
  writeStamp("collector", {
    hash,
    version,
    path: bin,
    builtAt: new Date().toISOString(),
    buildSeconds: ms / 1000,
  });
  rows.push({
    component: manifest.name,
    version,
    path: bin,
    state: `built in ${formatElapsed(ms)}`,
  });
}

/** Builds Jaeger v2 from a throwaway module that pins it as a Go tool. */
async function installJaeger(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const bin = join(binDir(), "jaeger");
  const hash = await stampHash("jaeger", JAEGER_PKG, JAEGER_VERSION);
  if (reportIfUpToDate(opts, rows, "jaeger", JAEGER_VERSION, bin, hash)) return;
  await goVersion();
  const mod = join(toolsDir(), "jaeger-module");
  Deno.mkdirSync(mod, { recursive: true });
  // A fresh go.mod each time: the pin is the only input.
  Deno.writeTextFileSync(join(mod, "go.mod"), "module obskit/jaeger-tool\n\ngo 1.26\n");
  try {
    Deno.removeSync(join(mod, "go.sum"));
  } catch { /* none */ }
  const logFile = join(logsDir(), "jaeger-build.log");
  Deno.writeTextFileSync(logFile, "");
  const started = performance.now();
  const p = progress(`jaeger ${JAEGER_VERSION}: resolving modules (go get)`, opts.progress);
  await step(p, async () => {
    await runLogged("go get of jaeger", "go", ["get", "-tool", `${JAEGER_PKG}@${JAEGER_VERSION}`], {
      cwd: mod,
      env: goEnv(),
      logFile,
    });
  });
  await goBuildWithProgress(`building jaeger ${JAEGER_VERSION}`, COLD_BUILD.jaeger, {
    what: "go build of jaeger",
    cmd: "go",
    args: ["build", "-v", "-o", bin, JAEGER_PKG],
    list: { pkg: JAEGER_PKG, flags: [], cwd: mod, env: goEnv() },
    cwd: mod,
    env: goEnv(),
    logFile,
  }, opts.progress);
  recordBuilt(rows, "jaeger", JAEGER_VERSION, bin, hash, performance.now() - started);
}

function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Sloth: generates the SLO recording rules and burn-rate alerts (rules/slo-rules.yaml)

/** Sloth, from the Go module proxy (no replace lines in its go.mod, so `go install` builds it). */
export const SLOTH_PKG = "github.com/slok/sloth/cmd/sloth";
export const SLOTH_MODULE = "github.com/slok/sloth";
export const SLOTH_VERSION = "v0.16.0";

/** Builds Sloth with `go install pkg@version` into the tools folder. */
async function installSloth(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const bin = join(binDir(), "sloth");
  // Upstream's release builds set the version this way; `go install` alone says "dev",
  // which would end up in the generated rules' sloth_slo_info{sloth_version}.
  const ldflags = `-X github.com/slok/sloth/internal/info.Version=${SLOTH_VERSION}`;
  const hash = await stampHash("sloth", SLOTH_PKG, SLOTH_VERSION, ldflags);
  if (reportIfUpToDate(opts, rows, "sloth", SLOTH_VERSION, bin, hash)) return;
  await goVersion();
  const logFile = join(logsDir(), "sloth-build.log");
  Deno.writeTextFileSync(logFile, "");
  const ms = await goInstallWithProgress(`sloth ${SLOTH_VERSION}`, COLD_BUILD.sloth, {
    module: SLOTH_MODULE,
    version: SLOTH_VERSION,
    pkg: SLOTH_PKG,
    buildFlags: ["-ldflags", ldflags],
    logFile,
  }, opts.progress);
  recordBuilt(rows, "sloth", SLOTH_VERSION, bin, hash, ms);
}

// ---------------------------------------------------------------------------
// VictoriaLogs: the local stack's logs backend (Apache-2.0; Loki is AGPL)

/** From the Go module proxy (no replace lines, so `go install` builds it; about 40 s). */
export const VICTORIALOGS_PKG = "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs";
export const VICTORIALOGS_MODULE = "github.com/VictoriaMetrics/VictoriaLogs";
export const VICTORIALOGS_VERSION = "v1.52.1";

/** Builds victoria-logs with `go install pkg@version` into the tools folder. */
async function installVictoriaLogs(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const name = "victoria-logs";
  const bin = join(binDir(), name);
  const hash = await stampHash(name, VICTORIALOGS_PKG, VICTORIALOGS_VERSION);
  if (reportIfUpToDate(opts, rows, name, VICTORIALOGS_VERSION, bin, hash)) return;
  await goVersion();
  const logFile = join(logsDir(), `${name}-build.log`);
  Deno.writeTextFileSync(logFile, "");
  const ms = await goInstallWithProgress(
    `${name} ${VICTORIALOGS_VERSION}`,
    COLD_BUILD.victorialogs,
    {
      module: VICTORIALOGS_MODULE,
      version: VICTORIALOGS_VERSION,
      pkg: VICTORIALOGS_PKG,
      buildFlags: [],
      logFile,
    },
    opts.progress,
  );
  recordBuilt(rows, name, VICTORIALOGS_VERSION, bin, hash, ms);
}

/** Prometheus, promtool, Alertmanager: Debian packages (apt-get when root and missing). */
async function installDebian(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const wanted = [
    { component: "prometheus", binaries: ["prometheus"], pkg: "prometheus" },
    { component: "promtool", binaries: ["promtool"], pkg: "prometheus" },
    {
      component: "alertmanager",
      binaries: ["prometheus-alertmanager", "alertmanager"],
      pkg: "prometheus-alertmanager",
    },
    // The node CPU/memory panels and NodeHigh* alerts' data on a laptop (stack up runs it).
    {
      component: "node-exporter",
      binaries: ["prometheus-node-exporter"],
      pkg: "prometheus-node-exporter",
    },
  ];
  const findAny = (names: string[]) => names.map((n) => which(n)).find((p) => p) ?? null;
  const absent = wanted.filter((w) => !findAny(w.binaries));
  let state = "found";
  if (absent.length > 0) {
    const pkgs = [...new Set(absent.map((a) => a.pkg))];
    if (!isRoot() || !which("apt-get")) {
      throw new MissingPrerequisite(
        `${absent.map((a) => a.component).join(", ")} not found on PATH`,
        `install the Debian package(s) as root: apt-get install ${pkgs.join(" ")}`,
      );
    }
    const p = progress(`apt-get install ${pkgs.join(" ")}`, opts.progress);
    const logFile = join(logsDir(), "apt.log");
    await step(p, async () => {
      await runLogged("apt-get update", "apt-get", ["update", "-qq"], { logFile });
      await runLogged("apt-get install", "apt-get", ["install", "-y", "-qq", ...pkgs], {
        env: { DEBIAN_FRONTEND: "noninteractive" },
        logFile,
      });
    });
    state = "installed (apt)";
  } else {
    stepLine("prometheus, promtool, alertmanager (Debian)", "found on PATH", opts.progress);
  }
  for (const w of wanted) {
    const path = findAny(w.binaries);
    if (!path) throw new Error(`${w.component} still missing after apt-get install ${w.pkg}`);
    rows.push({ component: w.component, version: await versionOf(path), path, state });
  }
}

// ---------------------------------------------------------------------------
// The k8s group: a real control plane's programs and the CRDs it serves

/** Kubernetes release built for the control plane (kube-apiserver, kubectl). */
export const KUBERNETES_VERSION = "v1.37.2";
/** controller-gen, which turns prometheus-operator's Go API types into CRDs. */
export const CONTROLLER_TOOLS_VERSION = "v0.23.0";
/**
 * prometheus-operator's API module. v0.93.1 is the operator kube-prometheus-stack
 * 88.5.3 (CHART_VERSION in scripts/lib/k8s/mod.ts) runs: the chart's appVersion,
 * and the CRDs it ships say `operator.prometheus.io/version: 0.93.1`. Checked
 * on 2026-11-29: the three generated specs equal the chart's byte for byte
 * (only the controller-gen version annotation differs).
 */
export const PROMETHEUS_OPERATOR_VERSION = "v0.93.1";
export const MONITORING_API_MODULE =
  "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring";
/** The CRDs the cluster phases use (file names controller-gen writes). */
export const CRD_FILES = [
  "monitoring.coreos.com_prometheusrules.yaml",
  "monitoring.coreos.com_servicemonitors.yaml",
  "monitoring.coreos.com_podmonitors.yaml",
];
/** Binaries the k8s group provides (etcd from Debian, the rest built). */
export const K8S_TOOLS = [
  "kube-apiserver",
  "kubectl",
  "etcd",
  "controller-gen",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
];
/**
 * Built from k8s.io/kubernetes' own main packages. The controller-manager
 * and scheduler let `control-plane up --simulate-nodes` run real
 * controllers (DaemonSet, Deployment, ReplicaSet) and real scheduling.
 */
export const KUBERNETES_PROGRAMS = [
  "kube-apiserver",
  "kubectl",
  "kube-controller-manager",
  "kube-scheduler",
];
/**
 * kwok manages Node objects we create and moves their pods through the
 * Pending -> Running -> Ready stages a kubelet would, without containers
 * (its default "fast" node and pod stages are compiled in).
 */
export const KWOK_VERSION = "v0.8.0";
/** The stages of kwok's "fast" set (kustomize/stage/fast in its module), concatenated by tools. */
export const KWOK_STAGE_FILES = [
  "kustomize/stage/node/fast/node-initialize.yaml",
  "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
  "kustomize/stage/pod/fast/pod-ready.yaml",
  "kustomize/stage/pod/fast/pod-complete.yaml",
  "kustomize/stage/pod/fast/pod-delete.yaml",
];

/** kwok's stages, copied from its module by `deno task tools --k8s`. */
export function kwokStagesFile(): string {
  return join(toolsDir(), "kwok", "stages.yaml");
}

/** Folder of the generated CRDs (one YAML file per CRD). */
export function crdDir(): string {
  return join(toolsDir(), "crds");
}

/** Staging modules (k8s.io/api, ...) are tagged v0.<minor>.<patch> alongside v1.<minor>.<patch>. */
export function stagingVersion(kubernetesVersion: string): string {
  const m = /^v1\.(\d+\.\d+)$/.exec(kubernetesVersion);
  if (!m) throw new UsageError(`not a Kubernetes release tag: ${kubernetesVersion}`);
  return `v0.${m[1]}`;
}

/**
 * The wrapper module's go.mod. k8s.io/kubernetes replaces its staging
 * modules with folders inside its own repository (`=> ./staging/src/...`),
 * which a module that requires it cannot see; the same modules are
 * published at the matching v0 tag, so each such line is restated as a
 * replace to that version.
 */
export function wrapperGoMod(kubernetesGoMod: string, kubernetesVersion: string): string {
  const staging = stagingVersion(kubernetesVersion);
  const mods = [
    ...kubernetesGoMod.matchAll(/^\s*(?:replace\s+)?(k8s\.io\/\S+)\s+=>\s+\.\/staging\//gm),
  ]
    .map((m) => m[1]);
  if (mods.length === 0) {
    throw new Error(`k8s.io/kubernetes ${kubernetesVersion}: no './staging' replace lines found`);
  }
  const goLine = /^go\s+(\S+)/m.exec(kubernetesGoMod)?.[1] ?? "1.26";
  return [
    "// Generated by deno task tools --k8s: builds kube-apiserver and kubectl.",
    "module obskit.local/kubernetes-tools",
    "",
    `go ${goLine}`,
    "",
    `require k8s.io/kubernetes ${kubernetesVersion}`,
    "",
    "replace (",
    ...[...new Set(mods)].map((m) => `\t${m} => ${m} ${staging}`),
    ")",
    "",
  ].join("\n");
}

/** Runs a command and returns its stdout; a failure throws with its last stderr lines. */
async function captured(
  what: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    const err = dec.decode(out.stderr).trim().split("\n").slice(-6).join("\n");
    throw new Error(`${what} failed (exit ${out.code}): ${err}`);
  }
  return dec.decode(out.stdout);
}

/** -ldflags giving the binaries an honest version (upstream sets these from git). */
export function kubernetesLdflags(version: string): string {
  const m = /^v(\d+)\.(\d+)\./.exec(version);
  const pkg = "k8s.io/component-base/version";
  return [
    "-s",
    "-w",
    `-X ${pkg}.gitVersion=${version}`,
    ...(m ? [`-X ${pkg}.gitMajor=${m[1]}`, `-X ${pkg}.gitMinor=${m[2]}`] : []),
    `-X ${pkg}.gitTreeState=clean`,
  ].join(" ");
}

/** kube-apiserver and kubectl from one wrapper module (they share most packages). */
async function installKubernetes(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const programs = KUBERNETES_PROGRAMS;
  const ldflags = kubernetesLdflags(KUBERNETES_VERSION);
  const hash = await stampHash("kubernetes", KUBERNETES_VERSION, ldflags, ...programs);
  const fresh = opts.force ? null : upToDate("kubernetes", hash);
  if (fresh && programs.every((p) => existsSync(join(binDir(), p)))) {
    stepLine(`${programs.join(", ")} ${KUBERNETES_VERSION}`, "up to date", opts.progress);
    for (const p of programs) {
      rows.push({
        component: p,
        version: KUBERNETES_VERSION,
        path: join(binDir(), p),
        state: "up to date",
      });
    }
    return;
  }
  await goVersion();
  const mod = join(toolsDir(), "kubernetes-module");
  Deno.mkdirSync(mod, { recursive: true });
  for (const f of ["go.mod", "go.sum"]) {
    try {
      Deno.removeSync(join(mod, f));
    } catch { /* none */ }
  }
  const logFile = join(logsDir(), "kubernetes-build.log");
  Deno.writeTextFileSync(logFile, "");
  const started = performance.now();
  const p = progress(
    `${programs.join(", ")} ${KUBERNETES_VERSION}: resolving modules`,
    opts.progress,
  );
  await step(p, async () => {
    const info = JSON.parse(
      await captured(
        "go mod download k8s.io/kubernetes",
        "go",
        ["mod", "download", "-json", `k8s.io/kubernetes@${KUBERNETES_VERSION}`],
        { cwd: mod, env: goEnv({ GOFLAGS: "" }) },
      ),
    ) as { GoMod?: string; Error?: string };
    if (!info.GoMod) {
      throw new Error(`go mod download k8s.io/kubernetes: ${info.Error ?? "no go.mod"}`);
    }
    Deno.writeTextFileSync(
      join(mod, "go.mod"),
      wrapperGoMod(Deno.readTextFileSync(info.GoMod), KUBERNETES_VERSION),
    );
    // Upstream's own main packages, pinned as tools of the wrapper module.
    await runLogged(
      "go get of the Kubernetes programs",
      "go",
      ["get", "-tool", ...programs.map((p) => `k8s.io/kubernetes/cmd/${p}`)],
      { cwd: mod, env: goEnv(), logFile },
    );
  });
  for (const prog of programs) {
    const flags = ["-trimpath", "-ldflags", ldflags];
    const pkg = `k8s.io/kubernetes/cmd/${prog}`;
    await goBuildWithProgress(`building ${prog}`, COLD_BUILD.kubernetes, {
      what: `go build of ${prog}`,
      cmd: "go",
      args: ["build", "-v", ...flags, "-o", join(binDir(), prog), pkg],
      list: { pkg, flags, cwd: mod, env: goEnv() },
      cwd: mod,
      env: goEnv(),
      logFile,
    }, opts.progress);
  }
  const ms = performance.now() - started;
  writeStamp("kubernetes", {
    hash,
    version: KUBERNETES_VERSION,
    path: join(binDir(), "kube-apiserver"),
    builtAt: new Date().toISOString(),
    buildSeconds: ms / 1000,
  });
  for (const prog of programs) {
    rows.push({
      component: prog,
      version: KUBERNETES_VERSION,
      path: join(binDir(), prog),
      state: `built in ${formatElapsed(ms)} (together)`,
    });
  }
}

/** etcd: the Debian package etcd-server (apt-get when root and missing). */
async function installEtcd(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  let path = which("etcd");
  let state = "found";
  if (!path) {
    if (!isRoot() || !which("apt-get")) {
      throw new MissingPrerequisite(
        "etcd not found on PATH",
        "install the Debian package as root: apt-get install etcd-server",
      );
    }
    const p = progress("apt-get install etcd-server", opts.progress);
    const logFile = join(logsDir(), "apt.log");
    await step(p, async () => {
      await runLogged("apt-get update", "apt-get", ["update", "-qq"], { logFile });
      await runLogged("apt-get install", "apt-get", ["install", "-y", "-qq", "etcd-server"], {
        env: { DEBIAN_FRONTEND: "noninteractive" },
        logFile,
      });
    });
    state = "installed (apt)";
    path = which("etcd");
    if (!path) throw new Error("etcd still missing after apt-get install etcd-server");
  } else {
    stepLine("etcd (Debian etcd-server)", "found on PATH", opts.progress);
  }
  rows.push({ component: "etcd", version: await versionOf(path), path, state });
}

/**
 * controller-gen, then the CRDs generated from prometheus-operator's API
 * types (not a hand-written schema) into crdDir().
 */
async function installCrds(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const cg = join(binDir(), "controller-gen");
  const cgHash = await stampHash("controller-gen", CONTROLLER_TOOLS_VERSION);
  const logFile = join(logsDir(), "crds.log");
  if (opts.force || !upToDate("controller-gen", cgHash)) {
    await goVersion();
    Deno.writeTextFileSync(logFile, "");
    const p = progress(`controller-gen ${CONTROLLER_TOOLS_VERSION} (go install)`, opts.progress);
    const ms = await step(p, async () => {
      await runLogged(
        "go install of controller-gen",
        "go",
        ["install", `sigs.k8s.io/controller-tools/cmd/controller-gen@${CONTROLLER_TOOLS_VERSION}`],
        { env: goEnv({ GOBIN: binDir() }), logFile },
      );
    });
    recordBuilt(rows, "controller-gen", CONTROLLER_TOOLS_VERSION, cg, cgHash, ms);
  } else {
    rows.push({
      component: "controller-gen",
      version: CONTROLLER_TOOLS_VERSION,
      path: cg,
      state: "up to date",
    });
  }
  const crdHash = await stampHash(
    "crds",
    CONTROLLER_TOOLS_VERSION,
    PROMETHEUS_OPERATOR_VERSION,
    ...CRD_FILES,
  );
  const firstCrd = join(crdDir(), CRD_FILES[0]);
  const fresh = opts.force ? null : upToDate("crds", crdHash);
  if (fresh && CRD_FILES.every((f) => existsSync(join(crdDir(), f)))) {
    stepLine(
      `CRDs (prometheus-operator ${PROMETHEUS_OPERATOR_VERSION})`,
      "up to date",
      opts.progress,
    );
  } else {
    const mod = join(toolsDir(), "crd-module");
    Deno.mkdirSync(mod, { recursive: true });
    Deno.writeTextFileSync(
      join(mod, "go.mod"),
      "// Generated by deno task tools --k8s: the API types controller-gen reads.\nmodule obskit.local/crds\n\ngo 1.26\n",
    );
    try {
      Deno.removeSync(join(mod, "go.sum"));
    } catch { /* none */ }
    // A build-tagged import so `go mod tidy` keeps the API package's dependencies.
    Deno.writeTextFileSync(
      join(mod, "tools.go"),
      `//go:build tools\n\npackage tools\n\nimport _ "${MONITORING_API_MODULE}/v1"\n`,
    );
    const out = join(mod, "out");
    try {
      Deno.removeSync(out, { recursive: true });
    } catch { /* none */ }
    const p = progress(
      `CRDs from prometheus-operator ${PROMETHEUS_OPERATOR_VERSION} API types (controller-gen)`,
      opts.progress,
    );
    const ms = await step(p, async () => {
      await runLogged("go get of the monitoring API", "go", [
        "get",
        `${MONITORING_API_MODULE}@${PROMETHEUS_OPERATOR_VERSION}`,
      ], { cwd: mod, env: goEnv(), logFile });
      await runLogged("go mod tidy", "go", ["mod", "tidy"], { cwd: mod, env: goEnv(), logFile });
      await runLogged("controller-gen", cg, [
        "crd:crdVersions=v1",
        `paths=${MONITORING_API_MODULE}/v1`,
        `output:crd:dir=${out}`,
      ], { cwd: mod, env: goEnv(), logFile });
      Deno.mkdirSync(crdDir(), { recursive: true });
      for (const f of CRD_FILES) Deno.copyFileSync(join(out, f), join(crdDir(), f));
    });
    writeStamp("crds", {
      hash: crdHash,
      version: PROMETHEUS_OPERATOR_VERSION,
      path: firstCrd,
      builtAt: new Date().toISOString(),
      buildSeconds: ms / 1000,
    });
  }
  rows.push({
    component: "CRDs (PrometheusRule, ServiceMonitor, PodMonitor)",
    version: `operator ${PROMETHEUS_OPERATOR_VERSION}`,
    path: crdDir(),
    state: fresh ? "up to date" : "generated",
  });
}

/** kwok, pinned, with `go install` (its module is its own main). */
async function installKwok(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const bin = join(binDir(), "kwok");
  const hash = await stampHash("kwok", KWOK_VERSION, ...KWOK_STAGE_FILES);
  // The stage file is built with kwok: both must be there.
  if (
    existsSync(kwokStagesFile()) && reportIfUpToDate(opts, rows, "kwok", KWOK_VERSION, bin, hash)
  ) {
    return;
  }
  await goVersion();
  const logFile = join(logsDir(), "kwok-build.log");
  Deno.writeTextFileSync(logFile, "");
  const p = progress(`kwok ${KWOK_VERSION} (go install)`, opts.progress);
  const ms = await step(p, async () => {
    await runLogged("go install of kwok", "go", [
      "install",
      "-trimpath",
      `-ldflags=-s -w`,
      `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`,
    ], { env: goEnv({ GOBIN: binDir() }), logFile });
    // The stage YAMLs are not compiled in: copy them from the module `go install` just fetched.
    const info = JSON.parse(
      await captured(
        "go mod download sigs.k8s.io/kwok",
        "go",
        ["mod", "download", "-json", `sigs.k8s.io/kwok@${KWOK_VERSION}`],
        { cwd: toolsDir(), env: goEnv({ GOFLAGS: "" }) },
      ),
    ) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`go mod download sigs.k8s.io/kwok: ${info.Error ?? "no Dir"}`);
    const stages = KWOK_STAGE_FILES.map((f) => Deno.readTextFileSync(join(info.Dir!, f)).trim());
    Deno.mkdirSync(join(toolsDir(), "kwok"), { recursive: true });
    Deno.writeTextFileSync(kwokStagesFile(), stages.join("\n---\n") + "\n");
  });
  recordBuilt(rows, "kwok", KWOK_VERSION, bin, hash, ms);
}

/** The k8s group: etcd, the Kubernetes programs, kwok, controller-gen and the CRDs. */
async function installK8s(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  await installEtcd(opts, rows);
  await installCrds(opts, rows);
  await installKubernetes(opts, rows);
  await installKwok(opts, rows);
}

// ---------------------------------------------------------------------------
// The bench group: oha, the open-model HTTP load generator of the bench's latency
// case (issue 14: --latency-correction corrects coordinated omission). MIT.

export const OHA_VERSION = "1.16.0";
/** oha 1.16.0's Cargo.toml: edition 2024, rust-version 1.88. */
export const OHA_MIN_RUST = "1.88";

/** The cargo command line: the pinned version, its own Cargo.lock, into <root>/bin. */
export function ohaInstallArgs(root: string, force = false): string[] {
  return [
    "install",
    "oha",
    "--locked",
    "--version",
    OHA_VERSION,
    "--root",
    root,
    ...(force ? ["--force"] : []),
  ];
}

/** The stamp's hash: the crate, its version and --locked are the build's only inputs. */
export function ohaStampHash(): Promise<string> {
  return stampHash("oha", OHA_VERSION, "--locked");
}

/** True when `version` ("1.95.0") is at least `min` ("1.88"). */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split(".").map(Number), b = min.split(".").map(Number);
  for (let i = 0; i < b.length; i++) {
    if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) > b[i];
  }
  return true;
}

const RUST_FIX =
  `install Rust >= ${OHA_MIN_RUST} with rustup (https://rustup.rs), or apt-get install cargo where the distribution's Rust is that new, then re-run 'deno task tools --bench'`;

/** cargo on PATH and new enough for oha, or a MissingPrerequisite (exit 2). */
async function cargoPath(): Promise<string> {
  const cargo = which("cargo");
  if (!cargo) {
    throw new MissingPrerequisite("cargo not found on PATH; it builds oha for the bench", RUST_FIX);
  }
  // "cargo 1.95.0 (f2d3ce0bd 2026-03-21)": cargo's version is the Rust release it came with.
  const v = await captured("cargo --version", cargo, ["--version"]).catch(() => "");
  const m = /^cargo (\d+\.\d+(?:\.\d+)?)/.exec(v);
  if (m && !versionAtLeast(m[1], OHA_MIN_RUST)) {
    throw new MissingPrerequisite(
      `cargo ${m[1]} is too old for oha ${OHA_VERSION} (needs Rust >= ${OHA_MIN_RUST})`,
      RUST_FIX,
    );
  }
  return cargo;
}

/** Builds oha with `cargo install` into the tools folder, stamped like the Go tools. */
async function installOha(opts: ToolsOptions, rows: ToolRow[]): Promise<void> {
  const bin = join(binDir(), "oha");
  const hash = await ohaStampHash();
  if (reportIfUpToDate(opts, rows, "oha", OHA_VERSION, bin, hash)) return;
  const cargo = await cargoPath();
  const logFile = join(logsDir(), "oha-build.log");
  Deno.writeTextFileSync(logFile, "");
  const p = progress(
    `building oha ${OHA_VERSION} (cargo install --locked): ${COLD_BUILD.oha}`,
    { ...opts.progress, quietEveryMs: Number.POSITIVE_INFINITY },
  );
  const ms = await step(p, async () => {
    await runCounted(
      {
        what: "cargo install of oha",
        cmd: cargo,
        args: ohaInstallArgs(toolsDir(), opts.force),
        env: { CARGO_TERM_COLOR: "never" },
        logFile,
        // cargo names each crate as it compiles it, but not how many there will be.
        counter: new BuildCounter(null, cargoCompiledCrate),
        unit: "crates",
      },
      p,
      opts.progress,
    );
  });
  recordBuilt(rows, "oha", OHA_VERSION, bin, hash, ms);
}

/** Installs everything (or `opts.only`); returns the rows of the closing table. */
export async function installTools(opts: ToolsOptions = {}): Promise<ToolRow[]> {
  const only: string[] = opts.only?.length ? [...opts.only] : [...DEFAULT_GROUPS];
  if (opts.k8s && !only.includes("k8s")) only.push("k8s");
  if (opts.bench && !only.includes("bench")) only.push("bench");
  for (const o of only) {
    if (!(COMPONENT_GROUPS as readonly string[]).includes(o)) {
      throw new UsageError(`unknown component '${o}' (choose from ${COMPONENT_GROUPS.join(", ")})`);
    }
  }
  Deno.mkdirSync(binDir(), { recursive: true });
  const rows: ToolRow[] = [];
  if (only.includes("collector")) {
    await installCollector(opts, rows);
    const b = readStamp("builder");
    if (b && existsSync(b.path)) {
      rows.push({
        component: "builder (ocb)",
        version: b.version,
        path: b.path,
        state: "installed",
      });
    }
  }
  if (only.includes("jaeger")) await installJaeger(opts, rows);
  if (only.includes("sloth")) await installSloth(opts, rows);
  if (only.includes("victorialogs")) await installVictoriaLogs(opts, rows);
  if (only.includes("debian")) await installDebian(opts, rows);
  if (only.includes("k8s")) await installK8s(opts, rows);
  if (only.includes("bench")) await installOha(opts, rows);
  if (DEFAULT_GROUPS.every((g) => only.includes(g))) {
    for (const l of UNAVAILABLE_LINTERS) {
      rows.push({
        component: l.component,
        version: "-",
        path: "-",
        state: `not installed: ${l.reason}`,
      });
    }
  }
  return rows;
}

/** Plain-text table with a header row. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function toolsTable(rows: ToolRow[]): string {
  return formatTable(
    ["component", "version", "path", "state"],
    rows.map((r) => [r.component, r.version, r.path, r.state]),
  );
}
