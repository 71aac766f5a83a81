/**
 * Phase 9 (apply-rules): the generated PrometheusRule validates against the
 * CRD's schema and carries exactly the rule file's groups with the labels
 * kube-prometheus-stack selects; the committed file does not drift from the
 * generator; the dry-run command lines; a missing kubectl exits 2; and
 * `--local` loads the rules into a real Prometheus (Debian's), reloads it
 * and sees every group in /api/v1/rules, twice in a row.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { CheckFailed, UsageError } from "../scripts/lib/cli.ts";
import { commandLines, runTask, sandbox } from "./k8s_support.ts";
import { freePort, waitForHttp } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import {
  checkUpToDate,
  globRegExp,
  loadedGroups,
  planLocal,
  PROMETHEUS_RULE_FILE,
  prometheusRule,
  readRuleGroups,
  renderPrometheusRule,
  RULES_FILE,
  ruleSelectorLabels,
  SHIPPED_RULE_FILES,
  validatePrometheusRule,
} from "../scripts/lib/k8s/prometheus_rule.ts";
import { missing, TEMP_ENV, YAML_ENV } from "./support.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
/** Group names of every shipped rule file (the chapter's, then the SLO rules). */
const shippedGroups = () => SHIPPED_RULE_FILES.flatMap((f) => readRuleGroups(f)).map((g) => g.name);
/** Unit tests that read (and parse) the repository's rule, values and CRD files. */
const readsRepo = {
  permissions: { net: false, run: false, write: false, read: true, env: YAML_ENV },
} as const;
/** node:os tmpdir() consults TMPDIR, TMP and TEMP. */
const YAML_AND_TEMP_ENV = [...YAML_ENV, ...TEMP_ENV];
/** Reads the repository and writes a temporary copy. */
const writesTemp = {
  permissions: { ...readsRepo.permissions, write: true, env: YAML_AND_TEMP_ENV },
} as const;
/** Runs a deno task as a subprocess in a temporary sandbox. */
const task = {
  permissions: { net: false, run: true, read: true, env: true, write: true },
} as const;
/** Starts a real Prometheus on a free loopback port and runs the task against it. */
const realPrometheus = { permissions: { ...task.permissions, net: true } } as const;

Deno.test({
  name:
    "the generated PrometheusRule validates against the CRD schema and carries exactly the rule file's groups",
  ...readsRepo,
  async fn() {
    const obj = parse(renderPrometheusRule());
    assert.deepEqual(await validatePrometheusRule(obj), []);
    assert.equal(obj.apiVersion, "monitoring.coreos.com/v1");
    assert.equal(obj.kind, "PrometheusRule");
    // The chapter's rules, then the SLO rules Sloth generates from config/slo.yaml.
    const source = SHIPPED_RULE_FILES.flatMap((f) => parse(readFileSync(f, "utf8")).groups);
    assert.deepEqual(SHIPPED_RULE_FILES.slice(0, 1), [RULES_FILE]);
    assert.deepEqual(obj.spec.groups, source);
    assert.ok(obj.spec.groups.some((g: { name: string }) => g.name.startsWith("sloth-slo-")));
    assert.ok(obj.spec.groups.length >= 6, `${obj.spec.groups.length} groups`);
    // Its labels include every label the values file's ruleSelector matches.
    const selector = ruleSelectorLabels();
    assert.deepEqual(selector, { release: "monitoring" });
    for (const [k, v] of Object.entries(selector)) assert.equal(obj.metadata.labels[k], v);
  },
});

