/**
 * Progress for the long builds `deno task tools` runs (Go packages, cargo
 * crates): units compiled of the total, with an estimate of the time left.
 *
 * Go: `go list -deps` with the build's own flags tells which packages are
 * stale (not in Go's build cache), which is exactly what `go build -v` will
 * print as it compiles them (cached packages are not printed). Cargo prints
 * one "Compiling <crate> v<version>" line per crate; its total is not known
 * ahead, and the display says so rather than guess.
 *
 * On a terminal the spinner's line carries a bar; in a log (CI) one line is
 * printed per 10 % instead of a redraw, or one per 100 units when the total
 * is unknown.
 */
import {
  formatElapsed,
  type Progress,
  progress,
  type ProgressOptions,
  stepLine,
} from "../spinner.ts";
import { tailFile } from "../process.ts";

/** The package a `go build -v` / `go install -v` output line names, or null. */
export function goCompiledPackage(line: string): string | null {
  const t = line.trim();
  // "# pkg" heads a compile error; "go: downloading m v1", errors and notes contain spaces.
  if (!t || t.startsWith("#")) return null;
  return /^[A-Za-z0-9_.~+-]+(\/[A-Za-z0-9_.~+-]+)*$/.test(t) ? t : null;
}

/** The crate a cargo "Compiling <crate> v<version>" line names, or null. */
export function cargoCompiledCrate(line: string): string | null {
  const m = /^\s*Compiling (\S+) v\S+/.exec(line);
  return m ? m[1] : null;
}

/** Counts compiled units against an expected total (null: not known ahead). */
export class BuildCounter {
  done = 0;
  constructor(
    readonly total: number | null,
    readonly parse: (line: string) => string | null = goCompiledPackage,
  ) {}

  /** True when the line named a compiled unit. */
  feed(line: string): boolean {
    if (this.parse(line) === null) return false;
    this.done++;
    return true;
  }

  /** 0..1, or null when the total is unknown. */
  fraction(): number | null {
    if (this.total === null) return null;
    if (this.total <= 0) return 1;
    return Math.min(1, this.done / this.total);
  }

  /**
   * Time left at the rate so far; null until there is a rate worth quoting
   * (the first packages are the small ones, so an early rate flatters).
   */
  etaMs(elapsedMs: number): number | null {
    const f = this.fraction();
    if (f === null || this.done < 10 || f < 0.03 || f >= 1) return null;
    return elapsedMs * (1 - f) / f;
  }

  /** The 10 % step reached (0..10); with no total, the hundreds of units compiled. */
  milestone(): number {
    const f = this.fraction();
    return f === null ? Math.floor(this.done / 100) : Math.floor(f * 10 + 1e-9);
  }
}

/** "[#####...............] 412/1846 packages 22 %, ~6m10s left" and its variants. */
export function progressText(
  c: BuildCounter,
  elapsedMs: number,
  unit = "packages",
  width = 20,
): string {
  const f = c.fraction();
  if (f === null) return `${c.done} ${unit} compiled (total not known ahead)`;
  const filled = Math.round(f * width);
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
  const counts = `${c.done}/${c.total} ${unit}`;
  // The main package is the last one compiled; the link that follows takes a while.
  if (f >= 1) return `${bar} ${counts}, linking`;
  const eta = c.etaMs(elapsedMs);
  return `${bar} ${counts} ${Math.floor(f * 100)} %, ${
    eta === null ? "estimating time left" : `~${formatElapsed(eta)} left`
  }`;
}

export interface CountedRun {
  /** Shown in the failure message ("go build of jaeger failed ..."). */
  what: string;
  cmd: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Every output line is appended here. */
  logFile: string;
  counter: BuildCounter;
  unit?: string;
}

/** Splits decoded chunks into lines, keeping a partial last line for the next chunk. */
export function lineSplitter(onLine: (line: string) => void) {
  let rest = "";
  return {
    push(text: string) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      for (const p of parts) onLine(p.replace(/\r$/, ""));
    },
    end() {
      if (rest) onLine(rest);
      rest = "";
    },
  };
}

/**
 * Runs a build under `p`, feeding its output to the counter and the log.
 * Throws (with the log's last lines) when the build fails; does not end `p`.
 */
