/**
 * `deno task stack up|down|status|logs [component]`: the local stack (real
 * collector, Jaeger, Prometheus, Alertmanager as plain processes). Logic in
 * scripts/lib/stack/mod.ts.
 */
import { TOPOLOGIES, type Topology } from "./lib/stack/stack_cluster.ts";
import { CheckFailed, durationFlag, intFlag, parseFlags, runMain, UsageError } from "./lib/cli.ts";
import { stateDir } from "./lib/paths.ts";
import { tailFile } from "./lib/process.ts";
import {
  componentLog,
  type ComponentName,
  COMPONENTS,
  Interrupted,
  PORT_SPECS,
  prometheusDuration,
  purgeStackData,
  readState,
  readStateFile,
  resolvePorts,
  stackDown,
  stackStatus,
  stackUp,
  stackUrls,
  statePath,
  statusTable,
} from "./lib/stack/mod.ts";

const portFlags = Object.fromEntries(
  PORT_SPECS.map((s) => [
    s.flag,
    {
      type: "string" as const,
      description: `${s.description} (env ${s.env}, default ${s.default})`,
      valueName: "port",
    },
  ]),
);

const spec = {
  name: "stack",
  summary:
    "The local stack: OpenTelemetry Collector, Jaeger, Prometheus and Alertmanager as plain processes (no Docker, no Kubernetes).",
  usage: "up|down|status|logs [component] [options]",
  allowPositionals: true,
  flags: {
    topology: {
      type: "string" as const,
      description:
        "up: local (default), or cluster: the cluster's collector config and the scrape configs " +
        "kube-prometheus-stack makes of k8s/monitors.yaml (needs 'deno task control-plane up')",
      valueName: "local|cluster",
    },
    "scrape-interval": {
      type: "string" as const,
      description:
        "up: Prometheus scrape and rule evaluation interval (default: config/prometheus.yml's)",
      valueName: "d",
    },
    "rules-overlay": {
      type: "string" as const,
      multiple: true,
      description: "up: extra rule file or folder loaded next to rules/ (e.g. rules/test-overlay)",
      valueName: "path",
    },
    timeout: {
      type: "string" as const,
      description: "up: how long to wait for each component to become healthy",
      valueName: "d",
      default: "60s",
    },
    lines: {
      type: "string" as const,
      short: "n",
      description: "logs: how many lines per component",
      valueName: "N",
      default: "40",
    },
    follow: { type: "boolean" as const, short: "f", description: "logs: keep printing new lines" },
    purge: {
      type: "boolean" as const,
      description: "down: also delete the stack's data, rendered config and logs",
    },
    ...portFlags,
  },
  epilog: [
    "Commands:",
    "  up                 start what is not running yet and wait until each one is healthy",
    "  down               stop the processes 'up' started (by pid) and check their ports closed",
    "  status             every component with pid, port, healthy (pid alive and port answering);",
    "                     exit 1 when one is not running or not healthy",
    "  logs [component]   last lines of each log (components: " + COMPONENTS.join(", ") +
    ", and apps started by the demo)",
    "",
    `State (pids, logs, data): ${stateDir()} (env OBSKIT_STATE_DIR).`,
    "Ports given to 'up' are remembered: status/down/verify/doctor use them.",
    "Ctrl-C during 'up' stops what that 'up' started (exit 130; SIGTERM 143, SIGHUP 129). One",
    "'up'/'down' at a time per state folder (stack.lock): a second one waits for the first.",
    "Each started process also has a pid file (pids/<name>.json): 'down' stops what they name",
    "even when stack.json is damaged, and exits 1 when it cannot tell what runs.",
  ].join("\n"),
};

/** Signals that roll back an 'up' in progress, with the exit code each gives (128 + number). */
const UP_SIGNALS: [Deno.Signal, number][] = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]];

type Flags = Record<string, string | boolean | string[] | undefined> & {
  topology?: string;
  "scrape-interval"?: string;
  "rules-overlay"?: string[];
  timeout: string;
  lines: string;
  follow?: boolean;
  purge?: boolean;
};

async function logs(
  component: string | undefined,
  lines: number,
  follow: boolean,
): Promise<number> {
  const state = readState();
  const names = component ? [component] : Object.keys(state?.components ?? {});
  if (names.length === 0) {
    console.error(
      "the local stack is not running (no state); logs of the last run are in " +
        `${stateDir()}/logs`,
    );
    return 1;
  }
  const known = new Set([...COMPONENTS, ...Object.keys(state?.components ?? {})]);
  if (component && !known.has(component)) {
    throw new UsageError(`unknown component '${component}' (choose from ${[...known].join(", ")})`);
  }
  for (const name of names) {
    const file = componentLog(name);
    if (names.length > 1) console.log(`==> ${name} (${file}) <==`);
    console.log(tailFile(file, lines) || "(empty)");
  }
  if (!follow) return 0;
  const sizes = new Map(names.map((n) => [n, sizeOf(componentLog(n))]));
  while (true) {
    await new Promise((r) => setTimeout(r, 500));
    for (const name of names) {
      const file = componentLog(name);
      const size = sizeOf(file);
      const prev = sizes.get(name) ?? 0;
      if (size > prev) {
        const f = await Deno.open(file);
        await f.seek(prev, Deno.SeekMode.Start);
        const buf = new Uint8Array(size - prev);
        let read = 0;
        while (read < buf.length) {
          const r = await f.read(buf.subarray(read));
          if (r === null) break;
          read += r;
        }
        f.close();
        const text = new TextDecoder().decode(buf.subarray(0, read));
        for (const line of text.split("\n").filter(Boolean)) {
          console.log(names.length > 1 ? `${name} | ${line}` : line);
        }
      }
      sizes.set(name, size);
    }
  }
}

