/**
 * Deployment gate: let what Prometheus observed decide whether a rollout goes
 * on. Exit 0 pass, 1 fail, 2 inconclusive (no data, too little traffic,
 * Prometheus unreachable) or bad usage. The logic is scripts/lib/gate/mod.ts.
 */
import { parseFlags, runMain, UsageError } from "./lib/cli.ts";
import { currentPorts } from "./lib/stack/mod.ts";
import {
  buildPolicy,
  EXIT_INCONCLUSIVE,
  formatTable,
  type GateResult,
  parsePolicyFile,
  PrometheusUnreachable,
  runGate,
  runSloGate,
} from "./lib/gate/mod.ts";
import { errorRatioExpr, findSlo, readSloConfig } from "./lib/slo/mod.ts";

/**
 * The Prometheus of a local stack started with other ports (`stack up
 * --prometheus-port`), else the book's 9090. The state folder may lie outside
 * what this task may read: then the book's port.
 */
function localPrometheus(): string {
  let port = 9090;
  try {
    port = currentPorts().prometheus;
  } catch { /* no readable stack state */ }
  return `http://127.0.0.1:${port}`;
}

const spec = {
  name: "gate",
  summary:
    "Deployment gate: query Prometheus for a service's error rate and p95/p99 latency and pass or fail it.",
  usage: "(--job NAME | --selector MATCHERS | --policy FILE | --slo ID) [options]",
  flags: {
    slo: {
      type: "string" as const,
      description:
        "gate on an SLO of config/slo.yaml (e.g. platform-app-availability): fail while its page alert's burn condition holds",
      valueName: "id",
    },
    prometheus: {
      type: "string" as const,
      description: "Prometheus base URL (env PROMETHEUS_URL, else a running local stack's)",
      valueName: "url",
      default: Deno.env.get("PROMETHEUS_URL") ?? localPrometheus(),
    },
    policy: {
      type: "string" as const,
      description: "YAML policy file (flags override it), e.g. config/gate-policy.yaml",
      valueName: "file",
    },
    job: {
      type: "string" as const,
      description: "select the service by job label",
      valueName: "name",
    },
    selector: {
      type: "string" as const,
      description: 'select the service by label matchers, e.g. \'service="api",env="prod"\'',
      valueName: "matchers",
    },
    window: {
      type: "string" as const,
      description: "look-back window (default 5m)",
      valueName: "d",
    },
    "min-requests": {
      type: "string" as const,
      description: "fewer requests in the window is inconclusive (default 10)",
      valueName: "n",
    },
    "max-error-rate": {
      type: "string" as const,
      description: "maximum 5xx ratio, 0..1, or off (default 0.05)",
      valueName: "r",
    },
    "max-p95": {
      type: "string" as const,
      description: "maximum p95 latency in seconds, or off (default 1)",
      valueName: "s",
    },
    "max-p99": {
      type: "string" as const,
      description: "maximum p99 latency in seconds, or off (default 2.5)",
      valueName: "s",
    },
    "canary-label": {
      type: "string" as const,
      description: "judge the canary (e.g. track=canary) against the baseline",
      valueName: "l=v",
    },
    "baseline-label": {
      type: "string" as const,
      description: "how the baseline is labelled (default: canary label != value)",
      valueName: "l=v",
    },
    "max-error-rate-increase": {
      type: "string" as const,
      description: "canary error rate may exceed the baseline's by this much (0..1)",
      valueName: "r",
    },
    "max-latency-ratio": {
      type: "string" as const,
      description: "canary p95/p99 may be at most this multiple of the baseline's",
      valueName: "x",
    },
    json: { type: "boolean" as const, description: "print the result as JSON" },
  },
  epilog: `Exit status: 0 pass, 1 fail, 2 inconclusive (no data, fewer requests than
--min-requests, Prometheus unreachable) or bad usage. Inconclusive is never a pass.
Error rate = 5xx share of http_requests_total; p95/p99 = histogram_quantile over
http_request_duration_seconds_bucket; both over --window for the selected series.

Examples:
  deno task gate --job platform-app --window 5m --max-error-rate 0.01 --max-p99 0.5
  deno task gate --policy config/gate-policy.yaml --json
  deno task gate --slo platform-app-availability   # ids: deno task slo --list
  deno task gate --job platform-app --canary-label track=canary --max-latency-ratio 1.2`,
};

