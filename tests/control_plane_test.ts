/**
 * `deno task control-plane` and the cluster phases against a REAL API
 * server: kube-apiserver v1.37.2 + etcd started by the task itself, with the
 * CRDs controller-gen generated from prometheus-operator's API types. What
 * the stand-in (tests/k8s_support.ts standInApi) could only record,
 * the real server here judges: every object in k8s/ is dry-run and then
 * applied, broken objects fail with the API server's own message, and
 * phases 1 and 9 run up to the point that needs pods (no kubelet here, so
 * phase 1's rollout wait and phase 9's Prometheus check cannot pass).
 *
 * Needs `deno task tools --k8s`; with CI=true a missing tool fails the suite.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { freePort, isListening } from "../scripts/lib/net.ts";
import { repoPath, toolsDir } from "../scripts/lib/paths.ts";
import {
  commandLines,
  controlPlaneEnv,
  realApi,
  runTask,
  type Sandbox,
  sandbox,
  splitCommandLine,
  taskRunArgs,
  withEnv,
} from "./k8s_support.ts";
import { CRD_FILES, crdDir } from "../scripts/lib/tools/mod.ts";
import { paths } from "../scripts/lib/control_plane/mod.ts";
import { kubeconfigText } from "../scripts/lib/control_plane/config.ts";
import { IN_CI, missing } from "./support.ts";

const all = { permissions: { net: true, run: true, read: true, write: true, env: true } } as const;

/** The programs and generated CRDs the real control plane needs. */
function k8sToolsMissing(): boolean {
  if (missing("kube-apiserver", "etcd", "kubectl", "controller-gen")) return true;
  const absent = CRD_FILES.filter((f) => !existsSync(join(crdDir(), f)));
  if (absent.length === 0) return false;
  const msg = `needs the generated CRDs in ${crdDir()} (run 'deno task tools --k8s')`;
  if (IN_CI) throw new Error(`CI=true and a real component is missing: ${msg}`);
  console.warn(`skipping: ${msg}`);
  return true;
}
const NO_K8S = k8sToolsMissing();

interface Plane {
  box: Sandbox;
  env: Record<string, string>;
  kubeconfig: string;
  ports: { apiserver: number; etcd: number; etcdPeer: number };
}

function newPlane(): Plane {
  const box = sandbox();
  const ports = { apiserver: freePort(), etcd: freePort(), etcdPeer: freePort() };
  return {
    box,
    ports,
    kubeconfig: join(box.stateDir, "control-plane", "kubeconfig"),
    env: controlPlaneEnv(box),
  };
}

const portArgs = (p: Plane) => [
  "--port",
  String(p.ports.apiserver),
  "--etcd-port",
  String(p.ports.etcd),
  "--etcd-peer-port",
  String(p.ports.etcdPeer),
];