function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

if (import.meta.main) {
  runMain(async () => {
    const { flags, positionals } = parseFlags<Flags>(spec);
    const [command, component, ...rest] = positionals;
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    switch (command) {
      case "up": {
        const only = component ? [component as ComponentName] : undefined;
        if (component && !(COMPONENTS as readonly string[]).includes(component)) {
          throw new UsageError(
            `unknown component '${component}' (choose from ${COMPONENTS.join(", ")})`,
          );
        }
        const scrapeInterval = flags["scrape-interval"] !== undefined
          ? prometheusDuration(flags["scrape-interval"])
          : undefined;
        const timeoutMs = durationFlag("timeout", flags.timeout);
        if (flags.topology !== undefined && !TOPOLOGIES.includes(flags.topology as Topology)) {
          throw new UsageError(
            `--topology must be one of ${TOPOLOGIES.join(", ")}, got '${flags.topology}'`,
          );
        }
        const existing = readState();
        const ports = resolvePorts(flags);
        if (existing && PORT_SPECS.some((s) => flags[s.flag] !== undefined)) {
          console.error(
            "note: a stack is recorded in the state folder; it keeps its ports (run 'stack down' first to change them)",
          );
        }
        // Ctrl-C, SIGTERM, or SIGHUP (the terminal closed) while starting: stop
        // what this 'up' started, exit 128 + the signal's number (130 for Ctrl-C).
        const controller = new AbortController();
        let exitCode = 130;
        const handlers = UP_SIGNALS.map(([sig, code]) => {
          const on = () => {
            if (!controller.signal.aborted) exitCode = code;
            controller.abort();
          };
          Deno.addSignalListener(sig, on);
          return [sig, on] as const;
        });
        let res;
        try {
          res = await stackUp({
            ports,
            topology: flags.topology as Topology | undefined,
            scrapeInterval,
            rulesOverlay: flags["rules-overlay"],
            timeoutMs,
            only,
            signal: controller.signal,
          });
        } catch (err) {
          // After a hang-up, writing to the gone terminal can fail too; the
          // rollback in stackUp has run either way.
          if (!(err instanceof Interrupted) && !controller.signal.aborted) throw err;
          const message = err instanceof Interrupted ? err.message : `interrupted (${err})`;
          try {
            console.error(`\n${message}`);
            const left = (await stackStatus()).filter((r) => r.running);
            if (left.length) {
              console.error(
                `still running from before: ${
                  left.map((r) => r.component).join(", ")
                } (stop with 'deno task stack down')`,
              );
            }
          } catch { /* no terminal to tell */ }
          return exitCode;
        } finally {
          for (const [sig, on] of handlers) Deno.removeSignalListener(sig, on);
        }
        if (res.started.length === 0) console.error("already running; nothing to do");
        const rows = await stackStatus();
        console.log(statusTable(rows));
        const wanted = new Set<string>(only ?? COMPONENTS);
        const bad = rows.filter((r) => wanted.has(r.component) && !r.healthy);
        const urls = stackUrls(res.state.ports);
        console.log(
          `\nPrometheus ${urls.prometheus}  Alertmanager ${urls.alertmanager}  Jaeger ${urls.jaeger}\n` +
            `Send OTLP to ${urls.otlpHttp} (HTTP) or ${urls.otlpGrpc} (gRPC).`,
        );
        if (bad.length) {
          throw new CheckFailed(
            `not healthy after 'up': ${
              bad.map((r) => r.component).join(", ")
            } (see 'deno task stack logs')`,
          );
        }
        return 0;
      }
      case "down": {
        if (component) throw new UsageError("down stops the whole stack; it takes no component");
        // A closed terminal must not cut 'down' short: finish stopping, then exit.
        const ignore = () => {};
        Deno.addSignalListener("SIGHUP", ignore);
        let res;
        try {
          res = await stackDown();
        } finally {
          Deno.removeSignalListener("SIGHUP", ignore);
        }
        for (const note of res.notes) console.error(`note: ${note}`);
        if (res.details.length > 0) console.log(`stopped: ${res.details.join(", ")}`);
        else if (res.failures.length === 0) {
          console.log("nothing to stop (no local stack recorded)");
        }
        const problems = [...res.failures];
        if (res.stillListening.length > 0) {
          problems.push(`ports still listening after stop: ${res.stillListening.join(", ")}`);
        }
        if (problems.length > 0) throw new CheckFailed(problems.join("; "));
        if (flags.purge) {
          const removed = purgeStackData({ logs: true });
          console.log(removed.length ? `removed: ${removed.join(", ")}` : "nothing to remove");
        }
        return 0;
      }
      case "status": {
        if (component) throw new UsageError("status takes no component");
        const file = readStateFile();
        if (file.damaged) {
          throw new CheckFailed(
            `${statePath()} is damaged (${file.damaged}); 'deno task stack down' stops what it started`,
          );
        }
        const rows = await stackStatus();
        if (rows.length === 0) {
          console.log("the local stack is not running (run 'deno task stack up')");
          return 1;
        }
        console.log(statusTable(rows));
        const bad = rows.filter((r) => !r.healthy);
        if (bad.length) {
          console.error(
            `not running or not healthy: ${
              bad.map((r) => r.component).join(", ")
            } (start with 'deno task stack up')`,
          );
          return 1;
        }
        return 0;
      }
      case "logs":
        return await logs(
          component,
          intFlag("lines", flags.lines, 1, 100_000),
          flags.follow ?? false,
        );
      case undefined:
        throw new UsageError("missing command: up, down, status or logs (see --help)");
      default:
        throw new UsageError(`unknown command '${command}': up, down, status or logs (see --help)`);
    }
  });
}