export async function runCounted(
  run: CountedRun,
  p: Progress,
  opts: ProgressOptions = {},
): Promise<void> {
  const tty = opts.tty ?? Deno.stderr.isTerminal();
  const write = opts.write ?? ((t: string) => Deno.stderr.writeSync(new TextEncoder().encode(t)));
  const unit = run.unit ?? "packages";
  const c = run.counter;
  let shown = c.milestone();
  const onLine = (line: string) => {
    if (!c.feed(line)) return;
    const text = progressText(c, p.elapsedMs, unit);
    if (tty) return p.update(text);
    const m = c.milestone();
    if (m > shown) {
      shown = m;
      write(`  ${text} (${formatElapsed(p.elapsedMs)})\n`);
    }
  };
  p.update(progressText(c, p.elapsedMs, unit));
  const log = await Deno.open(run.logFile, { create: true, append: true });
  const enc = new TextEncoder();
  // FsFile.write may write less than it is given.
  const append = async (text: string) => {
    let buf = enc.encode(text);
    while (buf.length) buf = buf.subarray(await log.write(buf));
  };
  try {
    await append(`\n$ ${run.cmd} ${run.args.join(" ")}\n`);
    const child = new Deno.Command(run.cmd, {
      args: run.args,
      cwd: run.cwd,
      env: run.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Both streams are counted: go build -v writes to stderr, cargo too; a stray stdout does no harm.
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const lines = lineSplitter(onLine);
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        await append(text);
        lines.push(text);
      }
      lines.end();
    };
    const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
    if (!status.success) {
      throw new Error(
        `${run.what} failed (exit ${status.code}); last lines of ${run.logFile}:\n${
          tailFile(run.logFile, 12)
        }`,
      );
    }
  } finally {
    log.close();
  }
}

/** Packages in the build and those not in Go's build cache (what `go build -v` will print). */
export interface GoBuildSize {
  deps: number;
  stale: number;
}

/**
 * Asks `go list -deps` how many packages the build has and how many are
 * stale, with the build's own flags (-trimpath, -ldflags, tags change the
 * cache keys). A string is the reason it could not tell.
 */
export async function goBuildSize(
  pkg: string,
  buildFlags: string[],
  opts: { cwd?: string; env?: Record<string, string> },
): Promise<GoBuildSize | string> {
  try {
    const out = await new Deno.Command("go", {
      args: ["list", "-deps", ...buildFlags, "-f", "{{.Stale}} {{.StaleReason}}", pkg],
      cwd: opts.cwd,
      env: opts.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
      return `go list failed: ${err}`;
    }
    return countStale(new TextDecoder().decode(out.stdout));
  } catch (err) {
    return `go list failed: ${(err as Error).message}`;
  }
}

/**
 * Counts `go list -deps -f '{{.Stale}} {{.StaleReason}}'` output. A package
 * "not installed but available in build cache" is stale only in name: the
 * build takes it from the cache and `go build -v` does not print it.
 */
export function countStale(text: string): GoBuildSize {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const stale = lines.filter((l) =>
    l.startsWith("true") && !l.includes("not installed but available in build cache")
  );
  return { deps: lines.length, stale: stale.length };
}

/**
 * The line said before a build starts: how much there is to compile and how
 * long it usually takes. `usual` is the cold-cache figure ("7-15 min on 2
 * cores"); when most packages are cached that figure would mislead.
 */
export function expectation(size: GoBuildSize | string, usual: string): string {
  if (typeof size === "string") return `total not known ahead (${size}); ${usual}`;
  if (size.stale === 0) return `all ${size.deps} packages are in Go's build cache: linking only`;
  if (size.stale < size.deps * 0.15) {
    return `~${size.stale} of ${size.deps} packages to compile (the rest is in Go's build cache): a minute or two`;
  }
  return `~${size.stale} packages to compile (of ${size.deps}), ${usual}`;
}

/**
 * A Go build step with a real progress bar: asks `go list` for the size,
 * says it up front, then runs the build with -v counting packages.
 */
export async function goBuildWithProgress(
  label: string,
  usual: string,
  build: Omit<CountedRun, "counter"> & {
    /** What `go list -deps` sizes: the package, the build's flags, where and how to run it. */
    list: { pkg: string; flags: string[]; cwd?: string; env?: Record<string, string> };
  },
  opts: ProgressOptions = {},
): Promise<number> {
  const size = await goBuildSize(build.list.pkg, build.list.flags, build.list);
  const said = `${label}: ${expectation(size, usual)}`;
  const tty = opts.tty ?? Deno.stderr.isTerminal();
  // On a terminal the expectation stays on its own line, so the redrawn line (label, bar) fits.
  if (tty) stepLine(label, expectation(size, usual), opts, "…");
  const p = progress(tty ? label : said, {
    ...opts,
    // The bar replaces the periodic "still working" lines in a log.
    quietEveryMs: Number.POSITIVE_INFINITY,
  });
  try {
    await runCounted(
      { ...build, counter: new BuildCounter(typeof size === "string" ? null : size.stale) },
      p,
      opts,
    );
  } catch (err) {
    p.fail();
    throw err;
  }
  return p.succeed();
}
