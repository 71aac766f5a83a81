/**
 * CONTRACT test of `deno task import-dashboards` (phase 8) against a local
 * recording HTTP server. The server is NOT Grafana: it implements just the
 * endpoints the script uses (/api/health, /api/datasources, /api/folders,
 * /api/dashboards/db) as Grafana documents them, records every request, and
 * the test asserts the requests' method, path, headers and body shape, that
 * the folder is created once, the datasource variable is bound, a rerun
 * updates in place, and credentials never appear in the output.
 */
import { strict as assert } from "node:assert";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bindDatasource } from "../scripts/lib/grafana/mod.ts";
import { redactSecrets as redact } from "../scripts/lib/redact.ts";
import { runTask, sandbox } from "./k8s_support.ts";
import { freePort } from "../scripts/lib/net.ts";
import { repoPath } from "../scripts/lib/paths.ts";

const unit = { permissions: { net: false, run: false, write: false } } as const;
/** Runs the import-dashboards task as a subprocess in a temporary sandbox. */
const task = {
  permissions: { net: false, run: true, read: true, env: true, write: true },
} as const;
/** The task against a recording HTTP server this test serves on loopback. */
const contract = { permissions: { ...task.permissions, net: true } } as const;

interface Recorded {
  method: string;
  path: string;
  authorization: string | null;
  contentType: string | null;
  // deno-lint-ignore no-explicit-any
  body: any;
}

interface RecordingServer {
  url: string;
  requests: Recorded[];
  // deno-lint-ignore no-explicit-any
  dashboards: Map<string, { version: number; folderUid: string; dashboard: any }>;
  folders: Map<string, string>;
  close(): Promise<void>;
}

const TOKEN = "glsa_contractTestToken_5f1d9a";

/**
 * A recording stand-in for Grafana's HTTP API (not Grafana). `auth` is the
 * Authorization header it accepts; `failDashboards` makes dashboard posts
 * answer 500 with a message that echoes the Authorization header (to check
 * the script redacts it).
 */
function recordingServer(
  auth: string,
  opts: { folders?: Record<string, string>; failDashboards?: boolean } = {},
): RecordingServer {
  const port = freePort();
  const requests: Recorded[] = [];
  const dashboards: RecordingServer["dashboards"] = new Map();
  const folders = new Map(Object.entries(opts.folders ?? {}));
  const json = (status: number, body: unknown) => Response.json(body, { status });
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const text = await req.text();
    const rec: Recorded = {
      method: req.method,
      path: url.pathname + url.search,
      authorization: req.headers.get("authorization"),
      contentType: req.headers.get("content-type"),
      body: text ? JSON.parse(text) : null,
    };
    requests.push(rec);
    if (url.pathname === "/api/health") return json(200, { database: "ok", version: "recording" });
    if (rec.authorization !== auth) return json(401, { message: "invalid API key" });
    if (req.method === "GET" && url.pathname === "/api/datasources") {
      return json(200, [
        { uid: "loki-1", name: "Loki", type: "loki", isDefault: false },
        { uid: "prom-main", name: "Prometheus", type: "prometheus", isDefault: true },
        { uid: "prom-old", name: "Old Prometheus", type: "prometheus", isDefault: false },
      ]);
    }
    const ds = /^\/api\/datasources\/uid\/(.+)$/.exec(url.pathname);
    if (req.method === "GET" && ds) {
      return ds[1] === "prom-old"
        ? json(200, { uid: "prom-old", name: "Old Prometheus", type: "prometheus" })
        : json(404, { message: "Data source not found" });
    }
    const folder = /^\/api\/folders\/([^/]+)$/.exec(url.pathname);
    if (req.method === "GET" && folder) {
      const title = folders.get(folder[1]);
      return title
        ? json(200, { uid: folder[1], title })
        : json(404, { message: "folder not found" });
    }
    if (req.method === "GET" && url.pathname === "/api/folders") {
      return json(200, [...folders].map(([uid, title]) => ({ uid, title })));
    }
    if (req.method === "POST" && url.pathname === "/api/folders") {
      if ([...folders.values()].includes(rec.body.title)) {
        return json(409, { message: "a folder with the same name already exists" });
      }
      folders.set(rec.body.uid, rec.body.title);
      return json(200, { uid: rec.body.uid, title: rec.body.title });
    }
    if (req.method === "POST" && url.pathname === "/api/dashboards/db") {
      if (opts.failDashboards) {
        return json(500, { message: `internal error for request with ${rec.authorization}` });
      }
      const d = rec.body.dashboard;
      const prev = dashboards.get(d.uid);
      if (prev && !rec.body.overwrite) {
        return json(412, {
          status: "name-exists",
          message: "A dashboard with the same uid already exists",
        });
      }
      const version = (prev?.version ?? 0) + 1;
      dashboards.set(d.uid, { version, folderUid: rec.body.folderUid, dashboard: d });
      const slug = String(d.title).toLowerCase().replace(/[^a-z0-9]+/g, "-");
      return json(200, {
        id: 1,
        uid: d.uid,
        url: `/d/${d.uid}/${slug}`,
        status: "success",
        version,
      });
    }
    return json(404, { message: "not found" });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    dashboards,
    folders,
    close: () => server.shutdown(),
  };
}

