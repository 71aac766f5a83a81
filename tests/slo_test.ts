/**
 * SLOs as code: config/slo.yaml is read strictly, converted into Sloth specs
 * with the burn-rate windows it states, and the committed
 * rules/slo-rules.yaml equals what the real Sloth generates from it (drift);
 * the chapter's SLA alerts carry the spec's numbers; `deno task slo` answers
 * bad input with one line and exit 2.
 */
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { UsageError } from "../scripts/lib/cli.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import {
  budgetPercent,
  errorRatioExpr,
  findSlo,
  generateSloRules,
  parseSloConfig,
  readSloConfig,
  slaThresholdDrift,
  SLO_RULES_FILE,
  slos,
  slothSpecs,
  slothWindows,
} from "../scripts/lib/slo.ts";
import { analyzePromQL } from "../scripts/lib/promql.ts";
import { findTool, missing, runScript, YAML_ENV } from "./support.ts";

const readsRepo = {
  permissions: { net: false, run: false, write: false, read: true, env: YAML_ENV },
} as const;
const ALERT_RULES = repoPath("rules", "alert-rules.yaml");

Deno.test({
  name: "slo.yaml: the chapter's SLA (99 %), p95 under 0.5 s, both services, 30 d",
  ...readsRepo,
  fn() {
    const cfg = readSloConfig();
    assert.equal(cfg.period, "30d");
    assert.equal(cfg.objectives.availability.objective, 99);
    assert.equal(cfg.objectives.latency.objective, 95);
    assert.equal(cfg.objectives.latency.thresholdSeconds, 0.5);
    assert.deepEqual(slos(cfg).map((s) => s.id), [
      "platform-app-availability",
      "platform-app-latency",
      "metrics-pull-app-availability",
      "metrics-pull-app-latency",
    ]);
    assert.equal(findSlo(cfg, "platform-app-availability").budget, 0.01);
    assert.throws(() => findSlo(cfg, "nope"), /no SLO 'nope'.*platform-app-availability/);
    // The error ratio the gate asks for is valid PromQL over contract metrics.
    for (const s of slos(cfg)) {
      const a = analyzePromQL(errorRatioExpr(s, "5m"));
      assert.deepEqual(a.errors, [], errorRatioExpr(s, "5m"));
    }
    assert.match(
      errorRatioExpr(findSlo(cfg, "platform-app-latency"), "1h"),
      /http_request_duration_seconds_bucket\{job="platform-app",le="0\.5"\}\[1h\]/,
    );
  },
});

Deno.test({
  name: "slo.yaml -> Sloth: burn rates become Sloth's budget percentages (14.4x over 1h = 2 %)",
  ...readsRepo,
  fn() {
    const cfg = readSloConfig();
    const w = slothWindows(cfg).spec;
    assert.deepEqual(w.page.quick, { errorBudgetPercent: 2, shortWindow: "5m", longWindow: "1h" });
    assert.deepEqual(w.page.slow, { errorBudgetPercent: 5, shortWindow: "30m", longWindow: "6h" });
    assert.deepEqual(w.ticket.quick, {
      errorBudgetPercent: 10,
      shortWindow: "2h",
      longWindow: "1d",
    });
    assert.deepEqual(w.ticket.slow, {
      errorBudgetPercent: 10,
      shortWindow: "6h",
      longWindow: "3d",
    });
    assert.equal(budgetPercent(cfg, { burnRate: 14.4, long: "1h", short: "5m" }), 2);
    const specs = slothSpecs(cfg);
    assert.deepEqual(specs.map((s) => s.service), ["platform-app", "metrics-pull-app"]);
    for (const s of specs) {
      assert.equal(s.version, "prometheus/v1");
      for (const o of s.slos) {
        assert.equal(o.alerting.page_alert.labels.severity, "critical");
        assert.equal(o.alerting.ticket_alert.labels.severity, "warning");
        assert.equal(o.alerting.labels.team, "sre");
        assert.match(o.sli.events.error_query, /\{\{\.window\}\}/);
      }
    }
  },
});

Deno.test({
  name: "slo.yaml: bad input is a one-line usage error naming the key",
  ...readsRepo,
  fn() {
    const good = Deno.readTextFileSync(repoPath("config", "slo.yaml"));
    const bad = (edit: (s: string) => string, re: RegExp) =>
      assert.throws(() => parseSloConfig(edit(good), "slo.yaml"), (e: Error) => {
        assert.ok(e instanceof UsageError, e.message);
        assert.match(e.message, re);
        assert.equal(e.message.split("\n").length, 1);
        return true;
      });
    bad((s) => s.replace("objective: 99", "objective: 100"), /availability\.objective.*percentage/);
    bad((s) => s.replace("period: 30d", "period: a month"), /period.*Prometheus duration/);
    bad((s) => s.replace("threshold_seconds: 0.5", "threshold_seconds: fast"), /threshold_seconds/);
    bad((s) => s.replace("  team: sre", "  team: sre\n  teem: x"), /unknown key 'teem'/);
    bad((s) => s.replace("long: 1h, short: 5m", "long: 5m, short: 1h"), /shorter than the long/);
    bad((s) => s.replace("- name: metrics-pull-app", "- name: platform-app"), /listed twice/);
    bad((s) => s.replace("burn_rate: 1,", "burn_rate: 20,"), /spends \d+% of the 30d budget/);
    bad(() => "a: [\n", /not valid YAML/);
  },
});

