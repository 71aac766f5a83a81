/**
 * `deno task slo`: SLOs as code. Converts config/slo.yaml into Sloth specs,
 * runs Sloth (built by `deno task tools`) to write rules/slo-rules.yaml, and
 * regenerates the PrometheusRule that carries it. The logic is in
 * scripts/lib/slo/mod.ts.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { CheckFailed, parseFlags, runMain } from "./lib/cli.ts";
import { Runner } from "./lib/k8s/external.ts";
import { checkUpToDate, generate as generatePrometheusRule } from "./lib/k8s/prometheus_rule.ts";
import {
  budgetPercent,
  generateSloRules,
  readSloConfig,
  SLO_RULES_FILE,
  slos,
  slothSpecText,
} from "./lib/slo/mod.ts";

const spec = {
  name: "slo",
  summary:
    "Generate the SLO recording rules and burn-rate alerts (rules/slo-rules.yaml) from config/slo.yaml with Sloth.",
  usage: "[--check | --list | --spec]",
  flags: {
    check: {
      type: "boolean" as const,
      description:
        "only check that rules/slo-rules.yaml and k8s/prometheus-rule.yaml are up to date (exit 1 if not)",
    },
    list: {
      type: "boolean" as const,
      description: "list the SLOs (ids for 'deno task gate --slo'), budgets and alert windows",
    },
    spec: {
      type: "boolean" as const,
      description: "print the Sloth prometheus/v1 spec generated from config/slo.yaml",
    },
  },
  epilog: [
    "Sloth comes from 'deno task tools' (github.com/slok/sloth, built with Go). After a change to",
    "config/slo.yaml run this, then 'deno task gen-dashboards' (the budget panels read the same file).",
    "",
    "Examples:",
    "  deno task slo --list",
    "  deno task slo --spec > /tmp/spec.yaml && sloth validate -i /tmp/spec.yaml",
    "  deno task slo --check",
  ].join("\n"),
};

interface Flags {
  check?: boolean;
  list?: boolean;
  spec?: boolean;
}

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    const cfg = readSloConfig();
    if (flags.spec) {
      console.log(slothSpecText(cfg).trimEnd());
      return 0;
    }
    if (flags.list) {
      const windows = (sev: "page" | "ticket") =>
        cfg.alerting[sev].map((w) =>
          `${w.burnRate}x over ${w.long} and ${w.short} (${budgetPercent(cfg, w)}% of the budget)`
        ).join("; ");
      for (const s of slos(cfg)) {
        console.log(
          `${s.id.padEnd(30)} ${s.kind.padEnd(12)} objective ${s.objective}% over ${cfg.period}, ` +
            `budget ${Number((s.budget * 100).toPrecision(6))}%, alert ${s.alert}`,
        );
      }
      console.log(`page:   ${windows("page")}`);
      console.log(`ticket: ${windows("ticket")}`);
      return 0;
    }
    const text = await generateSloRules(cfg);
    const current = existsSync(SLO_RULES_FILE) ? readFileSync(SLO_RULES_FILE, "utf8") : null;
    if (flags.check) {
      if (current !== text) {
        throw new CheckFailed(
          "rules/slo-rules.yaml is out of date with config/slo.yaml; run 'deno task slo' and commit it",
        );
      }
      checkUpToDate();
      console.log("rules/slo-rules.yaml and k8s/prometheus-rule.yaml are up to date");
      return 0;
    }
    if (current === text) console.error("rules/slo-rules.yaml is up to date");
    else {
      writeFileSync(SLO_RULES_FILE, text);
      console.error(`wrote rules/slo-rules.yaml (${slos(cfg).length} SLOs)`);
    }
    await generatePrometheusRule(new Runner(false, (l) => console.error(l)));
    return 0;
  });
}
