/**
 * Benchmarks: what instrumentation costs, and how good our load generator
 * is. Prints a markdown table and writes JSON; never fails on timing. The
 * engine is scripts/lib/bench/mod.ts.
 */
import { join, resolve } from "node:path";
import {
  durationFlag,
  intFlag,
  MissingPrerequisite,
  parseFlags,
  runMain,
  UsageError,
} from "./lib/cli.ts";
import {
  BASE_VARIANTS,
  type BenchOptions,
  type CaseName,
  CASES,
  DEFAULT_EXTRA_VARIANTS,
  formatMarkdown,
  knownVariants,
  runBench,
} from "./lib/bench/mod.ts";
import { stateDir } from "./lib/paths.ts";

const VARIANT_NAMES = Object.keys(knownVariants("", "")).filter((v) => !BASE_VARIANTS.includes(v));

const spec = {
  name: "bench",
  summary:
    "Benchmarks: instrumentation overhead against bare Hono and the app with instrumentation off (wrk, A/B alternated, medians, app CPU µs/request), sampling, exporter and peer (Deno's built-in OTel) variants, latency at half the instrumented saturation (oha, corrected for coordinated omission), the load generator's quality, /metrics scrape time, script start-up.",
  usage: "[--case NAME]... [--rounds N] [--duration 5s] [--out FILE] [--long]",
  flags: {
    case: {
      type: "string" as const,
      multiple: true,
      description: `run only this case (repeatable): ${CASES.join(", ")}`,
      valueName: "name",
    },
    variant: {
      type: "string" as const,
      multiple: true,
      description: `overhead variants besides ${BASE_VARIANTS.join("/")} (repeatable; default ${
        DEFAULT_EXTRA_VARIANTS.join(", ")
      }; known: ${VARIANT_NAMES.join(", ")})`,
      valueName: "name",
    },
    "compare-app": {
      type: "string" as const,
      description:
        "another checkout's apps/instrument_app.ts: its off/on run as extra variants (code A/B)",
      valueName: "path",
    },
    rounds: {
      type: "string" as const,
      description: "A/B rounds per case (medians over them)",
      valueName: "N",
      default: "3",
    },
    duration: {
      type: "string" as const,
      description: "length of each wrk / load-generator run",
      valueName: "d",
      default: "5s",
    },
    warmup: {
      type: "string" as const,
      description: "wrk load per app before measuring (JIT warm-up)",
      valueName: "d",
      default: "2s",
    },
    long: {
      type: "boolean" as const,
      description: "a longer, steadier run: 7 rounds of 15 s (flags given explicitly still win)",
    },
    connections: {
      type: "string" as const,
      description: "wrk connections (closed model: each waits for its answer)",
      valueName: "N",
      default: "32",
    },
    threads: {
      type: "string" as const,
      description: "wrk threads (1 leaves the other core to the app)",
      valueName: "N",
      default: "1",
    },
    path: {
      type: "string" as const,
      description: "request path for the throughput cases",
      valueName: "path",
      default: "/api/data",
    },
    collector: {
      type: "string" as const,
      description:
        "sink: a private collector that decodes everything and keeps nothing (nothing behind it backs up, so the app delivers all it makes); stack: a private collector, Jaeger and VictoriaLogs (the whole pipeline on the same cores; whatever backs up shows in the 'telemetry dropped' column); none: export to a closed port; or an OTLP/HTTP URL",
      valueName: "sink|stack|none|URL",
      default: "sink",
    },
    series: {
      type: "string" as const,
      description: "series on /metrics for the scrape case",
      valueName: "N",
      default: "10000",
    },
    "loadgen-rate": {
      type: "string" as const,
      description: "rate at which the load generator's accuracy is checked",
      valueName: "N",
      default: "10000",
    },
    "startup-runs": {
      type: "string" as const,
      description: "warm runs per command in the start-up case",
      valueName: "N",
      default: "3",
    },
    out: {
      type: "string" as const,
      description: "JSON result file (default <state dir>/bench/bench-<time>.json)",
      valueName: "file",
    },
    json: { type: "boolean" as const, description: "print the JSON result instead of markdown" },
  },
  epilog: `Variants: bare = Hono on Deno.serve with the same JSON and no app code (every ratio is
also given against it); off = our app, instrumentation off; on = traces 100 %, metrics, logs
(OTLP/HTTP protobuf); json = as on with OTLP/HTTP JSON; deno-otel = Deno's built-in
OpenTelemetry (OTEL_DENO=true) on bare Hono, exporting to the same collector; floor = the
app's per-request telemetry written by hand without the OTel SDK (the least in-process
instrumentation costs on this runtime; also in the latency case); deno-otel-app (not by
default) = Deno's OTel on our app with its instrumentation off.

Needs wrk (apt-get install wrk) and, for --collector sink (the default) or stack, the
collector (and for stack Jaeger and VictoriaLogs) from 'deno task tools'. The latency case needs oha, also from 'deno task tools'
(<tools>/bin/oha, else PATH); without it that case is skipped with a one-line note. Exit 0
when the benchmark ran (whatever the numbers), 2 when it could not run (missing wrk or
collector, bad flags), 130 when interrupted.

Examples:
  deno task bench                                  # all cases, about 4 minutes
  deno task bench --case overhead --variant json   # protobuf (on) vs JSON only
  deno task bench --long --out /tmp/bench.json     # steadier figures, about 20 minutes`,
};

