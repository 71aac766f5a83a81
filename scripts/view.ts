/**
 * `deno task view`: the local viewer on http://127.0.0.1:3000 (the port the
 * chapter gives Grafana): the committed dashboards with their data (and the
 * latency panels' exemplars, linked to their traces), Jaeger's traces as
 * waterfalls with their log lines from VictoriaLogs, and the alerts. `--snapshot DIR` writes one PNG per
 * dashboard through headless Chromium instead. Logic in scripts/lib/view/.
 */
import { join, resolve } from "node:path";
import { intFlag, parseFlags, runMain, UsageError } from "./lib/cli.ts";
import { currentPorts } from "./lib/stack/mod.ts";
import { baseUrl, pushDemoTrace } from "./lib/verify/mod.ts";
import { loadDashboards } from "./lib/view/dashboard.ts";
import { DEFAULT_VIEW_PORT, serveViewer } from "./lib/view/mod.ts";
import { snapshotDashboards } from "./lib/view/snapshot.ts";

const spec = {
  name: "view",
  summary:
    "The local viewer: dashboards (from dashboards/*.json), traces (Jaeger) with their logs (VictoriaLogs) and alerts (Prometheus, Alertmanager) as web pages.",
  usage:
    "[--port 3000] [--prometheus URL] [--jaeger URL] [--alertmanager URL] [--victorialogs URL] [--snapshot DIR]",
  flags: {
    port: {
      type: "string" as const,
      description:
        `port on 127.0.0.1 (env VIEWER_PORT; default ${DEFAULT_VIEW_PORT}, or the running stack's)`,
      valueName: "n",
    },
    prometheus: {
      type: "string" as const,
      description: "Prometheus base URL (env PROMETHEUS_URL; default: the local stack's)",
      valueName: "url",
    },
    jaeger: {
      type: "string" as const,
      description: "Jaeger query base URL (env JAEGER_URL; default: the local stack's)",
      valueName: "url",
    },
    alertmanager: {
      type: "string" as const,
      description: "Alertmanager base URL (env ALERTMANAGER_URL; default: the local stack's)",
      valueName: "url",
    },
    victorialogs: {
      type: "string" as const,
      description:
        "VictoriaLogs base URL, for a trace's log lines (env VICTORIALOGS_URL; default: the local stack's)",
      valueName: "url",
    },
    snapshot: {
      type: "string" as const,
      description: "write one PNG per dashboard into DIR (headless chromium) and exit",
      valueName: "dir",
    },
    from: {
      type: "string" as const,
      description: "time range start for --snapshot",
      valueName: "t",
      default: "now-1h",
    },
  },
  epilog: [
    "Pages: /  /d/<uid>?var-job=...&from=now-1h&to=now  /traces  /trace/<id>  /alerts",
    "Exit status: 0 stopped by Ctrl-C or snapshot written, 1 a snapshot failed, 2 usage or a missing tool.",
  ].join("\n"),
};

type Flags = {
  port?: string;
  prometheus?: string;
  jaeger?: string;
  alertmanager?: string;
  victorialogs?: string;
  snapshot?: string;
  from: string;
};

function urlFrom(flag: string | undefined, name: string, env: string, dflt: string): string {
  if (flag !== undefined) return baseUrl(`--${name}`, flag);
  const fromEnv = Deno.env.get(env);
  if (fromEnv) return baseUrl(env, fromEnv);
  return dflt;
}

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    const ports = currentPorts();
    const up = {
      prometheus: urlFrom(
        flags.prometheus,
        "prometheus",
        "PROMETHEUS_URL",
        `http://127.0.0.1:${ports.prometheus}`,
      ),
      jaeger: urlFrom(
        flags.jaeger,
        "jaeger",
        "JAEGER_URL",
        `http://127.0.0.1:${ports.jaegerQuery}`,
      ),
      alertmanager: urlFrom(
        flags.alertmanager,
        "alertmanager",
        "ALERTMANAGER_URL",
        `http://127.0.0.1:${ports.alertmanager}`,
      ),
      victorialogs: urlFrom(
        flags.victorialogs,
        "victorialogs",
        "VICTORIALOGS_URL",
        `http://127.0.0.1:${ports.victorialogs}`,
      ),
    };
    if (!/^now(-\d+[smhd])?$/.test(flags.from)) {
      throw new UsageError(`--from must be like now-1h, got '${flags.from}'`);
    }
    if (flags.snapshot !== undefined) {
      if (!flags.snapshot) throw new UsageError("--snapshot needs a folder");
      const dir = resolve(flags.snapshot);
      const ac = new AbortController();
      const server = await serveViewer({ ...up, port: 0, signal: ac.signal });
      try {
        const written = await snapshotDashboards(
          `http://127.0.0.1:${server.addr.port}`,
          loadDashboards().map((d) => d.uid),
          dir,
          {
            from: flags.from,
            log: (l) => console.log(l),
            traceId: (await pushDemoTrace(up.jaeger).catch(() => null))?.traceID,
          },
        );
        console.log(
          `${written.length} snapshot(s) in ${dir}: ${written.map((w) => join(dir, w)).join(" ")}`,
        );
      } finally {
        ac.abort();
        await server.finished;
      }
      return 0;
    }
    const port = flags.port !== undefined
      ? intFlag("port", flags.port, 1, 65535)
      : Deno.env.get("VIEWER_PORT")
      ? intFlag("VIEWER_PORT", Deno.env.get("VIEWER_PORT")!, 1, 65535)
      : ports.viewer ?? DEFAULT_VIEW_PORT;
    const ac = new AbortController();
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => ac.abort());
    let server;
    try {
      server = await serveViewer({ ...up, port, signal: ac.signal });
    } catch (err) {
      if (err instanceof Deno.errors.AddrInUse) {
        throw new UsageError(`port ${port} is in use: pick another with --port`);
      }
      throw err;
    }
    console.log(
      `viewer on http://127.0.0.1:${port}  (Prometheus ${up.prometheus}, Jaeger ${up.jaeger}, Alertmanager ${up.alertmanager}, VictoriaLogs ${up.victorialogs})`,
    );
    await server.finished;
    return 0;
  });
}
