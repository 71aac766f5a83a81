// Grafana import: the generated dashboards into a reader's Grafana over its HTTP API.
// Used by `deno task import-dashboards` (phase 8).
/**
 * Each dashboard goes to POST /api/dashboards/db as `{dashboard, overwrite: true, folderUid}`
 * (the chapter posted the bare dashboard), into a folder created only when
 * missing, with its datasource variable bound to the user's Prometheus
 * datasource. Credentials come from the environment and never appear in
 * output or errors.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { CheckFailed, MissingPrerequisite, UsageError } from "../cli.ts";
import { displayPath, type Printer } from "../k8s/external.ts";
import { redactSecrets, urlSecrets } from "../redact.ts";

export interface GrafanaAuth {
  /** Value of the Authorization header. */
  header: string;
  /** Strings that must never be printed. */
  secrets: string[];
  /** Where the credentials came from, for messages (never the values). */
  source: string;
}

/** GRAFANA_TOKEN (Bearer), else GRAFANA_USER + GRAFANA_PASSWORD (Basic). */
export function grafanaAuthFromEnv(
  get: (name: string) => string | undefined = (n) => Deno.env.get(n),
): GrafanaAuth {
  const token = get("GRAFANA_TOKEN");
  if (token) return { header: `Bearer ${token}`, secrets: [token], source: "GRAFANA_TOKEN" };
  const user = get("GRAFANA_USER");
  const password = get("GRAFANA_PASSWORD");
  if (user && password) {
    const basic = btoa(`${user}:${password}`);
    return {
      header: `Basic ${basic}`,
      secrets: [password, basic],
      source: "GRAFANA_USER/GRAFANA_PASSWORD",
    };
  }
  throw new MissingPrerequisite(
    "no Grafana credentials in the environment",
    "set GRAFANA_TOKEN to a service-account token with the Editor role, or GRAFANA_USER and GRAFANA_PASSWORD (with phase 0: user admin, password from 'deno task setup-monitoring --show-password')",
  );
}

/** How much of an error body goes into a message (after redaction, never before). */
const BODY_EXCERPT = 300;

/** Redacts `text` first, then keeps its first non-empty line, at most `max` characters. */
function excerpt(text: string, secrets: string[], max = BODY_EXCERPT): string {
  const line = redactSecrets(text, secrets).split("\n").map((l) => l.trim()).find((l) => l) ?? "";
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

interface ApiResult {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

export class GrafanaClient {
  /** The base URL without userinfo: it is printed, and fetch would send it as a second credential. */
  readonly base: URL;
  /** Never printed: the credentials' secrets and any userinfo of the URL. */
  readonly secrets: string[];
  constructor(baseUrl: string, readonly auth: GrafanaAuth | null, readonly timeoutMs = 15_000) {
    this.secrets = [...(auth?.secrets ?? []), ...urlSecrets(baseUrl)];
    try {
      this.base = new URL(baseUrl.endsWith("/") ? baseUrl : baseUrl + "/");
    } catch {
      throw new UsageError(`--url must be an http(s) URL, got '${this.redact(baseUrl)}'`);
    }
    this.base.username = "";
    this.base.password = "";
  }

  url(path: string): string {
    return new URL(path.replace(/^\//, ""), this.base).toString();
  }

  async request(method: string, path: string, body?: unknown): Promise<ApiResult> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.auth) headers.Authorization = this.auth.header;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new MissingPrerequisite(
        `Grafana does not answer at ${this.base.origin} (${
          this.redact((err as Error).message).split("\n")[0]
        })`,
        "start the port-forward with 'deno task setup-monitoring', or pass --url / set GRAFANA_URL",
      );
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (res.status === 401 || res.status === 403) {
      throw new MissingPrerequisite(
        `Grafana refused the credentials from ${
          this.auth?.source ?? "(none)"
        }: ${method} ${path} answered HTTP ${res.status}`,
        "check the token or password; a service-account token needs the Editor role (or Admin to create folders)",
      );
    }
    // Redact before cutting: a cut first can leave a secret's prefix.
    return { status: res.status, body: parsed, text: excerpt(text, this.secrets) };
  }

  redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }

  fail(what: string, r: ApiResult): CheckFailed {
    const msg = (r.body && typeof r.body === "object" && "message" in r.body)
      ? excerpt(String(r.body.message), this.secrets)
      : r.text;
    return new CheckFailed(`${what}: HTTP ${r.status} ${msg}`);
  }
}

// ---------------------------------------------------------------------------
// Dashboards

export interface Datasource {
  uid: string;
  name: string;
  type: string;
}

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Binds the dashboard's datasource template variable(s) to `ds`, and turns
 * legacy string datasource references (a name or `${DS_...}`) into
 * references to the variable. Returns a new object.
 */
export function bindDatasource(
  dashboard: Json,
  ds: Datasource,
): { dashboard: Json; variable: string | null; rewritten: number } {
  const d = structuredClone(dashboard);
  const vars: Json[] = d.templating?.list ?? [];
  const dsVar = vars.find((v) => v?.type === "datasource" && (v.query ?? "prometheus") === ds.type);
  if (dsVar) {
    dsVar.current = { selected: true, text: ds.name, value: ds.uid };
    dsVar.options = [];
  }
  const ref = dsVar ? { type: ds.type, uid: `\${${dsVar.name}}` } : { type: ds.type, uid: ds.uid };
  let rewritten = 0;
  const needsRewrite = (v: unknown): boolean => {
    if (v === null || typeof v === "string") return v !== "-- Grafana --" && v !== "-- Mixed --";
    // A hard-coded Prometheus uid (not a variable) would not exist in the user's Grafana.
    const o = v as { type?: string; uid?: string };
    return typeof v === "object" && o.type === ds.type && !String(o.uid ?? "").startsWith("$");
  };
  const visit = (node: Json) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (k === "datasource" && needsRewrite(v)) {
        node[k] = { ...ref };
        rewritten++;
      } else {
        visit(v);
      }
    }
  };
  visit(d.panels ?? []);
  for (const v of vars) {
    if (v !== dsVar && v && "datasource" in v && needsRewrite(v.datasource)) {
      v.datasource = { ...ref };
      rewritten++;
    }
  }
  return { dashboard: d, variable: dsVar?.name ?? null, rewritten };
}

