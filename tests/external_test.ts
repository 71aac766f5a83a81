/**
 * The external-command library: quoting, dry-run (prints, runs nothing),
 * streamed runs with exit codes and timeouts, missing tools, and the kube
 * preflight against the real kubectl (when it is installed) talking to
 * a local stand-in API endpoint, a closed port, or no context at all.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckFailed, exitCodeFor, MissingPrerequisite } from "../scripts/lib/cli.ts";
import {
  commandLine,
  displayPath,
  execute,
  formatMs,
  helmArgs,
  kubectlArgs,
  majorMinor,
  preflight,
  Runner,
  shellQuote,
} from "../scripts/lib/k8s/external.ts";
import { freePort } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";
import { findTool } from "./support.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
/** Spawns programs (which are looked up on PATH). */
const spawns = {
  permissions: { net: false, run: true, read: true, env: true, write: false },
} as const;
/** Spawns programs and writes temporary files (a marker, a kubeconfig). */
const spawnsWrites = { permissions: { ...spawns.permissions, write: true } } as const;
/** The real kubectl against a loopback stand-in or a closed loopback port. */
const kube = { permissions: { ...spawnsWrites.permissions, net: true } } as const;

function collect(): { lines: string[]; print: (l: string) => void } {
  const lines: string[] = [];
  return { lines, print: (l) => lines.push(l) };
}

Deno.test({
  name: "shellQuote quotes only what a shell would split or expand",
  ...unit,
  fn() {
    assert.equal(shellQuote("kubectl"), "kubectl");
    assert.equal(shellQuote("jsonpath={.data.admin-password}"), "jsonpath={.data.admin-password}");
    assert.equal(shellQuote("--timeout=5m"), "--timeout=5m");
    assert.equal(shellQuote("a b"), "'a b'");
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote("$HOME"), "'$HOME'");
    assert.equal(shellQuote(""), "''");
    assert.equal(commandLine(["echo", "a b", "c"]), "echo 'a b' c");
  },
});

Deno.test({
  name: "quoted command lines survive a real shell unchanged",
  ...spawns,
  async fn() {
    const args = ["a b", "it's", "$HOME", "x;y", "jsonpath={.data.admin-password}", ""];
    const line = commandLine(["printf", "%s\\n", ...args]);
    const r = await execute(["sh", "-c", line]);
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout.split("\n").slice(0, -1), args);
  },
});

Deno.test({
  name: "kube context flags go to kubectl and helm under their own names",
  ...unit,
  fn() {
    assert.deepEqual(kubectlArgs({}, "get", "pods"), ["kubectl", "get", "pods"]);
    assert.deepEqual(kubectlArgs({ context: "kind-a" }, "get"), [
      "kubectl",
      "--context",
      "kind-a",
      "get",
    ]);
    assert.deepEqual(helmArgs({ context: "kind-a" }, "list"), [
      "helm",
      "--kube-context",
      "kind-a",
      "list",
    ]);
  },
});

Deno.test({
  name: "displayPath is repository-relative inside the repository only",
  ...unit,
  fn() {
    assert.equal(displayPath(repoPath("k8s", "x.yaml")), "k8s/x.yaml");
    assert.equal(displayPath("/etc/hosts"), "/etc/hosts");
    assert.equal(formatMs(300_000), "5m");
    assert.equal(formatMs(30_000), "30s");
    assert.equal(formatMs(250), "250ms");
    assert.deepEqual(majorMinor("v3.16.2+g13654a5"), [3, 16]);
    assert.deepEqual(majorMinor("v1.32.4-dispatcher"), [1, 32]);
    assert.equal(majorMinor("unknown"), null);
  },
});