function writeDashboards(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "a-developer.json"),
    JSON.stringify({
      id: 42,
      uid: "obskit-developer",
      title: "Developer View",
      templating: {
        list: [
          { name: "datasource", type: "datasource", query: "prometheus" },
          {
            name: "job",
            type: "query",
            datasource: { type: "prometheus", uid: "${datasource}" },
            query: "label_values(up, job)",
          },
        ],
      },
      panels: [{
        id: 1,
        type: "timeseries",
        title: "Request rate",
        datasource: { type: "prometheus", uid: "${datasource}" },
        targets: [{ expr: "sum(rate(http_requests_total[5m]))" }],
      }],
    }),
  );
  // An older export: legacy string datasource and a hard-coded uid.
  writeFileSync(
    join(dir, "b-legacy.json"),
    JSON.stringify({
      dashboard: {
        uid: "obskit-legacy",
        title: "Legacy Export",
        templating: { list: [{ name: "ds", type: "datasource", query: "prometheus" }] },
        panels: [
          { id: 1, type: "stat", title: "Up", datasource: "Prometheus", targets: [{ expr: "up" }] },
          {
            id: 2,
            type: "row",
            title: "Row",
            panels: [{
              id: 3,
              type: "stat",
              title: "Nested",
              datasource: { type: "prometheus", uid: "P1809F7CD0C75ACF3" },
              targets: [{ expr: "up" }],
            }],
          },
        ],
      },
    }),
  );
}