Deno.test({
  name: "the CRD validation really rejects broken PrometheusRules",
  ...readsRepo,
  async fn() {
    const good = prometheusRule();
    const broken = (edit: (o: ReturnType<typeof prometheusRule>) => void) => {
      const o = structuredClone(good);
      edit(o);
      return o;
    };
    const cases: [string, RegExp][] = [];
    const check = async (o: unknown, want: RegExp) => {
      const problems = await validatePrometheusRule(o);
      assert.ok(
        problems.some((p) => want.test(p)),
        `want ${want}, got ${JSON.stringify(problems)}`,
      );
      cases.push([JSON.stringify(problems[0]), want]);
    };
    await check(
      broken((o) => delete o.spec.groups[0].name),
      /spec\/groups\/0 must have required property name/,
    );
    await check(
      broken((o) => delete o.spec.groups[1].rules[0].expr),
      /rules\/0 must have required property expr/,
    );
    await check(
      broken((o) => o.spec.groups[1].rules[0].for = "five minutes"),
      /for must match pattern/,
    );
    await check(
      broken((o) => o.spec.groups[1].rules[0].severity = "critical"),
      /unknown field 'severity'/,
    );
    await check(
      broken((o) => o.spec.groups[0].rules[0].alert = "X"),
      /exactly one of alert, record/,
    );
    await check(
      broken((o) => o.spec.groups[1].name = o.spec.groups[0].name),
      /duplicate group name/,
    );
    await check(broken((o) => o.kind = "ConfigMap"), /kind is not PrometheusRule/);
    assert.equal(cases.length, 7);
  },
});

Deno.test({
  name: "drift: the committed k8s/prometheus-rule.yaml equals the generator's output",
  ...readsRepo,
  fn() {
    assert.ok(existsSync(PROMETHEUS_RULE_FILE), "k8s/prometheus-rule.yaml is committed");
    assert.equal(readFileSync(PROMETHEUS_RULE_FILE, "utf8"), renderPrometheusRule());
    checkUpToDate();
  },
});

Deno.test({
  name: "drift check fails on a stale copy and names the fix",
  ...writesTemp,
  fn() {
    const box = sandbox();
    try {
      const out = join(box.dir, "prometheus-rule.yaml");
      writeFileSync(out, renderPrometheusRule().replace("for: 5m", "for: 6m"));
      assert.throws(() => checkUpToDate({ out }), (e: Error) => {
        assert.ok(e instanceof CheckFailed);
        assert.match(e.message, /out of date .*run 'deno task apply-rules --generate'/);
        return true;
      });
    } finally {
      box.cleanup();
    }
  },
});

Deno.test({
  name: "phase 9 --dry-run prints its exact command lines and exits 0 without kubectl",
  ...task,
  async fn() {
    const box = sandbox();
    const before = readFileSync(PROMETHEUS_RULE_FILE, "utf8");
    try {
      const r = await runTask("apply-rules", ["--dry-run"], box);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(commandLines(r.stdout), [
        "kubectl apply -f k8s/prometheus-rule.yaml",
        "kubectl port-forward --namespace monitoring --address 127.0.0.1 svc/prometheus-operated 9090:9090 &",
      ]);
      const groups = readRuleGroups().map((g) => g.name).join(", ");
      assert.ok(r.stdout.includes(`/api/v1/rules must list ${groups}`), r.stdout);
      // Twice, identical (the commands are create-or-update).
      const again = await runTask("apply-rules", ["--dry-run"], box);
      assert.equal(again.stdout, r.stdout);
      // With a Prometheus URL given, no port-forward.
      const url = await runTask("apply-rules", [
        "--dry-run",
        "--context",
        "kind-x",
        "--prometheus-url",
        "http://127.0.0.1:19090",
      ], box);
      assert.deepEqual(commandLines(url.stdout), [
        "kubectl --context kind-x apply -f k8s/prometheus-rule.yaml",
      ]);
      assert.equal(readFileSync(PROMETHEUS_RULE_FILE, "utf8"), before, "dry run writes nothing");
    } finally {
      box.cleanup();
    }
  },
});

Deno.test({
  name: "phase 9 without --dry-run and without kubectl exits 2 naming it and how to install it",
  ...task,
  async fn() {
    const box = sandbox();
    try {
      const r = await runTask("apply-rules", [], box);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /^error: kubectl is not on PATH \(install kubectl: /m);
      const check = await runTask("apply-rules", ["--check"], box);
      assert.equal(check.code, 0, check.stderr);
      const both = await runTask("apply-rules", ["--check", "--local"], box);
      assert.equal(both.code, 2);
    } finally {
      box.cleanup();
    }
  },
});