async function kubectl(
  p: Plane,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(join(toolsDir(), "bin", "kubectl"), {
    args: ["--kubeconfig", p.kubeconfig, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  // deno-lint-ignore no-explicit-any
  [k: string]: any;
}

/** Every Kubernetes object (apiVersion + kind) in a file; Helm values files have none. */
function objectsIn(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, "utf8"))
    .map((d) => d.toJS())
    .filter((o) => o && typeof o === "object" && "kind" in o && "apiVersion" in o);
}

/** k8s/*.yaml, read now: other changes add files there, the test follows. */
function manifestFiles(): string[] {
  return readdirSync(repoPath("k8s")).filter((f) => /\.ya?ml$/.test(f)).sort()
    .map((f) => repoPath("k8s", f));
}

function findObject(kind: string, pred: (o: K8sObject) => boolean = () => true): K8sObject {
  for (const f of manifestFiles()) {
    const o = objectsIn(f).find((o) => o.kind === kind && pred(o));
    if (o) return structuredClone(o);
  }
  throw new Error(`no ${kind} in k8s/`);
}

/** Live processes whose command line mentions `marker` (zombies hold no port and run nothing). */
async function processesWith(marker: string): Promise<string[]> {
  const out = await new Deno.Command("ps", { args: ["-eo", "pid=,stat=,args="], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((l) => l.includes(marker) && !/^\s*\d+\s+Z/.test(l));
}

Deno.test({
  name:
    "control-plane: a relative OBSKIT_STATE_DIR still gives absolute paths (kubectl reads a kubeconfig's relative paths from its folder)",
  permissions: { env: true, read: true },
  fn: async () => {
    await withEnv({ OBSKIT_STATE_DIR: "rel-state" }, () => {
      const l = paths();
      for (const path of [l.dir, l.kubeconfig, l.certDir, l.tokenFile, l.etcdData]) {
        assert.ok(path.startsWith("/"), path);
      }
      const text = kubeconfigText(
        l,
        { apiserver: 6443, etcd: 2379, etcdPeer: 2380 },
        "t".repeat(64),
      );
      assert.match(
        text,
        /^ {4}certificate-authority: \/.*\/rel-state\/control-plane\/pki\/serving\/apiserver\.crt$/m,
      );
      return Promise.resolve();
    });
  },
});

Deno.test({
  name: "control-plane: --help, unknown command (exit 2), missing tools named with the fix",
  ...all,
  fn: async () => {
    const box = sandbox();
    try {
      const help = await runTask("control-plane", ["--help"], box);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: deno task control-plane up\|down\|status/);
      assert.match(help.stdout, /no kubelet/);
      const bad = await runTask("control-plane", ["start"], box);
      assert.equal(bad.code, 2);
      assert.equal(
        bad.stderr.trim(),
        "error: unknown command 'start': up, down or status (see --help)",
      );
      const emptyTools = mkdtempSync(join(tmpdir(), "obskit-notools-"));
      try {
        const r = await runTask("control-plane", ["up"], box, {
          OBSKIT_TOOLS_DIR: emptyTools,
          PATH: box.binDir,
        });
        assert.equal(r.code, 2, r.stderr);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], /^error: etcd, kube-apiserver, kubectl, the CRDs in .* not found/);
        assert.match(lines[0], /deno task tools --k8s/);
        const st = await runTask("control-plane", ["status"], box, {
          OBSKIT_TOOLS_DIR: emptyTools,
        });
        assert.equal(st.code, 1);
        assert.match(st.stdout, /not running/);
      } finally {
        rmSync(emptyTools, { recursive: true, force: true });
      }
    } finally {
      box.cleanup();
    }
  },
});

