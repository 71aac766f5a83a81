/**
 * `deno task doctor`: collector health, OTLP ports, the configured OTLP
 * endpoint, Prometheus targets, dashboard metric names, Jaeger services;
 * each problem with its fix. Logic in scripts/lib/doctor/mod.ts.
 */
import { parseFlags, runMain } from "./lib/cli.ts";
import { doctorReport, runDoctor } from "./lib/doctor/mod.ts";
import { urlSecrets } from "./lib/redact.ts";
import { currentPorts, PORT_SPECS, resolvePorts } from "./lib/stack/mod.ts";
import { baseUrl } from "./lib/verify/mod.ts";

const portKeys = ["collectorHealth", "otlpGrpc", "otlpHttp", "prometheus", "jaegerQuery"] as const;
const portFlags = Object.fromEntries(
  PORT_SPECS.filter((s) => (portKeys as readonly string[]).includes(s.key)).map((s) => [
    s.flag,
    {
      type: "string" as const,
      description: `${s.description} (env ${s.env}; default: the local stack's, else ${s.default})`,
      valueName: "port",
    },
  ]),
);

const spec = {
  name: "doctor",
  summary:
    "Troubleshoot the pipeline: collector health, OTLP ports and endpoint, Prometheus targets, dashboard metrics, Jaeger services.",
  usage: "[--host HOST] [--prometheus-url URL] [--jaeger-url URL] [port flags]",
  flags: {
    host: {
      type: "string" as const,
      description: "where the collector's ports are (a port-forward or the local stack)",
      valueName: "host",
      default: "127.0.0.1",
    },
    "prometheus-url": {
      type: "string" as const,
      description: "Prometheus base URL (env PROMETHEUS_URL)",
      valueName: "url",
    },
    "jaeger-url": {
      type: "string" as const,
      description: "Jaeger query base URL (env JAEGER_URL)",
      valueName: "url",
    },
    ...portFlags,
  },
  epilog: [
    "Against a cluster, port-forward first, e.g.:",
    "  kubectl -n observability port-forward ds/otel-collector 13133 4317 4318 &",
    "  kubectl -n monitoring port-forward svc/prometheus-operated 9090 &",
    "  kubectl -n observability port-forward svc/jaeger-query 16686 &",
    "The OTLP endpoint checked is OTEL_EXPORTER_OTLP_ENDPOINT, as the apps read it.",
    "Exit status: 0 all fine (warnings allowed), 1 something is broken.",
  ].join("\n"),
};

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Record<string, string | undefined> & { host: string }>(spec);
    const recorded = currentPorts();
    const given = resolvePorts(flags, () => undefined);
    const fromEnv = resolvePorts({}, (n) => Deno.env.get(n));
    const ports = { ...recorded };
    for (const s of PORT_SPECS) {
      if (flags[s.flag] !== undefined) ports[s.key] = given[s.key];
      else if (Deno.env.get(s.env)) ports[s.key] = fromEnv[s.key];
    }
    const host = flags.host;
    const url = (flag: string, env: string, dflt: string) => {
      if (flags[flag] !== undefined) return baseUrl(`--${flag}`, flags[flag]!);
      const fromEnv = Deno.env.get(env);
      return fromEnv ? baseUrl(env, fromEnv) : dflt;
    };
    // Malformed URLs are usage errors (exit 2) before anything is checked.
    const prometheus = url(
      "prometheus-url",
      "PROMETHEUS_URL",
      `http://${host}:${ports.prometheus}`,
    );
    const jaeger = url("jaeger-url", "JAEGER_URL", `http://${host}:${ports.jaegerQuery}`);
    const otlpEndpoint = Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT");
    const lines = await runDoctor({ ports, host, prometheus, jaeger, otlpEndpoint });
    // Credentials in any of the URLs are never printed (issue 10).
    const secrets = [otlpEndpoint, prometheus, jaeger].flatMap((u) => urlSecrets(u));
    console.log(doctorReport(lines, secrets));
    return lines.some((l) => l.status === "fail") ? 1 : 0;
  });
}
