import { strict as assert } from "node:assert";
import {
  durationFlag,
  exitCodeFor,
  intFlag,
  MissingPrerequisite,
  parseFlags,
  UsageError,
} from "../scripts/lib/cli.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;

const spec = {
  name: "demo-task",
  summary: "a test command",
  flags: {
    port: { type: "string" as const, description: "port", default: "8000" },
    json: { type: "boolean" as const, description: "json output" },
  },
};

Deno.test({
  name: "parseFlags reads values and defaults",
  ...unit,
  fn() {
    const { flags } = parseFlags<{ port: string; json?: boolean }>(spec, ["--json"]);
    assert.equal(flags.port, "8000");
    assert.equal(flags.json, true);
  },
});

Deno.test({
  name: "parseFlags rejects unknown flags with a usage error naming the task",
  ...unit,
  fn() {
    assert.throws(() => parseFlags(spec, ["--nope"]), (e: Error) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /--nope/);
      assert.match(e.message, /deno task demo-task --help/);
      return true;
    });
  },
});

Deno.test({
  name: "intFlag and durationFlag validate their input",
  ...unit,
  fn() {
    assert.equal(intFlag("port", "8080"), 8080);
    assert.throws(() => intFlag("port", "80a"), UsageError);
    assert.throws(() => intFlag("port", "70000"), UsageError);
    assert.equal(durationFlag("duration", "10s"), 10_000);
    assert.equal(durationFlag("duration", "5m"), 300_000);
    assert.equal(durationFlag("duration", "250ms"), 250);
    assert.equal(durationFlag("duration", "3"), 3000);
    assert.throws(() => durationFlag("duration", "ten"), UsageError);
    assert.throws(() => durationFlag("duration", "0s"), UsageError);
  },
});

Deno.test({
  name: "exit codes follow the contract",
  ...unit,
  fn() {
    assert.equal(exitCodeFor(new UsageError("x")), 2);
    assert.equal(exitCodeFor(new MissingPrerequisite("kubectl not found", "install it")), 2);
    assert.equal(exitCodeFor(new Error("boom")), 1);
  },
});

Deno.test({
  name: "parse errors read as one plain sentence",
  ...unit,
  fn() {
    const message = (args: string[]) => {
      try {
        parseFlags(spec, args);
      } catch (e) {
        return (e as Error).message;
      }
      return "no error";
    };
    assert.equal(
      message(["--port", "-5"]),
      "--port needs a value (a value starting with '-' is written --port=-5); see 'deno task demo-task --help'",
    );
    assert.equal(message(["--port"]), "--port needs a value; see 'deno task demo-task --help'");
    assert.equal(
      message(["extra"]),
      "unexpected argument 'extra'; see 'deno task demo-task --help'",
    );
  },
});