Deno.test({
  name:
    "contract: import-dashboards against a recording HTTP server (not Grafana): requests, folder once, datasource bound, rerun in place, token never printed",
  ...contract,
  async fn() {
    const box = sandbox();
    const server = recordingServer(`Bearer ${TOKEN}`);
    const dir = join(box.dir, "dashboards");
    writeDashboards(dir);
    const env = { GRAFANA_TOKEN: TOKEN };
    try {
      const first = await runTask(
        "import-dashboards",
        ["--url", server.url, "--dir", dir],
        box,
        env,
      );
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.deepEqual(server.requests.map((r) => `${r.method} ${r.path}`), [
        "GET /api/health",
        "GET /api/datasources",
        "GET /api/folders/obskit",
        "POST /api/folders",
        "POST /api/dashboards/db",
        "POST /api/dashboards/db",
      ]);
      for (const r of server.requests.slice(1)) {
        assert.equal(r.authorization, `Bearer ${TOKEN}`, `${r.method} ${r.path} carries the token`);
      }
      for (const r of server.requests.filter((r) => r.method === "POST")) {
        assert.equal(r.contentType, "application/json");
      }
      assert.deepEqual(server.requests[3].body, { uid: "obskit", title: "Observability Kit" });
      const posts = server.requests.filter((r) => r.path === "/api/dashboards/db");
      for (const p of posts) {
        assert.deepEqual(Object.keys(p.body).sort(), [
          "dashboard",
          "folderUid",
          "message",
          "overwrite",
        ]);
        assert.equal(p.body.overwrite, true);
        assert.equal(p.body.folderUid, "obskit");
        assert.equal(p.body.dashboard.id, null, "id null: Grafana matches by uid");
        assert.ok(!("dashboard" in p.body.dashboard), "the bare dashboard, not an export wrapper");
      }
      const [dev, legacy] = posts.map((p) => p.body.dashboard);
      assert.equal(dev.uid, "obskit-developer");
      assert.deepEqual(dev.templating.list[0].current, {
        selected: true,
        text: "Prometheus",
        value: "prom-main",
      });
      assert.deepEqual(dev.panels[0].datasource, { type: "prometheus", uid: "${datasource}" });
      assert.equal(legacy.uid, "obskit-legacy");
      assert.equal(legacy.templating.list[0].current.value, "prom-main");
      assert.deepEqual(legacy.panels[0].datasource, { type: "prometheus", uid: "${ds}" });
      assert.deepEqual(legacy.panels[1].panels[0].datasource, { type: "prometheus", uid: "${ds}" });
      // Each dashboard's URL is printed; the token is not.
      assert.ok(
        first.stdout.includes(`${server.url}/d/obskit-developer/developer-view`),
        first.stdout,
      );
      assert.ok(first.stdout.includes(`${server.url}/d/obskit-legacy/legacy-export`), first.stdout);
      assert.ok(!(first.stdout + first.stderr).includes(TOKEN));

      // Rerun: no new folder, same dashboards updated in place (version 2).
      const before = server.requests.length;
      const second = await runTask(
        "import-dashboards",
        ["--url", server.url, "--dir", dir],
        box,
        env,
      );
      assert.equal(second.code, 0, second.stdout + second.stderr);
      const again = server.requests.slice(before).map((r) => `${r.method} ${r.path}`);
      assert.deepEqual(again, [
        "GET /api/health",
        "GET /api/datasources",
        "GET /api/folders/obskit",
        "POST /api/dashboards/db",
        "POST /api/dashboards/db",
      ]);
      assert.equal(server.requests.filter((r) => r.path === "/api/folders").length, 1);
      assert.equal(server.dashboards.size, 2);
      assert.deepEqual([...server.dashboards.values()].map((d) => d.version), [2, 2]);
      assert.match(second.stdout, /version 2/);
    } finally {
      await server.close();
      box.cleanup();
    }
  },
});

