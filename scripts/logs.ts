/**
 * `deno task logs --trace ID`: the log lines of one trace from the local
 * stack's logs backend (VictoriaLogs). Exit 0 lines found, 1 none found,
 * 2 bad usage or the backend unreachable. The logic is scripts/lib/logs/mod.ts.
 */
import {
  durationFlag,
  intFlag,
  MissingPrerequisite,
  parseFlags,
  runMain,
  UsageError,
} from "./lib/cli.ts";
import { formatLogLine, logsBaseUrl, queryLogs } from "./lib/logs/mod.ts";
import { currentPorts } from "./lib/stack/mod.ts";

/** A running local stack's VictoriaLogs, else its default port. */
function localVictoriaLogs(): string {
  let port = 9428;
  try {
    port = currentPorts().victorialogs;
  } catch { /* no readable stack state */ }
  return `http://127.0.0.1:${port}`;
}

const spec = {
  name: "logs",
  summary:
    "Print the log lines of one trace (or a service) from the stack's logs backend (VictoriaLogs).",
  usage: "--trace ID | --service NAME [--since 1h] [--level WARN] [--url URL] [--json]",
  flags: {
    trace: {
      type: "string" as const,
      description: "trace id (32 hex digits, as run-push prints)",
      valueName: "id",
    },
    service: {
      type: "string" as const,
      description: "only this service.name (e.g. platform-app)",
      valueName: "name",
    },
    since: {
      type: "string" as const,
      description: "only lines newer than this (e.g. 15m, 2h; default 24h)",
      valueName: "d",
      default: "24h",
    },
    level: {
      type: "string" as const,
      description: "lowest level shown: DEBUG, INFO, WARN or ERROR",
      valueName: "level",
    },
    limit: {
      type: "string" as const,
      description: "at most this many lines (default 1000)",
      valueName: "n",
      default: "1000",
    },
    url: {
      type: "string" as const,
      description: "VictoriaLogs base URL (default: the local stack's, port 9428)",
      valueName: "url",
    },
    json: { type: "boolean" as const, description: "print the records as JSON lines" },
  },
  epilog: `Examples:
  deno task logs --trace 4bf92f3577b34da6a3ce929d0e0e4736
  deno task logs --service platform-app --since 15m --level WARN
The backend's own UI: http://127.0.0.1:9428/select/vmui/
Exit status: 0 lines found, 1 none found, 2 bad usage or the backend unreachable.`,
};

type Flags = {
  trace?: string;
  service?: string;
  since: string;
  level?: string;
  limit: string;
  url?: string;
  json?: boolean;
};

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    if (flags.trace === undefined && flags.service === undefined) {
      throw new UsageError("give --trace ID or --service NAME (see --help)");
    }
    const url = flags.url !== undefined ? logsBaseUrl(flags.url) : localVictoriaLogs();
    const query = {
      traceId: flags.trace,
      service: flags.service,
      sinceSeconds: durationFlag("since", flags.since) / 1000,
      level: flags.level,
      limit: intFlag("limit", flags.limit, 1, 100_000),
    };
    let lines;
    try {
      lines = await queryLogs(url, query);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new MissingPrerequisite(
        `logs backend at ${url} did not answer: ${(err as Error).message}`,
        "is the stack running? deno task stack up (or deno task stack status)",
      );
    }
    for (const l of lines) console.log(flags.json ? JSON.stringify(l) : formatLogLine(l));
    if (lines.length === 0) {
      const what = flags.trace ? `trace ${flags.trace}` : `service ${flags.service}`;
      console.error(`no log lines for ${what} in the last ${flags.since} at ${url}`);
      return 1;
    }
    return 0;
  });
}
