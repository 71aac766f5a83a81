/**
 * Phase 8: every dashboard in dashboards/ into Grafana through its HTTP API,
 * in a folder, with the datasource variable bound to the user's Prometheus.
 * Rerunning updates the dashboards in place.
 */
import { resolve } from "node:path";
import { durationFlag, parseFlags, runMain } from "./lib/cli.ts";
import { grafanaAuthFromEnv, importDashboards } from "./lib/grafana/mod.ts";
import { repoPath } from "./lib/paths.ts";

const spec = {
  name: "import-dashboards",
  summary:
    "Phase 8: post each dashboard to Grafana's /api/dashboards/db (folder created when missing, datasource bound), print their URLs.",
  flags: {
    "dry-run": { type: "boolean" as const, description: "print the requests; send nothing" },
    url: {
      type: "string" as const,
      description: "Grafana base URL (default: $GRAFANA_URL or http://127.0.0.1:3000)",
      valueName: "url",
    },
    dir: {
      type: "string" as const,
      description: "folder of dashboard JSON files (default: dashboards/)",
      valueName: "dir",
    },
    folder: {
      type: "string" as const,
      description: "Grafana folder title",
      default: "Observability Kit",
    },
    "folder-uid": { type: "string" as const, description: "Grafana folder uid", default: "obskit" },
    "datasource-uid": {
      type: "string" as const,
      description: "Prometheus datasource uid (default: Grafana's default Prometheus datasource)",
      valueName: "uid",
    },
    timeout: { type: "string" as const, description: "per-request timeout", default: "15s" },
  },
  epilog: [
    "Credentials (never printed): GRAFANA_TOKEN (service-account token, Editor role),",
    "or GRAFANA_USER and GRAFANA_PASSWORD. After phase 0: GRAFANA_USER=admin and the",
    "password from 'deno task setup-monitoring --show-password'.",
  ].join("\n"),
};

interface Flags {
  "dry-run"?: boolean;
  url?: string;
  dir?: string;
  folder: string;
  "folder-uid": string;
  "datasource-uid"?: string;
  timeout: string;
}

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    const dryRun = flags["dry-run"] ?? false;
    const auth = dryRun ? null : grafanaAuthFromEnv();
    const imported = await importDashboards({
      url: flags.url ?? Deno.env.get("GRAFANA_URL") ?? "http://127.0.0.1:3000",
      dir: flags.dir ? resolve(flags.dir) : repoPath("dashboards"),
      folderTitle: flags.folder,
      folderUid: flags["folder-uid"],
      datasourceUid: flags["datasource-uid"],
      dryRun,
      timeoutMs: durationFlag("timeout", flags.timeout),
    }, auth);
    if (!dryRun) console.log(`imported ${imported.length} dashboard(s)`);
  });
}