Deno.test({
  name: "dry run prints the exact command line and runs nothing",
  ...spawnsWrites,
  async fn() {
    const dir = mkdtempSync(join(tmpdir(), "obskit-ext-"));
    try {
      const marker = join(dir, "ran");
      const out = collect();
      const runner = new Runner(true, out.print);
      const r = await runner.run(["touch", marker], { note: "would create a file" });
      assert.equal(r.code, 0);
      assert.equal(existsSync(marker), false);
      assert.deepEqual(out.lines, [`touch ${marker}   # would create a file`]);
      // The same runner for real does run it.
      await new Runner(false, out.print).run(["touch", marker]);
      assert.equal(existsSync(marker), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
});

Deno.test({
  name: "a run captures output and a failing command becomes CheckFailed with the hint",
  ...spawns,
  async fn() {
    const runner = new Runner(false, () => {});
    const ok = await runner.run(["sh", "-c", "echo out; echo err >&2"], { quiet: true });
    assert.equal(ok.stdout, "out\n");
    assert.equal(ok.stderr, "err\n");
    await assert.rejects(
      runner.run(["sh", "-c", "echo 'no such release' >&2; exit 3"], {
        quiet: true,
        hint: "run helm status",
      }),
      (e: Error) => {
        assert.ok(e instanceof CheckFailed);
        assert.equal(exitCodeFor(e), 1);
        assert.match(e.message, /exited with code 3: no such release; run helm status/);
        return true;
      },
    );
    const allowed = await runner.run(["sh", "-c", "exit 1"], { quiet: true, okCodes: [0, 1] });
    assert.equal(allowed.code, 1);
  },
});

Deno.test({
  name: "a command past its timeout is killed and reported",
  ...spawns,
  async fn() {
    const runner = new Runner(false, () => {});
    const t0 = Date.now();
    await assert.rejects(
      runner.run(["sleep", "30"], { quiet: true, timeoutMs: 300, hint: "is the cluster slow?" }),
      (e: Error) => {
        assert.ok(e instanceof CheckFailed);
        assert.match(e.message, /'sleep 30' timed out after 300ms; is the cluster slow\?/);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 5000, "killed promptly");
  },
});

Deno.test({
  name: "a missing program is a missing prerequisite (exit 2) saying how to install it",
  ...spawns,
  async fn() {
    await assert.rejects(execute(["obskit-no-such-tool-x"]), (e: Error) => {
      assert.ok(e instanceof MissingPrerequisite);
      assert.equal(exitCodeFor(e), 2);
      assert.match(
        e.message,
        /obskit-no-such-tool-x is not on PATH \(install obskit-no-such-tool-x\)/,
      );
      return true;
    });
  },
});

// --- kube preflight against the real kubectl --------------------------------

const KUBECTL = findTool("kubectl");
if (!KUBECTL) console.warn("skipping kubectl preflight tests: kubectl is not installed here");

function kubeconfig(dir: string, server: string | null): string {
  const path = join(dir, "config");
  const ctx = server
    ? `clusters:
- name: c
  cluster: {server: "${server}"}
contexts:
- name: obskit-test
  context: {cluster: c, user: u}
current-context: obskit-test
users:
- name: u
  user: {token: t}
`
    : "clusters: []\ncontexts: []\nusers: []\n";
  writeFileSync(path, `apiVersion: v1\nkind: Config\n${ctx}`);
  return path;
}

async function withKubeconfig<T>(server: string | null, fn: () => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "obskit-kube-"));
  const before = Deno.env.get("KUBECONFIG");
  Deno.env.set("KUBECONFIG", kubeconfig(dir, server));
  try {
    return await fn();
  } finally {
    if (before === undefined) Deno.env.delete("KUBECONFIG");
    else Deno.env.set("KUBECONFIG", before);
    rmSync(dir, { recursive: true, force: true });
  }
}

Deno.test({
  name: "preflight: kubectl without a context is a missing prerequisite naming the fix",
  ...spawnsWrites,
  ignore: !KUBECTL,
  fn: () =>
    withKubeconfig(null, async () => {
      await assert.rejects(
        preflight(new Runner(false, () => {}), { tools: ["kubectl"] }),
        (e: Error) => {
          assert.ok(e instanceof MissingPrerequisite);
          assert.match(e.message, /no current context.*kind create cluster/);
          return true;
        },
      );
    }),
});

Deno.test({
  name: "preflight: a cluster that does not answer is a missing prerequisite",
  ...kube,
  ignore: !KUBECTL,
  fn: () =>
    withKubeconfig(`http://127.0.0.1:${freePort()}`, async () => {
      await assert.rejects(
        preflight(new Runner(false, () => {}), { tools: ["kubectl"] }),
        (e: Error) => {
          assert.ok(e instanceof MissingPrerequisite);
          assert.match(e.message, /cluster of kube context 'obskit-test' does not answer/);
          return true;
        },
      );
    }),
});

Deno.test({
  name:
    "preflight passes when the context's API endpoint answers /readyz (local stand-in, not a cluster)",
  ...kube,
  ignore: !KUBECTL,
  fn: async () => {
    const seen: string[] = [];
    const port = freePort();
    const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
      seen.push(new URL(req.url).pathname);
      return new Response("ok");
    });
    try {
      await withKubeconfig(`http://127.0.0.1:${port}`, async () => {
        const out = collect();
        await preflight(new Runner(false, out.print), {
          tools: ["kubectl"],
          minVersions: { kubectl: [1, 0] },
        });
        assert.ok(
          out.lines.some((l) => /^# preflight: kubectl v\d+\.\d+/.test(l)),
          out.lines.join("\n"),
        );
        assert.ok(out.lines.includes("# preflight: kube context 'obskit-test' answers"));
        // A minimum version above the installed one is refused.
        await assert.rejects(
          preflight(new Runner(false, () => {}), {
            tools: ["kubectl"],
            minVersions: { kubectl: [99, 0] },
          }),
          /too old \(need 99\.0 or newer\)/,
        );
      });
      assert.ok(seen.includes("/readyz"), `asked ${seen.join(", ")}`);
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "dry-run preflight never fails, and reports a missing tool as a comment",
  ...spawns,
  async fn() {
    const out = collect();
    await preflight(new Runner(true, out.print), { tools: ["obskit-no-such-tool-y"] });
    assert.ok(out.lines.every((l) => l.startsWith("# ")), out.lines.join("\n"));
    assert.ok(out.lines.some((l) => l.includes("obskit-no-such-tool-y is not on PATH")));
  },
});