Deno.test({
  name: "--local finds where Prometheus reads rules from its rule_files globs",
  ...unit,
  fn() {
    assert.ok(globRegExp("/a/rules/*.yaml").test("/a/rules/alert-rules.yaml"));
    assert.ok(!globRegExp("/a/rules/*.yaml").test("/a/rules/sub/x.yaml"));
    assert.ok(globRegExp("/a/r?les/*rules.y[am]ml").test("/a/rules/alert-rules.yaml"));
    assert.ok(!globRegExp("/a/rules/*.yml").test("/a/rules/alert-rules.yaml"));
    // Read in place (the local stack's config points at the repository's rules/).
    assert.deepEqual(planLocal([repoPath("rules", "*rules.yaml")], RULES_FILE).dest, null);
    // Copied next to another glob's files.
    assert.equal(
      planLocal(["/srv/prom/rules/*.yaml"], RULES_FILE).dest,
      "/srv/prom/rules/alert-rules.yaml",
    );
    // An explicit folder the globs do not read is refused.
    assert.throws(
      () => planLocal(["/srv/prom/rules/*.yaml"], RULES_FILE, "/elsewhere"),
      UsageError,
    );
    assert.throws(() => planLocal([], RULES_FILE), /reads no rule file named alert-rules\.yaml/);
  },
});

// --- against a real Prometheus ----------------------------------------------

interface Prom {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

async function startPrometheus(dir: string, ruleGlob: string, lifecycle = true): Promise<Prom> {
  const port = freePort();
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    `global:\n  evaluation_interval: 1s\nrule_files:\n  - ${JSON.stringify(ruleGlob)}\n`,
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${config}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      ...(lifecycle ? ["--web.enable-lifecycle"] : []),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
  };
  try {
    await (await waitForHttp(`${url}/-/ready`, 30_000)).body?.cancel();
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, dir, stop };
}

Deno.test({
  name:
    "apply-rules --local loads every group into a real Prometheus, reloads it, and reruns cleanly",
  ...realPrometheus,
  ignore: missing("prometheus"),
  fn: async () => {
    const box = sandbox();
    const rulesDir = join(box.dir, "rules");
    mkdirSync(rulesDir);
    const prom = await startPrometheus(box.dir, join(rulesDir, "*.yaml"));
    try {
      const groups = shippedGroups();
      assert.deepEqual(await loadedGroups(prom.url), [], "starts with no rules");
      const dry = await runTask("apply-rules", [
        "--local",
        "--dry-run",
        "--prometheus-url",
        prom.url,
      ], box);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(commandLines(dry.stdout), [
        `mkdir -p ${rulesDir}`,
        `cp rules/alert-rules.yaml ${join(rulesDir, "alert-rules.yaml")}`,
        `mkdir -p ${rulesDir}`,
        `cp rules/slo-rules.yaml ${join(rulesDir, "slo-rules.yaml")}`,
        `curl -fsS -X POST ${prom.url}/-/reload`,
        `curl -fsS ${prom.url}/api/v1/rules`,
      ]);
      assert.equal(existsSync(join(rulesDir, "alert-rules.yaml")), false, "dry run copies nothing");

      const first = await runTask("apply-rules", ["--local", "--prometheus-url", prom.url], box);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /# copied rules\/alert-rules\.yaml to /);
      assert.deepEqual((await loadedGroups(prom.url)).sort(), [...groups].sort());
      assert.ok(first.stdout.includes(`Prometheus lists all ${groups.length} groups`));

      const second = await runTask("apply-rules", ["--local", "--prometheus-url", prom.url], box);
      assert.equal(second.code, 0, second.stdout + second.stderr);
      assert.match(second.stdout, /alert-rules\.yaml is up to date/);
      assert.deepEqual((await loadedGroups(prom.url)).sort(), [...groups].sort());
    } finally {
      await prom.stop();
      box.cleanup();
    }
  },
});

