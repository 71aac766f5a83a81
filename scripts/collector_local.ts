/**
 * Phase 2 (`deno task collector-local`): just the collector, locally, with
 * the shipped config in local mode, health-checked on 13133. The binary
 * from `deno task tools` by default; `--docker` runs the pinned image as
 * the book does (when a Docker engine exists).
 */
import { resolve } from "node:path";
import { CheckFailed, durationFlag, MissingPrerequisite, parseFlags, runMain } from "./lib/cli.ts";
import { isListening, waitForHttp } from "./lib/net.ts";
import { stateDir } from "./lib/paths.ts";
import { describeHolder, portHolder } from "./lib/process.ts";
import {
  COLLECTOR_CONFIG,
  COLLECTOR_LOCAL_CONFIG,
  collectorEnv,
  defaultPorts,
  PORT_SPECS,
  resolvePorts,
} from "./lib/stack/mod.ts";
import { readManifest, requireTool } from "./lib/tools/mod.ts";

const collectorPorts = PORT_SPECS.filter((s) => s.component === "collector");
const spec = {
  name: "collector-local",
  summary:
    "Phase 2: run the OpenTelemetry Collector locally with the shipped config (local overlay) and check its health on 13133.",
  usage: "[--docker] [--check] [port flags]",
  flags: {
    docker: {
      type: "boolean" as const,
      description:
        "docker run the pinned otel/opentelemetry-collector-contrib image instead of the binary",
    },
    check: {
      type: "boolean" as const,
      description: "start, wait until healthy, print the endpoints, stop (exit 0 when healthy)",
    },
    timeout: {
      type: "string" as const,
      description: "how long to wait for the health check",
      valueName: "d",
      default: "30s",
    },
    "jaeger-endpoint": {
      type: "string" as const,
      description: "where traces go (env JAEGER_OTLP_ENDPOINT; default: the local stack's Jaeger)",
      valueName: "host:port",
    },
    ...Object.fromEntries(collectorPorts.map((s) => [s.flag, {
      type: "string" as const,
      description: `${s.description} (env ${s.env}, default ${s.default})`,
      valueName: "port",
    }])),
  },
  epilog: [
    "Runs in the foreground; Ctrl-C stops it. For the whole local stack (with Jaeger,",
    "Prometheus, Alertmanager) use 'deno task stack up' instead.",
    "Try it: curl http://localhost:13133/ ; deno task run-push",
  ].join("\n"),
};

type Flags = Record<string, string | boolean | undefined> & {
  docker?: boolean;
  check?: boolean;
  timeout: string;
  "jaeger-endpoint"?: string;
};

function hasDocker(): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (dir && Deno.statSync(`${dir}/docker`).isFile) return true;
    } catch { /* no */ }
  }
  return false;
}