Deno.test({
  name:
    "control-plane against the real kube-apiserver: up is idempotent, every object in k8s/ is accepted, broken objects get the API server's own error, phases 1 and 9 apply, down leaves nothing",
  ignore: NO_K8S,
  ...all,
  fn: async (t) => {
    const p = newPlane();
    try {
      const up = await runTask("control-plane", ["up", ...portArgs(p)], p.box, p.env);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.equal(up.stdout.trim(), `export KUBECONFIG=${p.kubeconfig}`);
      assert.match(up.stderr, /kube-apiserver v1\.37\.2: https:\/\/127\.0\.0\.1:\d+/);
      assert.match(up.stderr, /CRDs established: PrometheusRule, ServiceMonitor, PodMonitor/);
      const state = () =>
        JSON.parse(readFileSync(join(p.box.stateDir, "control-plane", "state.json"), "utf8"));
      const pids = [state().etcd.pid, state().apiserver.pid];

      await t.step("a second up changes nothing and keeps the same processes", async () => {
        const again = await runTask("control-plane", ["up"], p.box, p.env);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stderr, /already running/);
        assert.deepEqual([state().etcd.pid, state().apiserver.pid], pids);
      });

      await t.step("status: ready, with the kubeconfig and the note that no pods run", async () => {
        const st = await runTask("control-plane", ["status"], p.box, p.env);
        assert.equal(st.code, 0, st.stderr);
        assert.match(st.stdout, /kube-apiserver\s+\d+\s+https:\/\/127\.0\.0\.1:\d+\s+ready/);
        assert.match(st.stdout, /etcd\s+\d+\s+http:\/\/127\.0\.0\.1:\d+\s+healthy/);
        assert.match(st.stdout, /pods do not run here: there is no kubelet/);
      });

      await t.step(
        "token auth: a wrong token is refused, the kubeconfig's token is admitted",
        async () => {
          const wrong = await kubectl(p, ["get", "namespaces", "--token=not-the-token"]);
          assert.notEqual(wrong.code, 0);
          assert.match(wrong.stderr, /Unauthorized|must be logged in/, wrong.stderr);
          const ns = await kubectl(p, ["get", "namespaces", "-o", "name"]);
          assert.equal(ns.code, 0, ns.stderr);
          for (const n of ["monitoring", "observability", "default"]) {
            assert.match(ns.stdout, new RegExp(`^namespace/${n}$`, "m"));
          }
        },
      );

      await t.step(
        "phase 1 applies its manifests, then stops at the first rollout wait (no pods)",
        async () => {
          const r = await runTask(
            "deploy-collector",
            ["--no-port-forward", "--timeout", "3s"],
            p.box,
            {
              ...p.env,
              KUBECONFIG: p.kubeconfig,
            },
          );
          const out = r.stdout + r.stderr;
          assert.equal(r.code, 1, out);
          assert.match(out, /preflight: kube context 'obskit-control-plane' answers/);
          const applied = [...out.matchAll(/^(\S+\/\S+) (created|configured|unchanged)$/gm)]
            .map((m) => m[1]);
          assert.ok(applied.length >= 3, out);
          assert.doesNotMatch(out, /Warning: /);
          // It stops exactly where a kubelet would be needed: the first rollout status.
          assert.match(
            r.stderr,
            /^error: 'kubectl rollout status (deployment|daemonset)\/\S+ \.\.\.' exited/m,
          );
          for (const ref of applied.filter((a) => /^(deployment|daemonset)/.test(a))) {
            const got = await kubectl(p, ["get", ref, "-n", "observability", "-o", "name"]);
            assert.equal(got.code, 0, `${ref}: ${got.stderr}`);
          }
        },
      );

      await t.step(
        "phase 9 applies the PrometheusRule, then waits for a Prometheus that is not there",
        async () => {
          const r = await runTask(
            "apply-rules",
            [
              "--prometheus-url",
              `http://127.0.0.1:${freePort()}`,
              "--timeout",
              "2s",
            ],
            p.box,
            { ...p.env, KUBECONFIG: p.kubeconfig },
          );
          const out = r.stdout + r.stderr;
          assert.notEqual(r.code, 0, out);
          assert.match(
            out,
            /prometheusrule\.monitoring\.coreos\.com\/\S+ (created|configured|unchanged)/,
          );
          const rule = findObject("PrometheusRule");
          const got = await kubectl(p, [
            "get",
            "prometheusrule",
            rule.metadata.name,
            "-n",
            rule.metadata.namespace!,
            "-o",
            "json",
          ]);
          assert.equal(got.code, 0, got.stderr);
          assert.deepEqual(
            JSON.parse(got.stdout).spec.groups.map((g: { name: string }) => g.name),
            rule.spec.groups.map((g: { name: string }) => g.name),
          );
        },
      );

      await t.step(
        "every object in every file in k8s/: server dry run, then a real apply",
        async () => {
          let total = 0;
          for (const file of manifestFiles()) {
            const objects = objectsIn(file);
            if (objects.length === 0) continue; // Helm values, not objects
            total += objects.length;
            const base = ["apply", "--server-side", "--force-conflicts", "-f", file];
            const dry = await kubectl(p, [...base, "--dry-run=server"]);
            assert.equal(dry.code, 0, `${file}: ${dry.stderr}`);
            assert.equal(
              dry.stdout.trim().split("\n").filter((l) => l.endsWith("(server dry run)")).length,
              objects.length,
              `${file}:\n${dry.stdout}`,
            );
            const real = await kubectl(p, base);
            assert.equal(real.code, 0, `${file}: ${real.stderr}`);
            for (const o of objects) {
              const ns = o.metadata.namespace ? ["-n", o.metadata.namespace] : [];
              const kind = `${o.kind}.${
                o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""
              }`
                .replace(/\.$/, "");
              const got = await kubectl(p, ["get", kind, o.metadata.name, ...ns, "-o", "name"]);
              assert.equal(got.code, 0, `${o.kind}/${o.metadata.name}: ${got.stderr}`);
            }
          }
          // The collector's DaemonSet, RBAC, Services, NetworkPolicy, the rule and the monitors at least.
          assert.ok(total >= 11, `only ${total} objects in k8s/`);
        },
      );

      await t.step(
        "kubectl apply (client-side, as the phases run it) a second time reports every object unchanged",
        async () => {
          for (const file of manifestFiles()) {
            if (objectsIn(file).length === 0) continue;
            await kubectl(p, ["apply", "-f", file]);
            const again = await kubectl(p, ["apply", "-f", file]);
            assert.equal(again.code, 0, `${file}: ${again.stderr}`);
            // A field the server drops or defaults makes every rerun report "configured".
            const changed = again.stdout.trim().split("\n").filter((l) =>
              !l.endsWith(" unchanged")
            );
            assert.deepEqual(changed, [], `${file}: a rerun changed objects`);
          }
        },
      );

      await t.step("broken objects fail with the API server's own message", async () => {
        const apply = async (o: K8sObject, dryRun: boolean) => {
          const r = await kubectl(p, [
            "apply",
            "--server-side",
            "--force-conflicts",
            ...(dryRun ? ["--dry-run=server"] : []),
            "-f",
            "-",
          ], stringify(o));
          return r;
        };
        const svc = findObject("Service");
        svc.spec.ports[0].port = 70000;
        const rule = findObject("PrometheusRule");
        rule.spec.groups[0].rules.findIndex((r: { alert?: string }) => r.alert);
        const noExpr = structuredClone(rule);
        delete noExpr.spec.groups[0].rules[0].expr;
        const badFor = structuredClone(rule);
        const g = badFor.spec.groups.findIndex((g: { rules: { alert?: string }[] }) =>
          g.rules.some((r) => r.alert)
        );
        const i = badFor.spec.groups[g].rules.findIndex((r: { alert?: string }) => r.alert);
        badFor.spec.groups[g].rules[i].for = "2 minutes";
        const cm = findObject("ConfigMap");
        cm.metadata.namespace = "obskit-absent";
        const cases: [string, K8sObject, RegExp][] = [
          [
            "Service port 70000",
            svc,
            /spec\.ports\[0\]\.port: Invalid value: 70000: must be between 1 and 65535, inclusive/,
          ],
          [
            "PrometheusRule without expr",
            noExpr,
            /spec\.groups\[0\]\.rules\[0\]\.expr: Required value/,
          ],
          [
            "PrometheusRule with for: 2 minutes",
            badFor,
            new RegExp(
              `spec\\.groups\\[${g}\\]\\.rules\\[${i}\\]\\.for: Invalid value: "2 minutes": .*should match`,
            ),
          ],
          ["ConfigMap in a missing namespace", cm, /namespaces "obskit-absent" not found/],
        ];
        for (const [what, obj, message] of cases) {
          for (const dryRun of [true, false]) {
            const r = await apply(obj, dryRun);
            assert.notEqual(r.code, 0, `${what} was accepted (dry run ${dryRun})`);
            assert.match(r.stderr, message, `${what} (dry run ${dryRun}): ${r.stderr}`);
          }
        }
      });

      await t.step("down stops both processes and frees their ports", async () => {
        const down = await runTask("control-plane", ["down"], p.box, p.env);
        assert.equal(down.code, 0, down.stderr);
        assert.match(down.stdout, /^stopped: kube-apiserver \(pid \d+\), etcd \(pid \d+\)$/m);
        for (const port of Object.values(p.ports)) {
          assert.equal(await isListening(port), false, `port ${port} still listening`);
        }
        assert.deepEqual(await processesWith(p.box.stateDir), []);
        const st = await runTask("control-plane", ["status"], p.box, p.env);
        assert.equal(st.code, 1);
        const again = await runTask("control-plane", ["down"], p.box, p.env);
        assert.equal(again.code, 0);
        assert.match(again.stdout, /nothing to stop/);
      });
    } finally {
      await runTask("control-plane", ["down", "--purge"], p.box, p.env);
      p.box.cleanup();
    }
  },
});