interface Flags {
  slo?: string;
  prometheus: string;
  policy?: string;
  job?: string;
  selector?: string;
  window?: string;
  "min-requests"?: string;
  "max-error-rate"?: string;
  "max-p95"?: string;
  "max-p99"?: string;
  "canary-label"?: string;
  "baseline-label"?: string;
  "max-error-rate-increase"?: string;
  "max-latency-ratio"?: string;
  json?: boolean;
}

runMain(async () => {
  const { flags } = parseFlags<Flags>(spec);
  if (flags.slo !== undefined) return await sloGate(flags);
  let file = {};
  if (flags.policy !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(flags.policy);
    } catch (err) {
      if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
        throw new UsageError(
          `may not read ${flags.policy}: the task reads only inside the current directory ` +
            `(elsewhere: deno run --allow-net --allow-env --allow-read=.,FILE scripts/gate.ts)`,
        );
      }
      throw new UsageError(`cannot read policy ${flags.policy}: ${(err as Error).message}`);
    }
    file = parsePolicyFile(text, flags.policy);
  }
  const policy = buildPolicy(file, {
    job: flags.job,
    selector: flags.selector,
    window: flags.window,
    minRequests: flags["min-requests"],
    maxErrorRate: flags["max-error-rate"],
    maxP95: flags["max-p95"],
    maxP99: flags["max-p99"],
    canaryLabel: flags["canary-label"],
    baselineLabel: flags["baseline-label"],
    maxErrorRateIncrease: flags["max-error-rate-increase"],
    maxLatencyRatio: flags["max-latency-ratio"],
  });
  checkUrl(flags.prometheus);
  return await report(flags, () => runGate(policy, flags.prometheus));
});

/** `--slo ID`: the SLO's page-level burn condition; the service flags do not apply. */
async function sloGate(flags: Flags): Promise<number> {
  const serviceFlags: (keyof Flags)[] = [
    "policy",
    "job",
    "selector",
    "window",
    "min-requests",
    "max-error-rate",
    "max-p95",
    "max-p99",
    "canary-label",
    "baseline-label",
    "max-error-rate-increase",
    "max-latency-ratio",
  ];
  const other = serviceFlags.filter((f) => flags[f] !== undefined);
  if (other.length) throw new UsageError(`--slo excludes --${other.join(", --")}`);
  const cfg = readSloConfig();
  const slo = findSlo(cfg, flags.slo!);
  checkUrl(flags.prometheus);
  return await report(flags, () =>
    runSloGate({
      id: slo.id,
      budget: slo.budget,
      page: cfg.alerting.page,
      errorRatio: (w) => errorRatioExpr(slo, w),
    }, flags.prometheus));
}

function checkUrl(url: string): void {
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--prometheus must be a URL, got '${url}'`);
  }
}

/** Runs the gate and prints its table or JSON; an unreachable Prometheus is inconclusive. */
async function report(flags: Flags, run: () => Promise<GateResult>): Promise<number> {
  let result;
  try {
    result = await run();
  } catch (err) {
    if (!(err instanceof PrometheusUnreachable)) throw err;
    // Inconclusive, never a pass: pipelines reading --json still get a verdict.
    if (flags.json) {
      console.log(JSON.stringify(
        { verdict: "inconclusive", exitCode: EXIT_INCONCLUSIVE, error: err.message },
        null,
        2,
      ));
    }
    console.error(`error: ${err.message}`);
    return EXIT_INCONCLUSIVE;
  }
  console.log(flags.json ? JSON.stringify(result, null, 2) : formatTable(result));
  return result.exitCode;
}
