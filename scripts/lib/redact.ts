/**
 * Redaction of credentials in text we print: userinfo in URLs
 * (`http://user:pw@host` → `http://***@host`), Authorization values
 * (`Bearer …`, `Basic …`), Grafana tokens, `password=`-style pairs, and any
 * literal secret the caller knows. Redact the whole text FIRST, then cut or
 * reformat it: cutting first can leave a secret's prefix that no longer
 * matches (issue 10: `Bearer glsa_TO`).
 *
 * Dependency-free (no imports) so the apps can use it for their start-up log
 * as well as the scripts.
 */

/** What a redacted credential is replaced with. */
export const REDACTED = "***";

/**
 * `scheme://userinfo@`: the authority ends at the first '/', '?', '#', '\'
 * or whitespace; within it the WHATWG URL parser takes the LAST '@' as the
 * end of the userinfo (a password may contain an unencoded '@'), which the
 * greedy class reproduces.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#\\]*@/gi;

/**
 * The scheme-less `user:password@host` form (OTEL_EXPORTER_OTLP_ENDPOINT is
 * often written so): a token with a ':' before its last '@'. An e-mail
 * address has no ':' there and is left alone.
 */
const BARE_USERINFO = /(^|[\s'"=(<,;[])([^\s'"/?#@:<>\\=]+:[^\s'"/?#<>\\]*)@(?=[^\s@/])/g;

/**
 * Strips the userinfo (user name and password) of every URL in `text`,
 * with or without a scheme: `http://user:pw@host:4318` → `http://***@host:4318`,
 * `user:pw@host:4317` → `***@host:4317`. The rest of the URL is kept, so the
 * output still says where it points.
 */
export function redactUrl(text: string): string {
  return text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(BARE_USERINFO, `$1${REDACTED}@`);
}

/** Token-shaped credentials, replaced wherever they appear. */
const TOKEN_PATTERNS: [RegExp, string][] = [
  // Authorization header values. Bearer is always followed by a credential;
  // "Basic" only counts with base64 after it ("Basic realm" is not a secret).
  [/\b(Bearer)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`],
  [/\b(Basic)\s+[A-Za-z0-9+/]{6,}={0,2}/gi, `$1 ${REDACTED}`],
  // Grafana service-account and Cloud tokens, also without "Bearer".
  [/\b(?:glsa|glc)_[A-Za-z0-9_=+/-]+/g, REDACTED],
  // key=value and "key": "value" for keys that name a secret (query strings,
  // env assignments, JSON). A word boundary first: GRAFANA_TOKEN=… is caught
  // by its own pattern below, "token" inside another word is not.
  [
    /\b(password|passwd|pwd|secret|client_secret|token|access_token|api_key|apikey)(=|["']?\s*:\s*["'])[^\s"'&,;]+/gi,
    `$1$2${REDACTED}`,
  ],
  [/\b([A-Z][A-Z0-9_]*(?:PASSWORD|TOKEN|SECRET|API_KEY))=[^\s"'&,;]+/g, `$1=${REDACTED}`],
];

/** Replaces Authorization values, Grafana tokens and `password=`-style values in `text`. */
export function redactTokens(text: string): string {
  let out = text;
  for (const [re, by] of TOKEN_PATTERNS) out = out.replace(re, by);
  return out;
}

/**
 * Shorter "secrets" are not meaningfully secret, and replacing every two
 * letters that match would garble the rest of the text.
 */
const MIN_SECRET_LENGTH = 3;

/**
 * Everything at once: each literal secret (as given, URL-encoded, and
 * base64 encoded when it is a `user:password` pair), then token patterns,
 * then URL userinfo. The function to call on any text before printing it.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s || s.length < MIN_SECRET_LENGTH) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    // user:password travels base64 encoded in a Basic Authorization header.
    if (s.includes(":")) {
      try {
        forms.add(btoa(s));
      } catch { /* not Latin-1: cannot be a Basic credential as such */ }
    }
  }
  // Longest first, so a secret containing another is replaced whole.
  for (const f of [...forms].sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(f, REDACTED);
  }
  return redactUrl(redactTokens(out));
}

/**
 * The credentials inside one URL-like value (with or without a scheme), as
 * secrets for redactSecrets: the password and the whole userinfo, raw and
 * decoded. Empty when the value has none or does not parse.
 */
export function urlSecrets(value: string | undefined): string[] {
  if (!value) return [];
  const v = value.trim();
  const out: string[] = [];
  // The raw userinfo, as typed (also when the value is not a valid URL).
  const authority = v.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").split(/[/?#\\\s]/)[0];
  const at = authority.lastIndexOf("@");
  if (at > 0) {
    const userinfo = authority.slice(0, at);
    out.push(userinfo);
    const colon = userinfo.indexOf(":");
    if (colon >= 0) out.push(userinfo.slice(colon + 1));
  }
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`);
    for (const part of [url.password, url.username && url.password ? "" : url.username]) {
      if (!part) continue;
      out.push(part);
      try {
        out.push(decodeURIComponent(part));
      } catch { /* not percent-encoded */ }
    }
  } catch { /* not a URL: the raw userinfo above is all there is */ }
  return [...new Set(out)].filter((s) => s.length > 0);
}