export interface DashboardFile {
  path: string;
  dashboard: Json;
}

/** Reads every *.json in `dir` (sorted), unwrapping `{dashboard: ...}` exports. */
export function readDashboards(dir: string): DashboardFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
  } catch {
    throw new UsageError(`${displayPath(dir)} is not a readable folder`);
  }
  if (names.length === 0) {
    throw new UsageError(
      `no *.json dashboards in ${displayPath(dir)}; run 'deno task gen-dashboards' first`,
    );
  }
  return names.map((n) => {
    const path = join(dir, n);
    let json: Json;
    try {
      json = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new UsageError(`${displayPath(path)}: not valid JSON (${(err as Error).message})`);
    }
    const dashboard = json?.dashboard && typeof json.dashboard === "object" ? json.dashboard : json;
    if (!dashboard?.title || !Array.isArray(dashboard.panels)) {
      throw new UsageError(`${displayPath(path)}: not a dashboard (needs title and panels)`);
    }
    return { path, dashboard };
  });
}

export interface ImportOptions {
  url: string;
  dir: string;
  folderTitle: string;
  folderUid: string;
  datasourceUid?: string;
  dryRun: boolean;
  timeoutMs?: number;
}

export interface Imported {
  file: string;
  uid: string;
  url: string;
  version: number;
}

/** Finds the Prometheus datasource: the given uid, else the default one, else the only one. */
export async function findDatasource(g: GrafanaClient, uid?: string): Promise<Datasource> {
  if (uid) {
    const r = await g.request("GET", `/api/datasources/uid/${encodeURIComponent(uid)}`);
    if (r.status === 404) {
      throw new UsageError(`Grafana has no datasource with uid '${uid}' (--datasource-uid)`);
    }
    if (r.status !== 200) throw g.fail(`GET datasource ${uid}`, r);
    return { uid: r.body.uid, name: r.body.name, type: r.body.type };
  }
  const r = await g.request("GET", "/api/datasources");
  if (r.status !== 200 || !Array.isArray(r.body)) throw g.fail("GET /api/datasources", r);
  const proms = (r.body as Json[]).filter((d) => d.type === "prometheus");
  const pick = proms.find((d) => d.isDefault) ?? (proms.length === 1 ? proms[0] : undefined);
  if (!pick) {
    throw new MissingPrerequisite(
      proms.length === 0
        ? "Grafana has no Prometheus datasource"
        : `Grafana has ${proms.length} Prometheus datasources and none is the default (${
          proms.map((d) => d.uid).join(", ")
        })`,
      "add one (kube-prometheus-stack does), or choose one with --datasource-uid UID",
    );
  }
  return { uid: pick.uid, name: pick.name, type: pick.type };
}

