/**
 * `deno task tools`: install the pinned real components (collector built
 * with ocb, Jaeger v2, Prometheus/promtool/Alertmanager) into the tools
 * folder. Idempotent; the logic is in scripts/lib/tools.ts.
 */
import { parseFlags, runMain } from "./lib/cli.ts";
import { toolsDir } from "./lib/paths.ts";
import { formatElapsed } from "./lib/spinner.ts";
import { COMPONENT_GROUPS, installTools, toolsTable } from "./lib/tools.ts";

const spec = {
  name: "tools",
  summary:
    "Install the pinned real components (OpenTelemetry Collector via ocb, Jaeger v2, Prometheus, promtool, Alertmanager).",
  usage: "[--force] [--only collector,jaeger,debian]",
  flags: {
    force: { type: "boolean" as const, description: "rebuild even when already up to date" },
    only: {
      type: "string" as const,
      description: `comma-separated subset of: ${COMPONENT_GROUPS.join(", ")}`,
      valueName: "list",
    },
  },
  epilog: [
    "Environment:",
    "  OBSKIT_TOOLS_DIR  where to install (default: .tools in the repository); binaries go to <dir>/bin",
    "",
    "Needs Go >= 1.26 on PATH to build the collector and Jaeger (a newer toolchain named by a",
    "module's go line is fetched through the Go module proxy). Prometheus and Alertmanager come",
    "from the Debian packages prometheus and prometheus-alertmanager (apt-get when run as root).",
    "A second run only checks the stamps and prints the table.",
  ].join("\n"),
};

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<{ force?: boolean; only?: string }>(spec);
    const started = performance.now();
    console.error(`tools folder: ${toolsDir()}`);
    const rows = await installTools({
      force: flags.force,
      only: flags.only?.split(",").map((s) => s.trim()).filter(Boolean),
    });
    console.log(toolsTable(rows));
    console.error(`done in ${formatElapsed(performance.now() - started)}`);
  });
}