Deno.test({
  name:
    "contract: basic auth from GRAFANA_USER/GRAFANA_PASSWORD, --datasource-uid, and an existing folder title",
  ...contract,
  async fn() {
    const box = sandbox();
    const password = "s3cret-Pa55word";
    const basic = `Basic ${btoa(`admin:${password}`)}`;
    const server = recordingServer(basic, { folders: { "made-by-hand": "Observability Kit" } });
    const dir = join(box.dir, "dashboards");
    writeDashboards(dir);
    try {
      const r = await runTask(
        "import-dashboards",
        ["--url", server.url, "--dir", dir, "--datasource-uid", "prom-old"],
        box,
        { GRAFANA_USER: "admin", GRAFANA_PASSWORD: password },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(server.requests.slice(1).every((q) => q.authorization === basic));
      assert.ok(server.requests.some((q) => q.path === "/api/datasources/uid/prom-old"));
      assert.ok(!server.requests.some((q) => q.path === "/api/datasources"));
      const posts = server.requests.filter((q) => q.path === "/api/dashboards/db");
      // The folder title existed under another uid: that folder is used.
      assert.ok(posts.every((p) => p.body.folderUid === "made-by-hand"));
      assert.ok(
        posts.every((p) => p.body.dashboard.templating.list[0].current.value === "prom-old"),
      );
      assert.ok(!(r.stdout + r.stderr).includes(password));
      assert.ok(!(r.stdout + r.stderr).includes(btoa(`admin:${password}`)));
    } finally {
      await server.close();
      box.cleanup();
    }
  },
});

Deno.test({
  name: "contract: failures exit with a one-line reason and never echo credentials",
  ...contract,
  async fn() {
    const box = sandbox();
    const dir = join(box.dir, "dashboards");
    writeDashboards(dir);
    const server = recordingServer(`Bearer ${TOKEN}`, { failDashboards: true });
    try {
      // No credentials: exit 2 naming the variables, no request sent.
      const none = await runTask("import-dashboards", ["--url", server.url, "--dir", dir], box);
      assert.equal(none.code, 2);
      assert.match(
        none.stderr,
        /^error: no Grafana credentials in the environment \(set GRAFANA_TOKEN/m,
      );
      assert.equal(server.requests.length, 0);
      // Wrong token: exit 2, refused credentials, the wrong token not printed.
      const wrong = await runTask("import-dashboards", ["--url", server.url, "--dir", dir], box, {
        GRAFANA_TOKEN: "glsa_wrongToken_123",
      });
      assert.equal(wrong.code, 2, wrong.stderr);
      assert.match(
        wrong.stderr,
        /refused the credentials from GRAFANA_TOKEN: GET \/api\/datasources answered HTTP 401/,
      );
      assert.ok(!(wrong.stdout + wrong.stderr).includes("glsa_wrongToken_123"));
      // A server error that echoes the Authorization header: exit 1, redacted.
      const fail = await runTask("import-dashboards", ["--url", server.url, "--dir", dir], box, {
        GRAFANA_TOKEN: TOKEN,
      });
      assert.equal(fail.code, 1, fail.stderr);
      assert.match(
        fail.stderr,
        /POST a-developer\.json: HTTP 500 internal error for request with Bearer \*\*\*/,
      );
      assert.ok(!(fail.stdout + fail.stderr).includes(TOKEN));
      // An unknown --datasource-uid: exit 2.
      const ds = await runTask(
        "import-dashboards",
        ["--url", server.url, "--dir", dir, "--datasource-uid", "nope"],
        box,
        { GRAFANA_TOKEN: TOKEN },
      );
      assert.equal(ds.code, 2);
      assert.match(ds.stderr, /no datasource with uid 'nope'/);
    } finally {
      await server.close();
    }
    try {
      // Nothing listening: exit 2 saying how to get Grafana there.
      const down = await runTask(
        "import-dashboards",
        ["--url", `http://127.0.0.1:${freePort()}`, "--dir", dir],
        box,
        { GRAFANA_TOKEN: TOKEN },
      );
      assert.equal(down.code, 2);
      assert.match(
        down.stderr,
        /Grafana does not answer at http:\/\/127\.0\.0\.1:\d+ .*deno task setup-monitoring/,
      );
    } finally {
      box.cleanup();
    }
  },
});

Deno.test({
  name: "contract: an error body that echoes the credentials shows none of them, not even a prefix",
  ...contract,
  async fn() {
    const box = sandbox();
    const dir = join(box.dir, "dashboards");
    writeDashboards(dir);
    const password = "Gr4fanaAdminPw-77";
    // Echoes the Authorization header (and the whole request line) in a long
    // non-JSON body, so that a cut at any length falls inside the secret.
    const port = freePort();
    const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
      const auth = req.headers.get("authorization") ?? "";
      const status = new URL(req.url).pathname === "/api/datasources" ? 401 : 500;
      const pad = "x".repeat(286);
      return new Response(`${pad}${auth} ${req.url} ${auth}\n${auth}`, {
        status,
        headers: { "content-type": "text/html" },
      });
    });
    const url = `http://127.0.0.1:${port}`;
    const secretUrl = `http://admin:${password}@127.0.0.1:${port}`;
    try {
      const runs = [
        await runTask("import-dashboards", ["--url", url, "--dir", dir], box, {
          GRAFANA_TOKEN: TOKEN,
        }),
        await runTask("import-dashboards", ["--url", url, "--dir", dir], box, {
          GRAFANA_USER: "admin",
          GRAFANA_PASSWORD: password,
        }),
        // Credentials in the URL itself, and the dry run that prints URLs.
        await runTask("import-dashboards", ["--dir", dir], box, {
          GRAFANA_URL: secretUrl,
          GRAFANA_TOKEN: TOKEN,
        }),
        await runTask("import-dashboards", ["--dry-run", "--url", secretUrl, "--dir", dir], box),
      ];
      const basic = btoa(`admin:${password}`);
      for (const r of runs) {
        const all = r.stdout + r.stderr;
        assert.ok(r.code === 1 || r.code === 0, all);
        // Not the secrets, nor their first characters (past glsa_, the token type).
        for (const head of [TOKEN.slice(0, 6), password.slice(0, 3), basic.slice(0, 4)]) {
          assert.ok(!all.includes(head), `'${head}' of a secret printed:\n${all}`);
        }
        assert.doesNotMatch(all, /(Bearer|Basic) (?!\*\*\*)/);
      }
      // The failure is still explained, on one line.
      assert.match(
        runs[0].stderr,
        /^error: Grafana at http:\/\/127\.0\.0\.1:\d+ is not healthy: HTTP 500 x+/,
      );
      assert.equal(runs[0].stderr.trim().split("\n").length, 1, runs[0].stderr);
    } finally {
      await server.shutdown();
      box.cleanup();
    }
  },
});

