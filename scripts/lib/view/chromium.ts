/**
 * Headless Chromium driven over the DevTools protocol (a WebSocket from
 * Deno, no npm browser driver): load a page, wait for it, collect console
 * errors and uncaught exceptions, read values from the DOM, take a PNG of
 * the whole page. Used by `view --snapshot` and by the browser test.
 */
import { MissingPrerequisite } from "../cli.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Debian's `chromium` on PATH: the one program the `view` task may run
 * (`--allow-run=chromium`), and the one CI installs.
 */
export function chromiumPath(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      if (Deno.statSync(`${dir}/chromium`).isFile) return `${dir}/chromium`;
    } catch { /* not here */ }
  }
  return null;
}

export class Browser {
  private id = 0;
  private pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  private listeners: ((msg: Json) => void)[] = [];
  /** Console errors, uncaught exceptions and failed loads, as lines. */
  readonly errors: string[] = [];

  private constructor(
    private proc: Deno.ChildProcess,
    private ws: WebSocket,
    private profile: string,
    private session = "",
  ) {
    ws.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data));
      if (msg.id && this.pending.has(msg.id)) {
        const p = this.pending.get(msg.id)!;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${msg.error.message}`));
        else p.resolve(msg.result);
        return;
      }
      this.onEvent(msg);
      for (const l of this.listeners) l(msg);
    };
  }

  private onEvent(msg: Json): void {
    if (msg.method === "Runtime.exceptionThrown") {
      const d = msg.params.exceptionDetails;
      this.errors.push(`exception: ${d.exception?.description ?? d.text}`);
    } else if (msg.method === "Runtime.consoleAPICalled" && msg.params.type === "error") {
      this.errors.push(
        `console.error: ${msg.params.args.map((a: Json) => a.value ?? a.description).join(" ")}`,
      );
    } else if (msg.method === "Log.entryAdded" && msg.params.entry.level === "error") {
      this.errors.push(`log: ${msg.params.entry.text} ${msg.params.entry.url ?? ""}`.trim());
    }
  }

  /** Starts headless Chromium with a throw-away profile and opens one page. */
  static async launch(opts: { width?: number; height?: number } = {}): Promise<Browser> {
    const bin = chromiumPath();
    if (!bin) {
      throw new MissingPrerequisite(
        "chromium not found on PATH",
        "apt-get install chromium (Debian's package)",
      );
    }
    const profile = await Deno.makeTempDir({ prefix: "obskit-chromium-" });
    const proc = new Deno.Command(bin, {
      args: [
        "--headless=new",
        "--no-sandbox", // runs as root in CI; the pages are our own, on loopback
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--window-size=${opts.width ?? 1600},${opts.height ?? 1000}`,
        "about:blank",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Chromium prints "DevTools listening on ws://..." on stderr once it is ready.
    const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const deadline = Date.now() + 30_000;
    let url: string | null = null;
    while (!url && Date.now() < deadline) {
      const { value, done } = await Promise.race([
        reader.read(),
        new Promise<{ value: undefined; done: true }>((r) =>
          setTimeout(() => r({ value: undefined, done: true }), deadline - Date.now())
        ),
      ]);
      if (done) break;
      text += value;
      url = /DevTools listening on (ws:\/\/\S+)/.exec(text)?.[1] ?? null;
    }
    // Keep draining stderr so Chromium never blocks on a full pipe.
    (async () => {
      try {
        while (!(await reader.read()).done) { /* discard */ }
      } catch { /* closed */ }
    })();
    if (!url) {
      try {
        proc.kill("SIGKILL");
      } catch { /* gone */ }
      await proc.status;
      throw new Error(`chromium did not start: ${text.trim().split("\n").slice(-3).join(" | ")}`);
    }
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to chromium at ${url}`));
    });
    const b = new Browser(proc, ws, profile);
    const { targetId } = await b.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await b.send("Target.attachToTarget", { targetId, flatten: true });
    b.session = sessionId;
    await b.send("Runtime.enable");
    await b.send("Log.enable");
    await b.send("Page.enable");
    await b.send("Emulation.setDeviceMetricsOverride", {
      width: opts.width ?? 1600,
      height: opts.height ?? 1000,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return b;
  }

  send(method: string, params: Json = {}, timeoutMs = 30_000): Promise<Json> {
    const id = ++this.id;
    const msg: Json = { id, method, params };
    if (this.session && !method.startsWith("Target.")) msg.sessionId = this.session;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`chromium: ${method} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify(msg));
    });
  }

  /** Navigates and waits for the load event; returns the main document's HTTP status. */
  async goto(url: string, timeoutMs = 30_000): Promise<number> {
    let status = 0;
    const loaded = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${url} did not load in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const l = (msg: Json) => {
        if (msg.method === "Network.responseReceived" && msg.params.type === "Document") {
          status = msg.params.response.status;
        }
        if (msg.method === "Page.loadEventFired") {
          clearTimeout(timer);
          this.listeners = this.listeners.filter((x) => x !== l);
          resolve();
        }
      };
      this.listeners.push(l);
    });
    await this.send("Network.enable");
    const nav = await this.send("Page.navigate", { url });
    if (nav.errorText) throw new Error(`chromium could not open ${url}: ${nav.errorText}`);
    await loaded;
    return status;
  }

  /** Evaluates an expression in the page and returns its JSON value. */
  async eval<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (r.exceptionDetails) throw new Error(`in page: ${r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** A PNG of the whole page (not just the window). */
  async screenshot(): Promise<Uint8Array> {
    const { cssContentSize } = await this.send("Page.getLayoutMetrics");
    const r = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
      clip: {
        x: 0,
        y: 0,
        width: Math.ceil(cssContentSize.width),
        height: Math.ceil(cssContentSize.height),
        scale: 1,
      },
    });
    return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  }

  async close(): Promise<void> {
    try {
      await this.send("Browser.close", {}, 5000).catch(() => {});
      this.ws.close();
    } catch { /* already closed */ }
    const timer = setTimeout(() => {
      try {
        this.proc.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await this.proc.status;
    clearTimeout(timer);
    await Deno.remove(this.profile, { recursive: true }).catch(() => {});
  }
}