Deno.test({
  name: "control-plane up: Ctrl-C during start-up stops what it started and leaves nothing running",
  ignore: NO_K8S,
  ...all,
  fn: async () => {
    const p = newPlane();
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [...taskRunArgs("control-plane"), "up", ...portArgs(p)],
        cwd: repoPath(),
        env: { ...p.env, OBSKIT_STATE_DIR: p.box.stateDir, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Interrupt once etcd is up, while kube-apiserver starts.
      let stderr = "";
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      while (!/^etcd: /m.test(stderr)) {
        const { value, done } = await reader.read();
        if (done) break;
        stderr += value;
      }
      child.kill("SIGINT");
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        stderr += value;
      }
      const status = await child.status;
      await child.stdout.cancel();
      assert.equal(status.code, 130, stderr);
      assert.match(
        stderr,
        /^interrupted; stopped what this 'up' had started \(kube-apiserver \(pid \d+\), etcd \(pid \d+\)\)$/m,
      );
      for (const port of Object.values(p.ports)) {
        assert.equal(await isListening(port), false, `port ${port} still listening`);
      }
      assert.deepEqual(await processesWith(p.box.stateDir), []);
      assert.equal(existsSync(join(p.box.stateDir, "control-plane", "state.json")), false);
    } finally {
      await runTask("control-plane", ["down", "--purge"], p.box, p.env);
      p.box.cleanup();
    }
  },
});

