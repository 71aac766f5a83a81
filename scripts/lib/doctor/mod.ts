// Troubleshooting: the chapter's troubleshooting guide as one command.
// Used by `deno task doctor` (scripts/doctor.ts).
/**
 * Each check prints one line, and the fix when something is wrong. Works
 * against the local stack (ports from its state file) and against
 * port-forwarded cluster services (the book's ports).
 */
import { lookup } from "node:dns/promises";
import { normalizeOtlpEndpoint } from "../../../apps/lib/otlp_endpoint.ts";
import { isListening } from "../net.ts";
import { referencedMetrics } from "../promql.ts";
import { tailFile } from "../process.ts";
import { isAlive } from "../process.ts";
import { redactSecrets, urlSecrets } from "../redact.ts";
import { readState, type StackPorts } from "../stack/mod.ts";
import { queryLogs } from "../logs/mod.ts";
import { formatTable } from "../tools/mod.ts";
import { loadCatalog } from "../validate/catalog.ts";
import {
  dashboardQueries,
  jaegerServices,
  metricSource,
  promTargets,
  runnableQuery,
  TARGET_FIXES,
} from "../verify/mod.ts";

export type DoctorStatus = "ok" | "warn" | "fail";

export interface DoctorLine {
  check: string;
  status: DoctorStatus;
  detail: string;
  fix?: string;
}

export interface DoctorOptions {
  ports: StackPorts;
  host?: string;
  prometheus: string;
  jaeger: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT as the apps would see it. */
  otlpEndpoint?: string;
}

async function httpOk(url: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return { ok: res.ok, detail: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    const msg = e.message === "fetch failed" && e.cause ? e.cause.message : e.message;
    return { ok: false, detail: /refused/i.test(msg) ? "connection refused" : msg };
  }
}

/**
 * Components of the recorded local stack whose process is gone: the most
 * useful line when something was killed ("collector (pid 123) is not running").
 */
export async function stoppedComponents(): Promise<DoctorLine[]> {
  const state = readState();
  if (!state) return [];
  const lines: DoctorLine[] = [];
  for (const c of Object.values(state.components)) {
    if (await isAlive(c.pid, c.startTime)) {
      lines.push({ check: `${c.name} process`, status: "ok", detail: `pid ${c.pid} running` });
      continue;
    }
    const last = tailFile(c.logFile, 1);
    lines.push({
      check: `${c.name} process`,
      status: "fail",
      detail: `${c.name} (pid ${c.pid}, port ${c.port}) is not running${
        last ? `; last log line: ${last.slice(0, 160)}` : ""
      }`,
      fix: `restart it: deno task stack up (logs: deno task stack logs ${c.name})`,
    });
  }
  return lines;
}

/** The OTLP endpoint the apps use, normalized as the apps do (gRPC 4317 → HTTP 4318). */
/**
 * Where the apps will send OTLP for this value (their own rule, apps/lib/otlp_endpoint.ts);
 * unset, the stack's OTLP/HTTP port.
 */
