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
} from "../scripts/lib/slo/mod.ts";
import { analyzePromQL } from "../scripts/lib/promql.ts";
import { findTool, inPrivateState, missing, runScript, YAML_ENV } from "./support.ts";

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

Deno.test({
  name:
    "breaking the SLO (20x the budget for 70 min) fires the page alert in the stack's real Prometheus, and Alertmanager routes it to the SRE receiver",
  permissions: { read: true, run: true, write: true, env: true, net: true },
  ignore: missing("prometheus", "promtool", "prometheus-alertmanager"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { backfill, history } = await import("./slo_support.ts");
    const { freePorts, stackUp } = await import("../scripts/lib/stack/mod.ts");
    await inPrivateState("obskit-slo-e2e-", async (state) => {
      // The shipped rules (config/prometheus.yml's rule_files, so rules/slo-rules.yaml)
      // over history: 5 h clean, then 70 min at 20 % errors, 20x the 1 % budget:
      // past both page windows (1 h long, 5 m short), still under the 6 h one.
      await backfill(findTool("promtool")!, `${state}/data/prometheus`, [
        history("platform-app", [
          { minutes: 300, rate: 600, bad: 0 },
          { minutes: 70, rate: 600, bad: 0.2 },
        ]),
      ]);
      const ports = await freePorts();
      await stackUp({
        ports,
        only: ["alertmanager", "prometheus"],
        scrapeInterval: "1s",
        timeoutMs: 60_000,
        progress: { write: () => {} },
      });
      // Prometheus evaluates the rules every second: the page alert fires at once,
      // since the history already spans its windows.
      const prom = `http://127.0.0.1:${ports.prometheus}`;
      const firing = async () => {
        const body = await (await fetch(`${prom}/api/v1/alerts`)).json();
        return (body.data.alerts as { labels: Record<string, string>; state: string }[])
          .filter((a) => a.state === "firing" && a.labels.sloth_severity === "page")
          .map((a) => a.labels.alertname);
      };
      const fireBy = Date.now() + 20_000;
      while (!(await firing()).includes("PlatformAppAvailabilityBudgetBurn")) {
        assert.ok(Date.now() < fireBy, "the page alert did not fire within 20 s");
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.deepEqual(await firing(), ["PlatformAppAvailabilityBudgetBurn"]);
      // Alerts that fire before Prometheus has discovered Alertmanager (a few
      // seconds after start) are dropped and resent a minute later (its
      // --rules.alert.resend-delay), so delivery may take up to ~70 s.
      const am = `http://127.0.0.1:${ports.alertmanager}`;
      const deadline = Date.now() + 100_000;
      type Group = {
        receiver: { name: string };
        alerts: { labels: Record<string, string>; status: { state: string } }[];
      };
      let page: { receiver: string; labels: Record<string, string> } | undefined;
      let seen = "";
      while (!page) {
        const groups: Group[] = await (await fetch(`${am}/api/v2/alerts/groups`)).json();
        seen = JSON.stringify(groups.map((g) => [g.receiver.name, g.alerts.map((a) => a.labels)]));
        for (const g of groups) {
          const a = g.alerts.find((a) =>
            a.labels.alertname === "PlatformAppAvailabilityBudgetBurn" &&
            a.labels.sloth_severity === "page"
          );
          if (a) page = { receiver: g.receiver.name, labels: a.labels };
        }
        assert.ok(Date.now() < deadline, `no page alert in Alertmanager within 100 s: ${seen}`);
        if (!page) await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(page.receiver, "sre");
      assert.equal(page.labels.severity, "critical");
      assert.equal(page.labels.sloth_id, "platform-app-availability");
      // The pull app has no traffic: no alert for it; the latency SLO is not burning.
      assert.doesNotMatch(seen, /MetricsPullApp|PlatformAppLatency/);
    });
  },
});