Deno.test({
  name:
    "apply-rules --local: rules read in place (as the local stack does), and a Prometheus without the lifecycle API",
  ...realPrometheus,
  ignore: missing("prometheus"),
  fn: async () => {
    const box = sandbox();
    const inPlace = await startPrometheus(box.dir, repoPath("rules", "*rules.yaml"), false);
    try {
      const r = await runTask("apply-rules", ["--local", "--prometheus-url", inPlace.url], box);
      // Without --web.enable-lifecycle: exit 2 saying how to start it.
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stdout, /Prometheus reads rules\/alert-rules\.yaml in place/);
      assert.match(r.stderr, /refuses \/-\/reload .*--web\.enable-lifecycle/);
    } finally {
      await inPlace.stop();
    }
    const dir2 = join(box.dir, "second");
    mkdirSync(dir2);
    const live = await startPrometheus(dir2, repoPath("rules", "*rules.yaml"));
    try {
      const r = await runTask("apply-rules", ["--local", "--prometheus-url", live.url], box);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const groups = shippedGroups();
      const loaded = await loadedGroups(live.url);
      for (const g of groups) assert.ok(loaded.includes(g), `${g} loaded`);
    } finally {
      await live.stop();
      box.cleanup();
    }
    // Nothing listening: exit 2 naming 'deno task stack up'.
    const box3 = sandbox();
    try {
      const down = await runTask("apply-rules", [
        "--local",
        "--prometheus-url",
        `http://127.0.0.1:${freePort()}`,
      ], box3);
      assert.equal(down.code, 2);
      assert.match(down.stderr, /no Prometheus answers at .*deno task stack up/);
    } finally {
      box3.cleanup();
    }
  },
});

Deno.test({
  name:
    "apply-rules --local against a server that is not Prometheus exits 2 with one line saying so",
  ...realPrometheus,
  fn: async () => {
    // Stand-ins for what a wrong --prometheus-url finds: a web server with a
    // 404 page, one answering HTML to everything, one answering JSON of
    // another shape.
    const answers: Record<string, () => Response> = {
      "404 page": () =>
        new Response("<html><body>Not Found</body></html>", {
          status: 404,
          headers: { "content-type": "text/html" },
        }),
      "HTML 200": () =>
        new Response("<!doctype html><title>Welcome to nginx!</title>", {
          headers: { "content-type": "text/html" },
        }),
      "other JSON": () => Response.json({ hello: "world" }),
    };
    // The task's --allow-run names kubectl, ps and kill: with them on PATH
    // Deno has nothing to say about them, so stderr is ours alone.
    const box = sandbox(["kubectl", "ps", "kill"]);
    try {
      for (const [what, answer] of Object.entries(answers)) {
        const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, answer);
        try {
          const url = `http://127.0.0.1:${server.addr.port}`;
          const r = await runTask("apply-rules", ["--local", "--prometheus-url", url], box);
          assert.equal(r.code, 2, `${what}: ${r.stdout}${r.stderr}`);
          assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: ${r.stderr}`);
          assert.match(r.stderr, /^error: .* is not Prometheus/, what);
        } finally {
          await server.shutdown();
        }
      }
    } finally {
      box.cleanup();
    }
  },
});

Deno.test({
  name:
    "acceptance: after 'apply-rules --local' the local stack's Prometheus lists every group (stack on free ports, isolated state)",
  ...realPrometheus,
  ignore: missing("prometheus"),
  fn: async () => {
    const { freePorts, stackDown, stackUp } = await import("../scripts/lib/stack/mod.ts");
    const box = sandbox();
    const before = Deno.env.get("OBSKIT_STATE_DIR");
    Deno.env.set("OBSKIT_STATE_DIR", box.stateDir);
    try {
      const ports = await freePorts();
      await stackUp({
        ports,
        only: ["prometheus"],
        scrapeInterval: "1s",
        progress: { tty: false, write: () => {} },
      });
      // No --prometheus-url: the task finds the stack's port from its state folder.
      const r = await runTask("apply-rules", ["--local"], box);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const groups = shippedGroups();
      assert.ok(r.stdout.includes(`Prometheus lists all ${groups.length} groups`), r.stdout);
      const loaded = await loadedGroups(`http://127.0.0.1:${ports.prometheus}`);
      assert.deepEqual(groups.filter((g) => !loaded.includes(g)), []);
      const again = await runTask("apply-rules", ["--local"], box);
      assert.equal(again.code, 0, again.stdout + again.stderr);
    } finally {
      await stackDown();
      if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
      else Deno.env.set("OBSKIT_STATE_DIR", before);
      box.cleanup();
    }
  },
});
