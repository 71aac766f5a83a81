/**
 * `deno task demo`: the README's main command. Tools, the local stack,
 * both apps, the push demo, 30 s of the chapter's traffic, verify, then the
 * URLs. Tears everything down on exit or Ctrl-C unless --keep. Logic in
 * scripts/lib/stack/stack_demo.ts.
 */
import { durationFlag, intFlag, parseFlags, runMain } from "./lib/cli.ts";
import { runDemo } from "./lib/stack/stack_demo.ts";
import { PORT_SPECS, resolvePorts } from "./lib/stack/mod.ts";

const spec = {
  name: "demo",
  summary:
    "Run the whole chapter locally: tools, stack (collector, Jaeger, Prometheus, Alertmanager), apps, push demo, traffic, verify.",
  usage: "[--keep] [--duration 30s] [--rate 10] [port flags]",
  flags: {
    keep: { type: "boolean" as const, description: "leave the stack and apps running at the end" },
    duration: {
      type: "string" as const,
      description: "how long to send traffic",
      valueName: "d",
      default: "30s",
    },
    rate: {
      type: "string" as const,
      description: "requests per second to the instrumented app",
      valueName: "n",
      default: "10",
    },
    "verify-wait": {
      type: "string" as const,
      description: "how long verify may wait for data to arrive",
      valueName: "d",
      default: "60s",
    },
    "skip-tools": { type: "boolean" as const, description: "do not run the tools step" },
    ...Object.fromEntries(PORT_SPECS.map((s) => [s.flag, {
      type: "string" as const,
      description: `${s.description} (env ${s.env}, default ${s.default})`,
      valueName: "port",
    }])),
  },
  epilog:
    "Exit status: 0 every check passed, 1 a check failed (the table says which), 2 usage or a missing tool.",
};

type Flags = Record<string, string | boolean | undefined> & {
  keep?: boolean;
  duration: string;
  rate: string;
  "verify-wait": string;
  "skip-tools"?: boolean;
};

if (import.meta.main) {
  runMain(async () => {
    const { flags } = parseFlags<Flags>(spec);
    const controller = new AbortController();
    let firstInterrupt = 0;
    const onSignal = () => {
      // `deno task` may deliver one Ctrl-C twice: only a later one quits at once.
      if (firstInterrupt && Date.now() - firstInterrupt > 1500) Deno.exit(130);
      if (firstInterrupt) return;
      firstInterrupt = Date.now();
      console.error("\ninterrupted: stopping what the demo started (Ctrl-C again to quit at once)");
      controller.abort();
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    let result;
    try {
      result = await runDemo({
        ports: resolvePorts(flags),
        keep: flags.keep,
        skipTools: flags["skip-tools"],
        trafficMs: durationFlag("duration", flags.duration),
        rate: intFlag("rate", flags.rate, 1, 1000),
        verifyWaitMs: durationFlag("verify-wait", flags["verify-wait"]),
        signal: controller.signal,
      });
    } catch (err) {
      // Interrupted: runDemo has already stopped what it started.
      if (controller.signal.aborted) return 130;
      throw err;
    }
    if (controller.signal.aborted) return 130;
    return result.ok ? 0 : 1;
  });
}
