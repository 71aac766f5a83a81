/**
 * Phase 10: generate traffic at a constant arrival rate (open model) against
 * the demo app, with a live progress line and an HDR-histogram summary.
 * The engine is scripts/lib/load/mod.ts.
 */
import { durationFlag, intFlag, parseFlags, runMain, UsageError } from "./lib/cli.ts";
import {
  chapterMix,
  formatProgress,
  formatReport,
  type LoadProgress,
  parseHeaders,
  pathsMix,
  RATE_PER_WORKER,
  runLoad,
} from "./lib/load/mod.ts";

const spec = {
  name: "load",
  summary:
    "Send requests at a constant arrival rate (an open model: a slow server does not lower the offered rate).",
  usage: "[--target URL] [--rate N] [--duration 30s] [--max-requests N] [--json]",
  flags: {
    target: {
      type: "string" as const,
      description: "base URL of the service under load (env LOAD_TARGET)",
      valueName: "url",
      default: Deno.env.get("LOAD_TARGET") ?? "http://127.0.0.1:8000",
    },
    rate: {
      type: "string" as const,
      description: "requests per second",
      valueName: "n",
      default: "10",
    },
    duration: {
      type: "string" as const,
      description: "how long to send (e.g. 10s, 2m)",
      valueName: "d",
      default: "30s",
    },
    "max-requests": {
      type: "string" as const,
      description: "stop after this many requests even if the duration has not passed",
      valueName: "n",
    },
    concurrency: {
      type: "string" as const,
      description:
        "cap on requests in flight; requests due beyond it are dropped and counted (default: 256, or 100 ms of requests at --rate when more)",
      valueName: "n",
    },
    workers: {
      type: "string" as const,
      description:
        `Workers sharing the schedule (default: one per ${RATE_PER_WORKER}/s, up to the CPUs)`,
      valueName: "n",
    },
    timeout: {
      type: "string" as const,
      description: "per-request timeout",
      valueName: "d",
      default: "10s",
    },
    path: {
      type: "string" as const,
      multiple: true,
      description: "request this path instead of the chapter's mix (repeatable: round robin)",
      valueName: "path",
    },
    header: {
      type: "string" as const,
      multiple: true,
      description: "send this header with every request, 'Name: value' (repeatable; never printed)",
      valueName: "h",
    },
    "allow-remote": {
      type: "boolean" as const,
      description: "allow a target outside loopback (only load what you own)",
    },
    json: { type: "boolean" as const, description: "print the summary as JSON on stdout" },
    quiet: { type: "boolean" as const, description: "no progress output" },
  },
  epilog: `The default traffic mix is the chapter's: /api/data?delay=0.1, every 20th request
/api/data?delay=0.5, every 50th /error, and its security traffic: every 25th /api/admin
without credentials (401), every 40th a path that does not exist (404). A 403:
  --path /api/admin --header 'Authorization: Bearer not-admin'
Latency is measured from each request's
scheduled time (corrects coordinated omission). Ctrl-C stops and prints the summary
so far (exit 130). Exit 1 when no request got any HTTP response.

Example: deno task load --rate 200 --duration 10s`,
};

interface Flags {
  target: string;
  rate: string;
  duration: string;
  "max-requests"?: string;
  concurrency?: string;
  workers?: string;
  timeout: string;
  path?: string[];
  header?: string[];
  "allow-remote"?: boolean;
  json?: boolean;
  quiet?: boolean;
}

function rateFlag(raw: string): number {
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new UsageError(`--rate must be a number, got '${raw}'`);
  const n = Number(raw);
  if (!(n > 0 && n <= 100_000)) throw new UsageError(`--rate must be in (0, 100000], got ${n}`);
  return n;
}

runMain(async () => {
  const { flags } = parseFlags<Flags>(spec);
  const rate = rateFlag(flags.rate);
  const durationMs = durationFlag("duration", flags.duration);
  const maxRequests = flags["max-requests"] === undefined
    ? undefined
    : intFlag("max-requests", flags["max-requests"], 1, Number.MAX_SAFE_INTEGER);
  const concurrency = flags.concurrency === undefined
    ? undefined
    : intFlag("concurrency", flags.concurrency, 1, 100_000);
  const workers = flags.workers === undefined
    ? undefined
    : intFlag("workers", flags.workers, 1, 64);
  const timeoutMs = durationFlag("timeout", flags.timeout);
  const mix = flags.path?.length ? pathsMix(flags.path) : chapterMix;
  const headers = parseHeaders(flags.header ?? []);

  // Progress goes to stderr so stdout carries only the summary (or the JSON).
  const live = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let ticks = 0;
  const onProgress = flags.quiet ? undefined : (p: LoadProgress) => {
    if (live) {
      Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${formatProgress(p)}`));
    } else if (++ticks % 5 === 0) {
      // Plain lines, one every 5 s, for logs and CI.
      console.error(formatProgress(p));
    }
  };

  const ctl = new AbortController();
  const onSigint = () => ctl.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  let report;
  try {
    report = await runLoad({
      target: flags.target,
      rate,
      durationMs,
      maxRequests,
      concurrency,
      workers,
      timeoutMs,
      mix,
      headers,
      allowRemote: flags["allow-remote"] ?? false,
      signal: ctl.signal,
      onProgress,
    });
  } finally {
    if (live && onProgress) Deno.stderr.writeSync(enc.encode("\r\x1b[2K"));
  }
  console.log(flags.json ? JSON.stringify(report, null, 2) : formatReport(report));
  // Only now: Ctrl-C under `deno task` can arrive twice, and a late second
  // one must not kill us before the summary is out.
  Deno.removeSignalListener("SIGINT", onSigint);
  if (report.interrupted) return 130;
  if (report.sent > 0 && report.completed === 0) {
    console.error(`error: no HTTP response from ${report.target} (is it running?)`);
    return 1;
  }
  return 0;
});