export function normalizeEndpoint(raw: string | undefined, httpPort = 4318): URL {
  if (!(raw ?? "").trim()) return new URL(`http://localhost:${httpPort}`);
  return new URL(normalizeOtlpEndpoint(raw, () => {}));
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorLine[]> {
  const host = opts.host ?? "127.0.0.1";
  const { ports } = opts;
  const lines: DoctorLine[] = [];
  lines.push(...await stoppedComponents());

  // 1. Collector health.
  const health = await httpOk(`http://${host}:${ports.collectorHealth}/`);
  lines.push({
    check: `collector health :${ports.collectorHealth}`,
    status: health.ok ? "ok" : "fail",
    detail: health.ok ? "healthy" : `not healthy (${health.detail})`,
    fix: health.ok
      ? undefined
      : "start the collector: deno task stack up (or deno task collector-local); " +
        "in a cluster: kubectl -n observability port-forward ds/otel-collector 13133",
  });

  // 2. OTLP ports accept connections.
  for (
    const [name, port] of [["OTLP/gRPC", ports.otlpGrpc], ["OTLP/HTTP", ports.otlpHttp]] as const
  ) {
    const open = await isListening(port, host);
    lines.push({
      check: `collector ${name} :${port}`,
      status: open ? "ok" : "fail",
      detail: open ? "accepts connections" : "connection refused",
      fix: open
        ? undefined
        : `nothing listens on ${port}: is the collector running? deno task stack status`,
    });
  }

  // 3. The configured OTLP endpoint and what it resolves to. Its userinfo
  // (http://user:pw@host) is a credential: shown redacted, never as given.
  const raw = opts.otlpEndpoint;
  const shown = raw === undefined ? undefined : redactSecrets(raw, urlSecrets(raw));
  let endpoint: URL;
  try {
    endpoint = normalizeEndpoint(raw, ports.otlpHttp);
  } catch {
    lines.push({
      check: "OTEL_EXPORTER_OTLP_ENDPOINT",
      status: "fail",
      detail: `not a URL: '${shown}'`,
      fix: `set it like http://localhost:${ports.otlpHttp}`,
    });
    endpoint = normalizeEndpoint(undefined, ports.otlpHttp);
  }
  const hostname = endpoint.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[] = [];
  try {
    addresses = (await lookup(hostname, { all: true })).map((a) => a.address);
  } catch (err) {
    lines.push({
      check: "OTLP endpoint resolves",
      status: "fail",
      detail: `${hostname}: ${(err as Error).message}`,
      fix:
        "fix the host name in OTEL_EXPORTER_OTLP_ENDPOINT (in a cluster: the collector's service DNS name)",
    });
  }
  if (addresses.length) {
    const port = Number(endpoint.port || (endpoint.protocol === "https:" ? 443 : 80));
    const reachable = await isListening(port, addresses[0]);
    const note = raw && normalizeEndpoint(raw).port !== (/:(\d+)/.exec(raw)?.[1] ?? "")
      ? " (a gRPC host:port, moved to the OTLP/HTTP port the apps use)"
      : "";
    lines.push({
      check: "OTLP endpoint",
      status: reachable ? "ok" : "fail",
      detail: `${
        raw ? `OTEL_EXPORTER_OTLP_ENDPOINT=${shown}` : "default"
      } -> ${endpoint.origin} -> ${addresses.join(", ")}${note}`,
      fix: reachable
        ? undefined
        : `nothing accepts connections at ${
          addresses[0]
        }:${port}: start the collector or fix the endpoint`,
    });
  }

  // 4. Prometheus targets and their last errors.
  let promUp = true;
  try {
    const targets = await promTargets(opts.prometheus);
    for (const t of targets) {
      const job = t.labels.job;
      lines.push({
        check: `prometheus target ${job}`,
        status: t.health === "up" ? "ok" : "fail",
        detail: t.health === "up"
          ? `up (${t.scrapeUrl})`
          : `${t.health}: ${t.lastError || "not scraped yet"}`,
        fix: t.health === "up" ? undefined : TARGET_FIXES[job] ?? `check ${t.scrapeUrl}`,
      });
    }
  } catch (err) {
    promUp = false;
    lines.push({
      check: "prometheus",
      status: "fail",
      detail: `${opts.prometheus}: ${(err as Error).message}`,
      fix:
        "start it: deno task stack up; in a cluster: kubectl -n monitoring port-forward svc/prometheus-operated 9090",
    });
  }

  // 5. Dashboard metric names present in Prometheus.
  if (promUp) {
    try {
      const res = await fetch(`${opts.prometheus}/api/v1/label/__name__/values`, {
        signal: AbortSignal.timeout(5000),
      });
      const names = new Set(((await res.json()) as { data: string[] }).data);
      const catalog = await loadCatalog();
      const wanted = new Set<string>();
      for (const q of dashboardQueries()) {
        try {
          for (const m of referencedMetrics(runnableQuery(q.expr))) {
            // ALERTS exists only while an alert fires.
            if (!m.startsWith("ALERTS")) wanted.add(m);
          }
        } catch { /* unparsable: validate reports it */ }
      }
      const missing: string[] = [];
      const clusterOnly: string[] = [];
      for (const m of [...wanted].sort()) {
        const src = metricSource(m, catalog);
        if (!src.local) {
          clusterOnly.push(m);
          continue;
        }
        if (!names.has(m)) missing.push(m);
      }
      lines.push({
        check: "dashboard metrics in Prometheus",
        status: wanted.size === 0 ? "warn" : missing.length ? "fail" : "ok",
        detail: wanted.size === 0
          ? "no dashboards found in dashboards/"
          : `${wanted.size - clusterOnly.length - missing.length}/${
            wanted.size - clusterOnly.length
          } local metric names present` +
            (missing.length
              ? `; missing: ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", ..." : ""}`
              : "") +
            (clusterOnly.length ? `; ${clusterOnly.length} need cluster exporters` : ""),
        fix: missing.length
          ? "run the apps and some traffic (deno task run-app, deno task run-pull, deno task load); recording rules need an evaluation interval"
          : undefined,
      });
    } catch (err) {
      lines.push({
        check: "dashboard metrics in Prometheus",
        status: "warn",
        detail: `could not check: ${(err as Error).message}`,
      });
    }
  }

  // 6. Jaeger's services.
  try {
    const services = await jaegerServices(opts.jaeger);
    const expected = ["platform-app", "trace-demo-service"];
    const absent = expected.filter((s) => !services.includes(s));
    lines.push({
      check: "jaeger services",
      status: absent.length ? "warn" : "ok",
      detail: services.length ? services.sort().join(", ") : "none yet",
      fix: absent.length
        ? `no traces from ${
          absent.join(", ")
        } yet: run deno task run-push / deno task run-app and send traffic; ` +
          "if they ran, check the collector's Jaeger exporter (deno task stack logs collector)"
        : undefined,
    });
  } catch (err) {
    lines.push({
      check: "jaeger",
      status: "fail",
      detail: `${opts.jaeger}: ${(err as Error).message}`,
      fix:
        "start it: deno task stack up; in a cluster: kubectl -n observability port-forward svc/jaeger-query 16686",
    });
  }
  // 7. The logs backend (local stack only: in a cluster the logs pipeline writes to the collector's log).
  lines.push(await logsBackendLine(`http://${host}:${ports.victorialogs}`, ports.victorialogs));
  return lines;
}

/** VictoriaLogs answers, and holds log lines from the last hour. */
async function logsBackendLine(base: string, port: number): Promise<DoctorLine> {
  const check = `victorialogs :${port}`;
  const health = await httpOk(`${base}/health`);
  if (!health.ok) {
    return {
      check,
      status: "warn",
      detail: `logs backend not reachable (${health.detail})`,
      fix:
        "deno task stack up starts it (deno task tools builds it); in a cluster no phase deploys one: logs go to the collector's log",
    };
  }
  try {
    const lines = await queryLogs(base, { sinceSeconds: 3600, limit: 1000 });
    const services = [...new Set(lines.map((l) => l.service).filter(Boolean))].sort();
    return {
      check,
      status: lines.length ? "ok" : "warn",
      detail: lines.length
        ? `${lines.length >= 1000 ? "1000+" : lines.length} lines in the last hour from ${
          services.join(", ")
        }`
        : "healthy, no log lines in the last hour",
      fix: lines.length
        ? undefined
        : "run deno task run-push or send the app traffic; if they ran, check the collector's otlp_http/victorialogs exporter (deno task stack logs collector)",
    };
  } catch (err) {
    return {
      check,
      status: "warn",
      detail: `healthy, but the query failed: ${(err as Error).message}`,
    };
  }
}

/**
 * The printed report. Redacted as a whole, last: URLs with userinfo and
 * token-shaped values anywhere (a target's error, a URL from the environment),
 * plus the literal `secrets` the caller knows.
 */
export function doctorReport(lines: DoctorLine[], secrets: string[] = []): string {
  return redactSecrets(unredactedReport(lines), secrets);
}

function unredactedReport(lines: DoctorLine[]): string {
  const mark = { ok: "ok", warn: "warn", fail: "FAIL" } as const;
  const table = formatTable(
    ["", "check", "detail"],
    lines.map((l) => [mark[l.status], l.check, l.detail]),
  );
  const fixes = lines.filter((l) => l.status !== "ok" && l.fix).map((l) =>
    `- ${l.check}: ${l.fix}`
  );
  return fixes.length ? `${table}\n\nFixes:\n${fixes.join("\n")}` : table;
}
