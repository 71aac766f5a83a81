/**
 * History for SLO tests: burn-rate windows are hours long, so instead of
 * waiting, the tests write the past hours of the contract's counters as
 * OpenMetrics, turn them into TSDB blocks with the real
 * `promtool tsdb create-blocks-from openmetrics`, and start a real
 * Prometheus on that data. Its rule evaluation, alerting and the gate then
 * see an hour of traffic at once.
 */
import { join } from "node:path";

/** One stretch of traffic: `minutes` long, `rate` requests a minute, `bad` of them failing. */
export interface Stretch {
  minutes: number;
  rate: number;
  /** Share of requests that fail (5xx) or are slow (> the latency threshold). */
  bad: number;
}

/**
 * OpenMetrics text for `job`'s http_requests_total (status 200 and 500) and
 * the latency histogram's _count and le="0.5" bucket, from the first stretch
 * (oldest) to now, one sample every `stepSeconds`. Pass `latency: true` to
 * make the bad requests slow instead of failing.
 */
export function history(
  job: string,
  stretches: Stretch[],
  opts: { stepSeconds?: number; latency?: boolean; now?: number } = {},
): string {
  const step = opts.stepSeconds ?? 15;
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  const total = stretches.reduce((n, s) => n + s.minutes, 0) * 60;
  const series: Record<string, string[]> = {};
  const add = (name: string, labels: string, t: number, v: number) =>
    (series[`${name}{${labels}}`] ??= []).push(`${name}{${labels}} ${v.toFixed(3)} ${t}`);
  let good = 0, bad = 0;
  for (let t = now - total; t <= now; t += step) {
    add("http_requests_total", `job="${job}",status="200"`, t, opts.latency ? good + bad : good);
    add("http_requests_total", `job="${job}",status="500"`, t, opts.latency ? 0 : bad);
    add("http_request_duration_seconds_count", `job="${job}"`, t, good + bad);
    // Failed requests are fast ones unless the bad requests are the slow ones.
    add(
      "http_request_duration_seconds_bucket",
      `job="${job}",le="0.5"`,
      t,
      opts.latency ? good : good + bad,
    );
    // The stretch this step falls in (by elapsed time from the oldest sample).
    let at = t - (now - total);
    const s = stretches.find((s) => (at -= s.minutes * 60) < 0) ?? stretches.at(-1)!;
    const n = s.rate * step / 60;
    bad += n * s.bad;
    good += n * (1 - s.bad);
  }
  // One family per series name; unknown type keeps the sample names as they are.
  const byName = new Map<string, string[]>();
  for (const [key, lines] of Object.entries(series)) {
    const name = key.slice(0, key.indexOf("{"));
    byName.set(name, [...(byName.get(name) ?? []), ...lines]);
  }
  const out: string[] = [];
  for (const [name, lines] of byName) out.push(`# TYPE ${name} unknown`, ...lines);
  return out.join("\n") + "\n";
}

/** Writes TSDB blocks of the OpenMetrics `texts` (joined) into `dataDir` with promtool. */
export async function backfill(promtool: string, dataDir: string, texts: string[]): Promise<void> {
  await Deno.mkdir(dataDir, { recursive: true });
  const input = join(dataDir, "..", `backfill-${crypto.randomUUID()}.om`);
  // Families must not repeat: merge each family's lines across the texts.
  const families = new Map<string, string[]>();
  for (const t of texts) {
    let name = "";
    for (const line of t.split("\n").filter(Boolean)) {
      const m = /^# TYPE (\S+)/.exec(line);
      if (m) name = m[1];
      else families.set(name, [...(families.get(name) ?? []), line]);
    }
  }
  const body = [...families].flatMap(([n, lines]) => [`# TYPE ${n} unknown`, ...lines]);
  await Deno.writeTextFile(input, body.join("\n") + "\n# EOF\n");
  const out = await new Deno.Command(promtool, {
    args: ["tsdb", "create-blocks-from", "openmetrics", input, dataDir],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(input).catch(() => {});
  if (!out.success) {
    throw new Error(`promtool backfill failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}
