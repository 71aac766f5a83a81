/**
 * Phase 7: generate the persona dashboards (developer, sre, management,
 * security) as Grafana JSON, from typed code in scripts/lib/dashboards/.
 */
import { relative } from "node:path";
import { parseFlags, runMain, UsageError } from "./lib/cli.ts";
import {
  buildDashboard,
  PERSONA_KEYS,
  selectPersonas,
  summary,
  writeDashboards,
} from "./lib/dashboards/generate.ts";
import { repoPath } from "./lib/paths.ts";

const spec = {
  name: "gen-dashboards",
  summary: "Phase 7: generate the persona dashboards (Grafana JSON) from typed code.",
  usage: "[--persona NAME] [--output-dir DIR] [--print]",
  flags: {
    persona: {
      type: "string" as const,
      description: `one of ${PERSONA_KEYS.join(", ")} (default: all)`,
      valueName: "name",
    },
    "output-dir": {
      type: "string" as const,
      description: "where to write dashboard-<persona>.json (default: dashboards/)",
      valueName: "dir",
    },
    print: {
      type: "boolean" as const,
      description:
        "print the JSON on stdout instead of writing files (one persona: the dashboard; all: an array)",
    },
  },
  epilog: `Examples:
  deno task gen-dashboards
  deno task gen-dashboards --persona developer --output-dir ./dashboards
  deno task gen-dashboards --persona security --print | jq -r .title`,
};

interface Flags {
  persona?: string;
  "output-dir"?: string;
  print?: boolean;
}

runMain(async () => {
  const { flags } = parseFlags<Flags>(spec);
  const personas = selectPersonas(flags.persona);
  if (flags.print) {
    // stdout carries the JSON alone, so it pipes into jq.
    const docs = personas.map(buildDashboard);
    console.log(JSON.stringify(flags.persona ? docs[0] : docs, null, 2));
    return 0;
  }
  const dir = flags["output-dir"] ?? repoPath("dashboards");
  let written: string[];
  try {
    written = await writeDashboards(personas, dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(
        `may not write to ${dir}: the task writes only inside the repository ` +
          `(for another place: deno run --allow-read=. --allow-write=DIR scripts/gen_dashboards.ts --output-dir DIR)`,
      );
    }
    if (err instanceof Deno.errors.AlreadyExists || err instanceof Deno.errors.NotADirectory) {
      throw new UsageError(`--output-dir ${dir} is a file, not a directory`);
    }
    throw err;
  }
  const shown = (p: string) => {
    const rel = relative(Deno.cwd(), p);
    return rel.startsWith("..") ? p : `./${rel}`;
  };
  console.log(personas.map((p, i) => summary(p, shown(written[i]))).join("\n\n"));
  return 0;
});
