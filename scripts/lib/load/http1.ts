// A minimal HTTP/1.1 client connection for the load generator's Workers.
//
// Why not fetch: measured on the 2-core machine against a trivial Deno.serve
// server (20,000 GETs, 64 at a time), fetch costs 70-90 µs of CPU per request,
// node:http and undici (over Deno's node:net) about 70 µs, and a plain
// Deno.connect socket with this parser 13-15 µs. At 10,000/s that is the
// difference between the generator taking most of a core from the server it
// measures and taking an eighth of one. What it does: one request at a time per
// connection (no pipelining), keep-alive reuse, Content-Length, chunked and
// read-until-close bodies, 1xx responses skipped; the body is counted, not kept.

const CR = 13;
const LF = 10;
/** A response head larger than this is refused (Deno.serve's own limit is lower). */
const MAX_HEAD = 64 * 1024;
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** The connection failed before any byte of the response came: a reused one may have been closed. */
export class NoResponse extends Error {
  override name = "NoResponse";
}

/** The server sent something that is not an HTTP/1.x response. */
export class BadResponse extends Error {
  override name = "BadResponse";
}

/** The bytes of `GET target` on `url`'s host, with `headers` (names and values already checked). */
export function requestBytes(
  host: string,
  target: string,
  headers: [string, string][],
): Uint8Array {
  let head = `GET ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  const names = new Set(headers.map(([n]) => n.toLowerCase()));
  if (!names.has("user-agent")) head += "user-agent: obskit-load\r\n";
  if (!names.has("accept")) head += "accept: */*\r\n";
  for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
  return encoder.encode(head + "\r\n");
}

export class Http1Conn {
  #conn: Deno.Conn;
  #buf = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;
  /** False once the server asked to close, or after an error: do not reuse. */
  reusable = true;
  /** Exchanges completed on this connection. */
  uses = 0;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  static async open(url: URL): Promise<Http1Conn> {
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const conn = url.protocol === "https:"
      ? await Deno.connectTls({ hostname, port })
      : await Deno.connect({ hostname, port });
    // One small write per request, then a wait for the answer: never batch it.
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    return new Http1Conn(conn);
  }

  close(): void {
    this.reusable = false;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Reads more bytes into the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Sends one request and reads its whole response; resolves with the status. */
  async exchange(request: Uint8Array): Promise<number> {
    let got = false;
    try {
      let written = 0;
      while (written < request.length) {
        written += await this.#conn.write(request.subarray(written));
      }
      for (;;) {
        const head = await this.#readHead(() => got = true);
        if (head.status >= 100 && head.status < 200 && head.status !== 101) continue;
        await this.#readBody(head);
        this.uses++;
        return head.status;
      }
    } catch (err) {
      this.close();
      if (!got && !(err instanceof BadResponse)) {
        throw new NoResponse((err as Error)?.message ?? "connection closed", { cause: err });
      }
      throw err;
    }
  }

  async #readHead(onByte: () => void): Promise<Head> {
    let scan = this.#start;
    for (;;) {
      const buf = this.#buf;
      for (let i = Math.max(scan, this.#start + 3); i < this.#end; i++) {
        if (buf[i] === LF && buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) {
          const text = latin1.decode(buf.subarray(this.#start, i - 1));
          this.#start = i + 1;
          return parseHead(text);
        }
      }
      if (this.#end - this.#start > MAX_HEAD) throw new BadResponse("response head too large");
      scan = Math.max(this.#start, this.#end - 3);
      const offset = scan - this.#start;
      if (!(await this.#fill())) {
        if (this.#end > this.#start) throw new BadResponse("connection closed inside a response");
        throw new Error("connection closed");
      }
      onByte();
      scan = this.#start + offset;
    }
  }

  /** Skips `n` body bytes. */
  async #skip(n: number): Promise<void> {
    for (;;) {
      const take = Math.min(n, this.#end - this.#start);
      this.#start += take;
      n -= take;
      if (n === 0) return;
      if (!(await this.#fill())) throw new BadResponse("connection closed inside a body");
    }
  }

  /** A CRLF-terminated line (chunk sizes, trailers), without the CRLF. */
  async #line(): Promise<string> {
    for (;;) {
      for (let i = this.#start + 1; i < this.#end; i++) {
        if (this.#buf[i] === LF && this.#buf[i - 1] === CR) {
          const text = latin1.decode(this.#buf.subarray(this.#start, i - 1));
          this.#start = i + 1;
          return text;
        }
      }
      if (this.#end - this.#start > MAX_HEAD) throw new BadResponse("chunk line too long");
      if (!(await this.#fill())) throw new BadResponse("connection closed inside a body");
    }
  }

  async #readBody(head: Head): Promise<void> {
    // After a 101 the connection speaks another protocol: never reuse it.
    if (head.close || head.status === 101) this.reusable = false;
    if (head.status === 204 || head.status === 304 || head.status === 101) return;
    if (head.chunked) {
      for (;;) {
        const line = await this.#line();
        const size = parseInt(line, 16);
        if (!Number.isFinite(size) || size < 0) throw new BadResponse("bad chunk size");
        if (size === 0) break;
        await this.#skip(size + 2);
      }
      // Trailers, up to the empty line.
      while ((await this.#line()) !== "");
      return;
    }
    if (head.length !== undefined) return await this.#skip(head.length);
    // Neither: the body runs to the end of the connection.
    this.reusable = false;
    this.#start = this.#end = 0;
    while (await this.#fill()) this.#start = this.#end = 0;
  }
}

interface Head {
  status: number;
  length?: number;
  chunked: boolean;
  close: boolean;
}

function parseHead(text: string): Head {
  const m = /^HTTP\/1\.([01]) (\d{3})/.exec(text);
  if (!m) throw new BadResponse("not an HTTP/1.x response");
  const head: Head = { status: Number(m[2]), chunked: false, close: m[1] === "0" };
  for (const line of text.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === "content-length") {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new BadResponse("bad content-length");
      head.length = n;
    } else if (name === "transfer-encoding") {
      head.chunked = value.split(",").map((s) => s.trim()).includes("chunked");
    } else if (name === "connection") {
      const tokens = value.split(",").map((s) => s.trim());
      if (tokens.includes("close")) head.close = true;
      else if (tokens.includes("keep-alive")) head.close = false;
    }
  }
  return head;
}