Deno.test({
  name:
    "every kubectl line the dry runs of phases 0, 1 and 9 print runs against the real API server: applies accepted with validation on, the rest answered by the server itself",
  ignore: NO_K8S,
  ...all,
  fn: async () => {
    const box = sandbox();
    const api = await realApi(box);
    const usageError =
      /unknown (flag|command|shorthand)|invalid argument|for usage|doesn't have a resource type|required flag/i;
    try {
      const lines: string[] = [];
      for (
        const [task, args] of [
          ["setup-monitoring", ["--dry-run", "--show-password"]],
          ["deploy-collector", ["--dry-run"]],
          ["apply-rules", ["--dry-run"]],
        ] as const
      ) {
        const r = await runTask(task, [...args], box);
        assert.equal(r.code, 0, r.stderr);
        lines.push(...commandLines(r.stdout).filter((l) => l.startsWith("kubectl ")));
      }
      const answers: string[] = [];
      for (const line of lines) {
        // No pods ever run here: waits and port-forwards are cut short instead of hanging.
        let words = splitCommandLine(line.replace(/ &$/, ""))
          .map((w) => w.startsWith("--timeout=") ? "--timeout=2s" : w);
        if (words[1] === "port-forward") words = [...words, "--pod-running-timeout=2s"];
        const child = new Deno.Command(words[0], {
          args: [...words.slice(1)],
          cwd: repoPath(),
          env: { ...api.env, KUBECONFIG: api.kubeconfig },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        const out = await child.output();
        clearTimeout(timer);
        const stderr = new TextDecoder().decode(out.stderr);
        assert.doesNotMatch(stderr, usageError, `${line}\n${stderr}`);
        if (/ apply -f /.test(line) || / get pods /.test(line) || / rollout restart /.test(line)) {
          assert.equal(out.code, 0, `${line}\n${stderr}`);
        } else {
          assert.notEqual(out.code, 0, `${line} succeeded with no pods`);
          answers.push(stderr.trim().split("\n").at(-1)!);
        }
      }
      // The server's own answers where phase 0's release (helm) and pods would be needed.
      const joined = answers.join("\n");
      assert.match(joined, /secrets "monitoring-grafana" not found/);
      assert.match(joined, /services "prometheus-operated" not found/);
      assert.match(joined, /timed out waiting for the condition/);
    } finally {
      await api.close();
      box.cleanup();
    }
  },
});

Deno.test({
  name: "control-plane: two concurrent 'up' start one control plane; the other finds it running",
  ignore: NO_K8S,
  ...all,
  fn: async () => {
    const p = newPlane();
    try {
      const [a, b] = await Promise.all([
        runTask("control-plane", ["up", ...portArgs(p)], p.box, p.env),
        runTask("control-plane", ["up", ...portArgs(p)], p.box, p.env),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const started = [a, b].filter((r) => /^etcd: 127\.0\.0\.1:\d+ \(pid \d+\)$/m.test(r.stderr));
      const found = [a, b].filter((r) => /^already running: /m.test(r.stderr));
      assert.equal(started.length, 1, a.stderr + b.stderr);
      assert.equal(found.length, 1, a.stderr + b.stderr);
      assert.equal((await processesWith(p.box.stateDir)).length, 2);
    } finally {
      await runTask("control-plane", ["down", "--purge"], p.box, p.env);
      p.box.cleanup();
    }
  },
});

Deno.test({
  name:
    "control-plane --simulate-nodes: phase 1 completes its rollout waits against the real controller-manager and scheduler (kwok marks the pods Ready), reruns cleanly, and down stops all five processes",
  ignore: NO_K8S || missing("kube-controller-manager", "kube-scheduler", "kwok"),
  ...all,
  fn: async () => {
    const box = sandbox();
    const api = await realApi(box, { simulateNodes: true });
    const p: Plane = { box, env: api.env, kubeconfig: api.kubeconfig, ports: api.ports };
    try {
      assert.match(api.up.stderr, /^node kwok-node-0 Ready \(managed by kwok\)$/m);
      const st = await runTask("control-plane", ["status"], box, api.env);
      assert.equal(st.code, 0, st.stdout + st.stderr);
      for (const c of ["kube-controller-manager", "kube-scheduler", "kwok"]) {
        assert.match(
          st.stdout,
          new RegExp(`^${c}\\s+\\d+\\s+127\\.0\\.0\\.1:\\d+\\s+running$`, "m"),
        );
      }
      assert.match(st.stdout, /no container runs, so logs, exec and port-forward do not work/);

      const env = { ...api.env, KUBECONFIG: api.kubeconfig };
      const phase1 = await runTask(
        "deploy-collector",
        ["--no-port-forward", "--timeout", "2m"],
        box,
        env,
      );
      const out = phase1.stdout + phase1.stderr;
      assert.equal(phase1.code, 0, out);
      assert.match(out, /^daemon set "otel-collector" successfully rolled out$/m);
      assert.match(out, /^deployment "jaeger" successfully rolled out$/m);
      assert.match(
        out,
        /^servicemonitor\.monitoring\.coreos\.com\/\S+ (created|configured|unchanged)$/m,
      );

      const pods = await kubectl(p, ["get", "pods", "-n", "observability", "-o", "json"]);
      assert.equal(pods.code, 0, pods.stderr);
      // deno-lint-ignore no-explicit-any
      const items = JSON.parse(pods.stdout).items as any[];
      const owners = items.map((i) => i.metadata.ownerReferences?.[0]?.kind).sort();
      // One collector pod per node (one node), one Jaeger replica; all placed by the scheduler.
      assert.deepEqual(owners, ["DaemonSet", "ReplicaSet"]);
      for (const i of items) {
        assert.equal(i.spec.nodeName, "kwok-node-0", i.metadata.name);
        assert.equal(i.status.phase, "Running", i.metadata.name);
      }

      const again = await runTask(
        "deploy-collector",
        ["--no-port-forward", "--timeout", "2m"],
        box,
        env,
      );
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /^daemonset\.apps\/otel-collector unchanged$/m);
    } finally {
      const down = await runTask("control-plane", ["down", "--purge"], box, api.env);
      box.cleanup();
      assert.equal(down.code, 0, down.stderr);
      assert.match(
        down.stdout,
        /^stopped: kwok \(pid \d+\), kube-scheduler \(pid \d+\), kube-controller-manager \(pid \d+\), kube-apiserver \(pid \d+\), etcd \(pid \d+\)$/m,
      );
      assert.deepEqual(await processesWith(box.stateDir), []);
    }
  },
});