Deno.test({
  name: "the chapter's SLAViolation/ServiceDegraded/HighP95Latency thresholds are slo.yaml's",
  ...readsRepo,
  fn() {
    const cfg = readSloConfig();
    const text = Deno.readTextFileSync(ALERT_RULES);
    assert.deepEqual(slaThresholdDrift(cfg, text), []);
    // A drifted threshold (99.9 in the rule, 99 in the spec) is caught, and so is
    // a summary that still names the old number.
    const drifted = text.replace(")) < 99\n", ")) < 99.9\n");
    assert.notEqual(drifted, text);
    assert.deepEqual(slaThresholdDrift(cfg, drifted).map((d) => [d.alert, d.found]), [
      ["SLAViolation", "< 99.9"],
    ]);
    const words = text.replace("below the 99% SLA", "below the 99.9% SLA");
    assert.equal(slaThresholdDrift(cfg, words)[0]?.alert, "SLAViolation");
    // A different objective in the spec makes today's rules drift everywhere.
    const other = parseSloConfig(
      Deno.readTextFileSync(repoPath("config", "slo.yaml"))
        .replace("objective: 99", "objective: 99.5")
        .replace("threshold_seconds: 0.5", "threshold_seconds: 0.3"),
    );
    const d = slaThresholdDrift(other, text);
    assert.deepEqual([...new Set(d.map((x) => x.alert))], [
      "SLAViolation",
      "ServiceDegraded",
      "HighP95Latency",
    ]);
    assert.ok(d.some((x) => x.expected === "> 0.005"));
  },
});

Deno.test({
  name: "drift: the committed rules/slo-rules.yaml is what Sloth generates from config/slo.yaml",
  permissions: { read: true, run: true, write: true, env: true },
  ignore: missing("sloth"),
  async fn() {
    const generated = await generateSloRules(readSloConfig(), findTool("sloth")!);
    assert.equal(
      Deno.readTextFileSync(SLO_RULES_FILE),
      generated,
      "rules/slo-rules.yaml is stale: run 'deno task slo' and commit it",
    );
    // The page alert is the Workbook's: 14.4x over 1h and 5m, or 6x over 6h and 30m.
    const doc = parse(generated);
    const page = doc.groups.flatMap((g: { rules: { alert?: string }[] }) => g.rules)
      .find((r: { alert?: string; labels?: Record<string, string> }) =>
        r.alert === "PlatformAppAvailabilityBudgetBurn" && r.labels?.sloth_severity === "page"
      );
    for (
      const w of ["ratio_rate5m", "ratio_rate1h", "ratio_rate30m", "ratio_rate6h"]
    ) assert.match(page.expr, new RegExp(w));
    assert.match(page.expr, /> \(14\.4 \* 0\.01\)/);
    assert.match(page.expr, /> \(6 \* 0\.01\)/);
    assert.equal(page.labels.team, "sre");
  },
});

Deno.test({
  name: "deno task slo: --list, --spec, --check against the committed files; bad file exits 2",
  permissions: { read: true, run: true, env: true, write: true },
  ignore: missing("sloth"),
  async fn() {
    const flags = [
      "--allow-run",
      "--allow-env",
      "--allow-read",
      `--allow-write=${repoPath("rules")},${repoPath("k8s")},/tmp`,
    ];
    const list = await runScript("scripts/slo.ts", flags, ["--list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^platform-app-availability\s+availability\s+objective 99%/m);
    assert.match(list.stdout, /^page: +14\.4x over 1h and 5m/m);
    const spec = await runScript("scripts/slo.ts", flags, ["--spec"]);
    assert.equal(spec.code, 0, spec.stderr);
    assert.equal(spec.stdout.split("\n---\n").length, 2, "one Sloth spec per service");
    const check = await runScript("scripts/slo.ts", flags, ["--check"]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const badFlag = await runScript("scripts/slo.ts", flags, ["--bogus"]);
    assert.equal(badFlag.code, 2);
    assert.equal(badFlag.stderr.trim().split("\n").length, 1, badFlag.stderr);
  },
});