/** The first line of `docker info`'s complaint when no engine answers, else null. */
async function dockerEngineProblem(): Promise<string | null> {
  try {
    const out = await new Deno.Command("docker", {
      args: ["info", "--format", "{{.ServerVersion}}"],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(15_000),
    }).output();
    if (out.success) return null;
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").find((l) => l.trim()) ?? "";
    return err || `docker info exited ${out.code}`;
  } catch (err) {
    return (err as Error).message;
  }
}

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    const ports = { ...defaultPorts(), ...resolvePorts(flags) };
    // Its own queue folder: the stack's collector holds <state>/collector/queue.
    const env = collectorEnv(ports, resolve(stateDir(), "collector-local", "queue"));
    if (flags["jaeger-endpoint"]) env.JAEGER_OTLP_ENDPOINT = flags["jaeger-endpoint"];
    else if (Deno.env.get("JAEGER_OTLP_ENDPOINT")) {
      env.JAEGER_OTLP_ENDPOINT = Deno.env.get("JAEGER_OTLP_ENDPOINT")!;
    }
    const timeoutMs = durationFlag("timeout", flags.timeout);
    if (flags.docker) {
      if (!hasDocker()) {
        throw new MissingPrerequisite(
          "docker not found on PATH",
          "install Docker (https://docs.docker.com/engine/install/) or run without --docker to use the binary from 'deno task tools'",
        );
      }
      const problem = await dockerEngineProblem();
      if (problem) {
        throw new MissingPrerequisite(
          `no Docker engine answers (${problem})`,
          "start the Docker daemon, or run without --docker to use the binary from 'deno task tools'",
        );
      }
    }
    const listen = collectorPorts.map((s) => ports[s.key]);
    for (const port of listen) {
      if (await isListening(port)) {
        const h = await portHolder(port);
        throw new CheckFailed(
          `port ${port} is already in use by ${
            h ? describeHolder(h) : "another process"
          } (is 'deno task stack up' running? it includes the collector)`,
        );
      }
    }
    let cmd: string;
    let args: string[];
    if (flags.docker) {
      const image = `otel/opentelemetry-collector-contrib:${readManifest().version}`;
      cmd = "docker";
      // In a container the collector binds 0.0.0.0 and Docker publishes the ports on loopback.
      // The persistent queue (local overlay) goes to a tmpfs the image's non-root user can
      // write: a host folder would not be writable by it, and --rm ends the queue anyway.
      const dockerEnv = {
        ...env,
        OTELCOL_BIND_HOST: "0.0.0.0",
        OTELCOL_QUEUE_DIR: "/otelcol-queue",
      };
      args = [
        "run",
        "--rm",
        "--name",
        "obskit-otel-collector",
        ...listen.flatMap((p) => ["-p", `127.0.0.1:${p}:${p}`]),
        ...Object.entries(dockerEnv).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
        "--tmpfs",
        "/otelcol-queue:mode=1777",
        "-v",
        `${COLLECTOR_CONFIG}:/etc/otelcol/config.yaml:ro`,
        "-v",
        `${COLLECTOR_LOCAL_CONFIG}:/etc/otelcol/local.yaml:ro`,
        image,
        "--config",
        "/etc/otelcol/config.yaml",
        "--config",
        "/etc/otelcol/local.yaml",
      ];
    } else {
      cmd = requireTool("otelcol-obskit");
      args = ["--config", COLLECTOR_CONFIG, "--config", COLLECTOR_LOCAL_CONFIG];
    }
    console.error(`$ ${cmd} ${args.join(" ")}`);
    const child = new Deno.Command(cmd, {
      args,
      env,
      stdin: "null",
      stdout: flags.check ? "null" : "inherit",
      stderr: flags.check ? "piped" : "inherit",
    }).spawn();
    let stderrText = "";
    if (flags.check) {
      (async () => {
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
          stderrText = (stderrText + chunk).slice(-8000);
        }
      })();
    }
    const stop = () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    };
    // Ctrl-C / SIGTERM: stop the collector and exit 130, like load, demo and verify.
    let interrupted = false;
    const onSignal = () => {
      interrupted = true;
      stop();
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    const healthUrl = `http://127.0.0.1:${ports.collectorHealth}/`;
    const exited = child.status.then((s) => ({ exited: true as const, code: s.code }));
    const healthy = waitForHttp(healthUrl, timeoutMs).then(() => ({
      exited: false as const,
      code: 0,
    }));
    const first = await Promise.race([
      exited,
      healthy.catch((e: Error) => ({ exited: false as const, code: -1, e })),
    ]);
    if (first.exited || first.code !== 0) {
      stop();
      await child.status;
      if (interrupted) return 130;
      const tail = stderrText.trim().split("\n").slice(-10).join("\n");
      throw new CheckFailed(
        `collector (health port ${ports.collectorHealth}) did not become healthy${
          tail ? `; last lines:\n${tail}` : ""
        }`,
      );
    }
    console.error(
      `collector healthy: ${healthUrl}  OTLP gRPC 127.0.0.1:${ports.otlpGrpc}  OTLP HTTP http://127.0.0.1:${ports.otlpHttp}  ` +
        `Prometheus exporter http://127.0.0.1:${ports.collectorPromExporter}/metrics`,
    );
    if (flags.check) {
      stop();
      await child.status;
      return interrupted ? 130 : 0;
    }
    const status = await child.status;
    if (interrupted) return 130;
    return status.signal === "SIGTERM" || status.signal === "SIGINT" || status.code === 0 ? 0 : 1;
  });
}