interface Flags {
  case?: string[];
  "compare-app"?: string;
  variant?: string[];
  rounds: string;
  duration: string;
  warmup: string;
  long?: boolean;
  connections: string;
  threads: string;
  path: string;
  collector: string;
  series: string;
  "loadgen-rate": string;
  "startup-runs": string;
  out?: string;
  json?: boolean;
}

function explicit(name: string): boolean {
  return Deno.args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
}

runMain(async () => {
  const { flags } = parseFlags<Flags>(spec);
  const cases = (flags.case?.length ? flags.case : [...CASES]) as CaseName[];
  for (const c of cases) {
    if (!CASES.includes(c)) {
      throw new UsageError(`unknown case '${c}' (known: ${CASES.join(", ")})`);
    }
  }
  const variants = flags.variant?.length ? flags.variant : DEFAULT_EXTRA_VARIANTS;
  for (const v of variants) {
    if (!VARIANT_NAMES.includes(v) && !BASE_VARIANTS.includes(v)) {
      throw new UsageError(`unknown variant '${v}' (known: ${VARIANT_NAMES.join(", ")})`);
    }
  }
  const long = flags.long ?? false;
  const rounds = intFlag("rounds", long && !explicit("rounds") ? "7" : flags.rounds, 1, 100);
  const durationMs = durationFlag(
    "duration",
    long && !explicit("duration") ? "15s" : flags.duration,
  );
  const warmupMs = flags.warmup === "0" ? 0 : durationFlag("warmup", flags.warmup);
  if (!/^(stack|sink|none|https?:\/\/.+)$/.test(flags.collector)) {
    throw new UsageError(
      `--collector must be stack, sink, none or an http(s) URL, got '${flags.collector}'`,
    );
  }
  if (!flags.path.startsWith("/")) throw new UsageError(`--path must start with '/'`);
  if (flags["compare-app"] !== undefined) {
    try {
      if (!Deno.statSync(flags["compare-app"]).isFile) throw new Error();
    } catch {
      throw new UsageError(`--compare-app: no such file '${flags["compare-app"]}'`);
    }
  }
  const workDir = join(stateDir(), "bench");
  Deno.mkdirSync(workDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = flags.out ?? join(workDir, `bench-${stamp}.json`);

  const ctl = new AbortController();
  const onSigint = () => ctl.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  const opts: BenchOptions = {
    cases,
    rounds,
    durationS: Math.max(1, Math.round(durationMs / 1000)),
    warmupS: Math.round(warmupMs / 1000),
    connections: intFlag("connections", flags.connections, 1, 10_000),
    threads: intFlag("threads", flags.threads, 1, 64),
    path: flags.path,
    collector: flags.collector,
    variants,
    compareApp: flags["compare-app"] ? resolve(flags["compare-app"]) : undefined,
    series: intFlag("series", flags.series, 1, 1_000_000),
    loadgenRate: intFlag("loadgen-rate", flags["loadgen-rate"], 1, 100_000),
    startupRuns: intFlag("startup-runs", flags["startup-runs"], 1, 50),
    workDir,
    log: (line) => console.error(line),
    signal: ctl.signal,
  };
  try {
    const result = await runBench(opts);
    Deno.mkdirSync(join(out, ".."), { recursive: true });
    Deno.writeTextFileSync(out, JSON.stringify(result, null, 2) + "\n");
    console.log(flags.json ? JSON.stringify(result, null, 2) : formatMarkdown(result));
    console.error(`\nJSON written to ${out}`);
    return 0;
  } catch (err) {
    if (ctl.signal.aborted) {
      console.error("interrupted: processes stopped, no result written");
      return 130;
    }
    if (err instanceof UsageError || err instanceof MissingPrerequisite) throw err;
    // Anything else (an app that did not start, wrk failing) means it could not run: exit 2.
    console.error(`error: the benchmark could not run: ${(err as Error).message}`);
    return 2;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
});
