/**
 * scripts/lib/redact.ts: what is hidden (URL userinfo with and without a
 * scheme, Authorization values, Grafana tokens, secret-named pairs, literal
 * secrets and their encodings) and what is left readable.
 */
import { strict as assert } from "node:assert";
import { redactSecrets, redactTokens, redactUrl, urlSecrets } from "../scripts/lib/redact.ts";

const unit = { permissions: { net: false, run: false, write: false, env: false } } as const;

Deno.test({
  name: "redactUrl strips userinfo from every URL, with or without a scheme, and keeps the rest",
  ...unit,
  fn() {
    const cases: [string, string][] = [
      ["http://user:pw@host:4318", "http://***@host:4318"],
      [
        "endpoint=https://u:p@collector.obs:4318/v1/traces?x=1",
        "endpoint=https://***@collector.obs:4318/v1/traces?x=1",
      ],
      // '@' inside the password: the last '@' ends the userinfo, as in WHATWG URL.
      ["http://user:a@b@host:1/x@y", "http://***@host:1/x@y"],
      ["two: http://a:b@h1 and grpc://c:d@h2:4317", "two: http://***@h1 and grpc://***@h2:4317"],
      ["user:pw@host:4317", "***@host:4317"],
      [
        "OTEL_EXPORTER_OTLP_ENDPOINT=user:pw@host:4317 -> x",
        "OTEL_EXPORTER_OTLP_ENDPOINT=***@host:4317 -> x",
      ],
      ["'http://tok@host'", "'http://***@host'"],
      // Nothing to hide.
      ["http://host:4318/v1/traces", "http://host:4318/v1/traces"],
      ["mail ops@example.com at 12:30", "mail ops@example.com at 12:30"],
      ["http://host/path?next=a@b", "http://host/path?next=a@b"],
    ];
    for (const [input, want] of cases) assert.equal(redactUrl(input), want, input);
  },
});

Deno.test({
  name: "redactTokens hides Authorization values, Grafana tokens and secret-named pairs",
  ...unit,
  fn() {
    const cases: [string, string][] = [
      ["with Bearer glsa_abcDEF_123", "with Bearer ***"],
      ["Authorization: Basic YWRtaW46cHc=", "Authorization: Basic ***"],
      ["a truncated Bearer glsa_TO", "a truncated Bearer ***"],
      ["token glsa_abcDEF_123 alone", "token *** alone"],
      ["?password=hunter22&x=1", "?password=***&x=1"],
      ['{"token": "s3cr3t", "ok": true}', '{"token": "***", "ok": true}'],
      ["GRAFANA_TOKEN=abc123 GRAFANA_PASSWORD=pw", "GRAFANA_TOKEN=*** GRAFANA_PASSWORD=***"],
      // Left alone: prose and names of variables.
      ["Basic auth failed", "Basic auth failed"],
      [
        "refused the credentials from GRAFANA_TOKEN: GET /api/x answered HTTP 401",
        "refused the credentials from GRAFANA_TOKEN: GET /api/x answered HTTP 401",
      ],
    ];
    for (const [input, want] of cases) assert.equal(redactTokens(input), want, input);
  },
});

Deno.test({
  name: "redactSecrets hides literal secrets in their encodings, then tokens and URLs",
  ...unit,
  fn() {
    assert.equal(redactSecrets("token abc123 and abc123", ["abc123"]), "token *** and ***");
    assert.equal(redactSecrets("p%40ss!", ["p@ss!"]), "***");
    assert.equal(redactSecrets(`Basic ${btoa("admin:pw1")}`, ["admin:pw1"]), "Basic ***");
    assert.equal(redactSecrets(`hdr ${btoa("admin:pw1")}`, ["admin:pw1"]), "hdr ***");
    // The longer secret is replaced whole, not left with a visible tail.
    assert.equal(redactSecrets("abcdef", ["abc", "abcdef"]), "***");
    // Too short to be a secret worth garbling the text for.
    assert.equal(redactSecrets("a pw b", ["pw", ""]), "a pw b");
    assert.equal(
      redactSecrets("x http://u:longpass@h Bearer t0k", ["longpass"]),
      "x http://***@h Bearer ***",
    );
  },
});

Deno.test({
  name: "urlSecrets finds the credentials of a URL-like value, also scheme-less or malformed",
  ...unit,
  fn() {
    assert.deepEqual(urlSecrets("http://user:pw%21x@host:1"), ["user:pw%21x", "pw%21x", "pw!x"]);
    assert.deepEqual(urlSecrets("user:secret@host:4317"), ["user:secret", "secret"]);
    assert.deepEqual(urlSecrets("http://tok3n@host"), ["tok3n"]);
    assert.deepEqual(urlSecrets("http://u:s3cret@bad host:99999"), ["u:s3cret", "s3cret"]);
    assert.deepEqual(urlSecrets("http://host:4318"), []);
    assert.deepEqual(urlSecrets(undefined), []);
  },
});