/** The folder's uid: the existing one, created when missing. */
export async function ensureFolder(
  g: GrafanaClient,
  uid: string,
  title: string,
  print: Printer,
): Promise<string> {
  const got = await g.request("GET", `/api/folders/${encodeURIComponent(uid)}`);
  if (got.status === 200) return uid;
  if (got.status !== 404) throw g.fail(`GET folder ${uid}`, got);
  const made = await g.request("POST", "/api/folders", { uid, title });
  if (made.status === 200) {
    print(`created folder '${title}' (uid ${uid})`);
    return uid;
  }
  if (made.status === 409 || made.status === 412) {
    // A folder with this title but another uid (made by hand): use it.
    const list = await g.request("GET", "/api/folders?limit=1000");
    const same = Array.isArray(list.body)
      ? (list.body as Json[]).find((f) => f.title === title)
      : undefined;
    if (same) {
      print(`using existing folder '${title}' (uid ${same.uid})`);
      return same.uid;
    }
  }
  throw g.fail(`POST /api/folders '${title}'`, made);
}

export async function importDashboards(
  o: ImportOptions,
  auth: GrafanaAuth | null,
  print: Printer = (l) => console.log(l),
): Promise<Imported[]> {
  const files = readDashboards(o.dir);
  const g = new GrafanaClient(o.url, auth, o.timeoutMs);
  if (o.dryRun) {
    print("# dry run: no request is sent; these are the requests, in order");
    print(`GET ${g.url("/api/health")}`);
    print(
      o.datasourceUid
        ? `GET ${g.url(`/api/datasources/uid/${o.datasourceUid}`)}`
        : `GET ${g.url("/api/datasources")}   # the default Prometheus datasource`,
    );
    print(`GET ${g.url(`/api/folders/${o.folderUid}`)}`);
    print(`POST ${g.url("/api/folders")}   # only when the folder is missing`);
    for (const f of files) {
      print(
        `POST ${g.url("/api/dashboards/db")}   # ${displayPath(f.path)} uid=${
          f.dashboard.uid ?? "(none)"
        } overwrite=true folderUid=${o.folderUid}`,
      );
    }
    return [];
  }
  if (!auth) throw new UsageError("credentials are required without --dry-run");
  const health = await g.request("GET", "/api/health");
  if (health.status !== 200) throw g.fail(`Grafana at ${g.base.origin} is not healthy`, health);
  const ds = await findDatasource(g, o.datasourceUid);
  print(`datasource: ${ds.name} (uid ${ds.uid})`);
  const folderUid = await ensureFolder(g, o.folderUid, o.folderTitle, print);
  const out: Imported[] = [];
  for (const f of files) {
    const { dashboard, variable, rewritten } = bindDatasource(f.dashboard, ds);
    // id null + uid: Grafana matches by uid, so a rerun updates in place.
    dashboard.id = null;
    const r = await g.request("POST", "/api/dashboards/db", {
      dashboard,
      overwrite: true,
      folderUid,
      message: "deno task import-dashboards",
    });
    if (r.status !== 200) throw g.fail(`POST ${basename(f.path)}`, r);
    const url = new URL(String(r.body.url ?? `/d/${r.body.uid}`), g.base.origin).toString();
    const note = [
      variable ? `variable $${variable} -> ${ds.uid}` : "no datasource variable",
      rewritten ? `${rewritten} datasource refs rewritten` : "",
    ].filter(Boolean).join(", ");
    print(`${basename(f.path)}: ${url} (version ${r.body.version}; ${note})`);
    out.push({ file: f.path, uid: r.body.uid, url, version: r.body.version });
  }
  return out;
}
