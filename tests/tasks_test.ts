/**
 * The task names in DESIGN.md are contracts: each exists in deno.json, none
 * runs with -A, and every script answers --help with exit 0.
 */
import { strict as assert } from "node:assert";
import { REPO_ROOT, repoPath } from "../scripts/lib/paths.ts";

const CONTRACT_TASKS = [
  ...Array.from({ length: 13 }, (_, i) => `phase${i}`),
  "setup-monitoring",
  "deploy-collector",
  "collector-local",
  "validate",
  "run-app",
  "run-pull",
  "run-push",
  "gen-dashboards",
  "import-dashboards",
  "apply-rules",
  "load",
  "verify",
  "stack",
  "tools",
  "demo",
  "gate",
  "bench",
  "test",
  "doctor",
];

function tasks(): Record<string, string> {
  const raw = JSON.parse(Deno.readTextFileSync(repoPath("deno.json"))).tasks;
  return Object.fromEntries(
    Object.entries(raw).map((
      [k, v],
    ) => [k, typeof v === "string" ? v : (v as { command: string }).command]),
  );
}

Deno.test({
  name: "every contract task exists and none runs with -A / --allow-all",
  permissions: { read: true },
  fn() {
    const t = tasks();
    for (const name of CONTRACT_TASKS) assert.ok(t[name], `task ${name} missing from deno.json`);
    for (const [name, cmd] of Object.entries(t)) {
      assert.ok(!/(^|\s)(-A|--allow-all)(\s|$)/.test(cmd), `task ${name} uses -A: ${cmd}`);
    }
  },
});

Deno.test({
  name: "every task that runs a script answers --help with exit 0 and a usage line",
  permissions: { read: true, run: true, env: true },
  async fn() {
    const t = tasks();
    const scriptTasks = Object.entries(t).filter(([, cmd]) => /^deno run .*\.ts$/.test(cmd));
    assert.ok(scriptTasks.length >= 18);
    for (const [name] of scriptTasks) {
      const out = await new Deno.Command("deno", {
        args: ["task", "-q", name, "--help"],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(
        out.code,
        0,
        `${name} --help exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
      );
      assert.match(text, /Usage: deno task /, `${name} --help prints a usage line`);
    }
  },
});