Deno.test({
  name: "import-dashboards --dry-run lists the requests and needs no credentials",
  ...task,
  async fn() {
    const box = sandbox();
    const dir = join(box.dir, "dashboards");
    writeDashboards(dir);
    try {
      const r = await runTask("import-dashboards", [
        "--dry-run",
        "--url",
        "http://127.0.0.1:3999",
        "--dir",
        dir,
      ], box);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        r.stdout.trim().split("\n").filter((l) => !l.startsWith("#")).map((l) =>
          l.replace(/\s{3}# .*$/, "")
        ),
        [
          "GET http://127.0.0.1:3999/api/health",
          "GET http://127.0.0.1:3999/api/datasources",
          "GET http://127.0.0.1:3999/api/folders/obskit",
          "POST http://127.0.0.1:3999/api/folders",
          "POST http://127.0.0.1:3999/api/dashboards/db",
          "POST http://127.0.0.1:3999/api/dashboards/db",
        ],
      );
    } finally {
      box.cleanup();
    }
  },
});

const REPO_DASHBOARDS = repoPath("dashboards");
const repoDashboards = (() => {
  try {
    return readdirSync(REPO_DASHBOARDS).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
})();

Deno.test({
  name: "contract: the repository's dashboards import with their datasource variable bound",
  ...contract,
  ignore: repoDashboards.length === 0,
  fn: async () => {
    const box = sandbox();
    const server = recordingServer(`Bearer ${TOKEN}`);
    try {
      const r = await runTask("import-dashboards", ["--url", server.url], box, {
        GRAFANA_TOKEN: TOKEN,
      });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const posts = server.requests.filter((q) => q.path === "/api/dashboards/db");
      assert.equal(posts.length, repoDashboards.length);
      for (const p of posts) {
        const d = p.body.dashboard;
        const v = d.templating?.list?.find((x: { type: string }) => x.type === "datasource");
        assert.ok(v, `${d.title}: has a datasource variable`);
        assert.equal(v.current.value, "prom-main", `${d.title}: variable bound`);
        assert.ok(d.uid, `${d.title}: has a uid, so reruns update in place`);
      }
    } finally {
      await server.close();
      box.cleanup();
    }
  },
});

Deno.test({
  name: "bindDatasource leaves non-Prometheus and variable references alone; redact hides secrets",
  ...unit,
  fn() {
    const ds = { uid: "p", name: "P", type: "prometheus" };
    const { dashboard, variable, rewritten } = bindDatasource({
      templating: { list: [{ name: "datasource", type: "datasource", query: "prometheus" }] },
      panels: [
        { datasource: { type: "loki", uid: "l1" } },
        { datasource: { type: "prometheus", uid: "${datasource}" } },
        { datasource: "-- Grafana --" },
      ],
    }, ds);
    assert.equal(variable, "datasource");
    assert.equal(rewritten, 0);
    assert.deepEqual(dashboard.panels[0].datasource, { type: "loki", uid: "l1" });
    assert.equal(redact("token abc123 and abc123", ["abc123"]), "token *** and ***");
    assert.equal(redact("p%40ss", ["p@ss"]), "***");
  },
});
