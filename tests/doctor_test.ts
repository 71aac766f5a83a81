/**
 * doctor: endpoint normalization, and with nothing running every check
 * fails with its fix and the CLI exits 1. That doctor names a killed
 * component of the real stack is in fault_test.ts.
 */
import { strict as assert } from "node:assert";
import { repoPath } from "../scripts/lib/paths.ts";
import { normalizeEndpoint, runDoctor } from "../scripts/lib/doctor/mod.ts";
import { freePorts } from "../scripts/lib/stack/mod.ts";

Deno.test("normalizeEndpoint: the apps' rule (no scheme = gRPC host:port, OTLP/HTTP next); URLs stay", () => {
  assert.equal(normalizeEndpoint("localhost:4317").href, "http://localhost:4318/");
  assert.equal(normalizeEndpoint("localhost:28317").href, "http://localhost:28318/");
  assert.equal(
    normalizeEndpoint("http://collector.observability:4318").href,
    "http://collector.observability:4318/",
  );
  assert.equal(normalizeEndpoint(undefined).href, "http://localhost:4318/");
  assert.equal(normalizeEndpoint("", 24318).href, "http://localhost:24318/");
});

Deno.test("runDoctor: nothing running -> each check fails and says what to do", async () => {
  const before = Deno.env.get("OBSKIT_STATE_DIR");
  Deno.env.set("OBSKIT_STATE_DIR", "/nonexistent-obskit-state");
  try {
    const ports = await freePorts();
    const lines = await runDoctor({
      ports,
      prometheus: `http://127.0.0.1:${ports.prometheus}`,
      jaeger: `http://127.0.0.1:${ports.jaegerQuery}`,
      otlpEndpoint: `http://localhost:${ports.otlpHttp}`,
    });
    const by = (check: string) => lines.find((l) => l.check === check);
    assert.equal(by(`collector health :${ports.collectorHealth}`)?.status, "fail");
    assert.match(by(`collector health :${ports.collectorHealth}`)!.fix!, /deno task stack up/);
    assert.equal(by(`collector OTLP/gRPC :${ports.otlpGrpc}`)?.status, "fail");
    assert.equal(by(`collector OTLP/HTTP :${ports.otlpHttp}`)?.status, "fail");
    assert.equal(by("prometheus")?.status, "fail");
    assert.match(by("prometheus")!.fix!, /port-forward/);
    assert.equal(by("jaeger")?.status, "fail");
    assert.ok(lines.every((l) => l.status === "ok" || l.fix), "every problem carries a fix");
  } finally {
    if (before === undefined) Deno.env.delete("OBSKIT_STATE_DIR");
    else Deno.env.set("OBSKIT_STATE_DIR", before);
  }
});

Deno.test("doctor CLI: exit 1 and a Fixes section when the pipeline is down", async () => {
  const ports = await freePorts();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      repoPath("scripts", "doctor.ts"),
      "--health-port",
      String(ports.collectorHealth),
      "--otlp-grpc-port",
      String(ports.otlpGrpc),
      "--otlp-http-port",
      String(ports.otlpHttp),
      "--prometheus-port",
      String(ports.prometheus),
      "--jaeger-port",
      String(ports.jaegerQuery),
    ],
    env: {
      NO_COLOR: "1",
      OBSKIT_STATE_DIR: "/nonexistent-obskit-state",
      OTEL_EXPORTER_OTLP_ENDPOINT: "",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 1, text + new TextDecoder().decode(out.stderr));
  assert.match(
    text,
    new RegExp(`FAIL\\s+collector health :${ports.collectorHealth}\\s+not healthy`),
  );
  assert.match(text, /^Fixes:$/m);
});

Deno.test("doctor CLI: a malformed --prometheus-url / --jaeger-url / PROMETHEUS_URL is exit 2, one line", async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--prometheus-url", "nope"], {}, /^error: --prometheus-url must be an http\(s\) URL/],
    [["--jaeger-url", "nope"], {}, /^error: --jaeger-url must be an http\(s\) URL/],
    [[], { PROMETHEUS_URL: "bad" }, /^error: PROMETHEUS_URL must be an http\(s\) URL/],
  ];
  for (const [args, env, want] of cases) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", repoPath("scripts", "doctor.ts"), ...args],
      env: { NO_COLOR: "1", OBSKIT_STATE_DIR: "/nonexistent-obskit-state", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, err);
    assert.equal(err.trim().split("\n").length, 1, err);
    assert.match(err, want);
  }
});

Deno.test("doctor CLI: credentials in OTEL_EXPORTER_OTLP_ENDPOINT, PROMETHEUS_URL and JAEGER_URL are never printed", async () => {
  const ports = await freePorts();
  const secret = "Xq7-otlpPassw0rd";
  const cases: Record<string, string>[] = [
    // The form, the book's scheme-less form, a password with '@' in it,
    // and an endpoint that is not a URL at all (printed as "not a URL").
    { OTEL_EXPORTER_OTLP_ENDPOINT: `http://user:${secret}@127.0.0.1:${ports.otlpHttp}` },
    { OTEL_EXPORTER_OTLP_ENDPOINT: `user:${secret}@127.0.0.1:${ports.otlpGrpc}` },
    { OTEL_EXPORTER_OTLP_ENDPOINT: `http://user:a@${secret}@127.0.0.1:${ports.otlpHttp}` },
    { OTEL_EXPORTER_OTLP_ENDPOINT: `http://user:${secret}@127.0.0.1:99999` },
    {
      PROMETHEUS_URL: `http://prom:${secret}@127.0.0.1:${ports.prometheus}`,
      JAEGER_URL: `http://jaeger:${secret}@127.0.0.1:${ports.jaegerQuery}`,
    },
    // Malformed: a usage error that quotes the value.
    { PROMETHEUS_URL: `http://prom:${secret}@bad host:1` },
  ];
  for (const env of cases) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        repoPath("scripts", "doctor.ts"),
        "--health-port",
        String(ports.collectorHealth),
        "--otlp-grpc-port",
        String(ports.otlpGrpc),
        "--otlp-http-port",
        String(ports.otlpHttp),
      ],
      env: { NO_COLOR: "1", OBSKIT_STATE_DIR: "/nonexistent-obskit-state", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const all = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(out.code === 1 || out.code === 2, all);
    // Neither the secret nor any prefix of it that would narrow a guess.
    assert.ok(!all.includes(secret.slice(0, 4)), `${JSON.stringify(env)}:\n${all}`);
  }
});
