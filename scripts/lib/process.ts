/**
 * Background processes for the local stack: start a program detached from
 * the calling script (its own session, output appended to a log file), tell
 * whether a recorded pid is still that same program, stop it by pid, and
 * find who holds a TCP port. Linux only (reads /proc), like the stack.
 */
import { existsSync } from "node:fs";
import { MissingPrerequisite } from "./cli.ts";

export interface Spawned {
  pid: number;
  /** Kernel start time of the process (clock ticks since boot), to detect pid reuse. */
  startTime: number;
}

export interface SpawnOptions {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Appends stdout and stderr here. */
  logFile: string;
}

/**
 * Starts `cmd args` in a new session (so Ctrl-C of the caller's terminal and
 * the caller's exit do not reach it) with stdout/stderr appended to
 * `logFile`. Returns its pid: `setsid` execs in place (the caller is not a
 * group leader) and `sh` execs the program, so the pid is the program's.
 */
export async function spawnDetached(opts: SpawnOptions): Promise<Spawned> {
  const script = 'echo "$$" > "$OBSKIT_PIDFILE"; exec "$@" >>"$OBSKIT_LOG" 2>&1 </dev/null';
  const pidFile = `${opts.logFile}.pid`;
  try {
    Deno.removeSync(pidFile);
  } catch { /* not there */ }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("setsid", {
      args: ["sh", "-c", script, "sh", opts.cmd, ...opts.args],
      env: { ...(opts.env ?? {}), OBSKIT_PIDFILE: pidFile, OBSKIT_LOG: opts.logFile },
      cwd: opts.cwd,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new MissingPrerequisite(
        "setsid not found on PATH (the local stack starts each program in its own session)",
        "install util-linux (Debian/Ubuntu: apt-get install util-linux); the local stack needs Linux",
      );
    }
    throw err;
  }
  child.unref();
  // Reap it if it exits while we are still running (avoids a zombie that
  // would look alive in /proc).
  child.status.catch(() => {});
  let pid = child.pid;
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    try {
      const text = Deno.readTextFileSync(pidFile).trim();
      if (text) {
        pid = Number(text);
        break;
      }
    } catch { /* not yet written */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  try {
    Deno.removeSync(pidFile);
  } catch { /* gone */ }
  return { pid, startTime: (await processStartTime(pid)) ?? 0 };
}

/**
 * Reads a /proc file. Deno asks for --allow-all to read /proc/<pid>/...
 * directly; without it, `cat` (covered by --allow-run) reads it. Returns
 * null when the file does not exist (process gone).
 */
export async function readProc(path: string): Promise<string | null> {
  const direct = readProcDirectly(path);
  if (direct !== undefined) return direct;
  try {
    const out = await catCommand(path).output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** readProc for synchronous callers (a short file such as a /proc/sys setting). */
export function readProcSync(path: string): string | null {
  const direct = readProcDirectly(path);
  if (direct !== undefined) return direct;
  try {
    const out = catCommand(path).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** The file's text, null when it cannot be read, undefined when Deno's permissions stopped the read. */
function readProcDirectly(path: string): string | null | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    return err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied
      ? undefined
      : null;
  }
}

function catCommand(path: string): Deno.Command {
  return new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" });
}

/** The process' start time from /proc/<pid>/stat (field 22), or null when gone. */
export async function processStartTime(pid: number): Promise<number | null> {
  const stat = await readProc(`/proc/${pid}/stat`);
  if (!stat) return null;
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); field 22 is rest[19].
  if (rest[0] === "Z" || rest[0] === "X") return null; // a zombie is not running
  return Number(rest[19]);
}

/** True when `pid` runs and (if given) is the same process that was recorded. */
export async function isAlive(pid: number, startTime?: number): Promise<boolean> {
  const st = await processStartTime(pid);
  if (st === null) return false;
  return startTime === undefined || startTime === 0 || st === startTime;
}

/** The command line of a process, or "" when it is gone. */
export async function commandLine(pid: number): Promise<string> {
  const text = await readProc(`/proc/${pid}/cmdline`);
  return text ? text.split("\0").filter(Boolean).join(" ") : "";
}

/**
 * Stops a process we started: SIGTERM, then SIGKILL after `graceMs`. Only
 * acts when the pid still belongs to the recorded process (pid reuse).
 * Returns true when the process is gone afterwards.
 */
export async function stopProcess(
  pid: number,
  startTime?: number,
  graceMs = 5000,
): Promise<boolean> {
  if (!(await isAlive(pid, startTime))) return true;
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return !(await isAlive(pid, startTime));
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid, startTime))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    Deno.kill(pid, "SIGKILL");
  } catch { /* already gone */ }
  const killDeadline = Date.now() + 2000;
  while (Date.now() < killDeadline) {
    if (!(await isAlive(pid, startTime))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !(await isAlive(pid, startTime));
}

export interface PortHolder {
  pid: number | null;
  command: string;
}

/** Socket inodes listening on TCP `port` (IPv4 and IPv6), from /proc/net. */
async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readProc(file);
    if (!text) continue;
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = parseInt(f[1].split(":").pop() ?? "", 16);
      if (localPort === port && f[3] === "0A") inodes.add(f[9]);
    }
  }
  return inodes;
}

/**
 * Who listens on TCP `port`: pid and command line from /proc (visible for
 * our own processes, or all when root); falls back to `ss -ltnp`. Returns
 * null when nothing listens.
 */
export async function portHolder(port: number): Promise<PortHolder | null> {
  const inodes = await listeningInodes(port);
  let procEntries: Deno.DirEntry[] = [];
  try {
    // Deno wants --allow-all to list /proc; without it, `ss` below answers.
    if (inodes.size > 0) procEntries = [...Deno.readDirSync("/proc")];
  } catch { /* not allowed */ }
  for (const entry of procEntries) {
    if (!/^\d+$/.test(entry.name)) continue;
    let fds: Iterable<Deno.DirEntry>;
    try {
      fds = Deno.readDirSync(`/proc/${entry.name}/fd`);
      for (const fd of fds) {
        let target = "";
        try {
          target = Deno.readLinkSync(`/proc/${entry.name}/fd/${fd.name}`);
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m && inodes.has(m[1])) {
          const pid = Number(entry.name);
          return { pid, command: (await commandLine(pid)) || "?" };
        }
      }
    } catch {
      continue; // not ours to read, or gone
    }
  }
  if (existsSync("/usr/bin/ss") || existsSync("/bin/ss") || existsSync("/usr/sbin/ss")) {
    try {
      const out = await new Deno.Command("ss", {
        args: ["-ltnpH", `sport = :${port}`],
        stdout: "piped",
        stderr: "null",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      if (text) {
        const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(text);
        if (m) return { pid: Number(m[2]), command: (await commandLine(Number(m[2]))) || m[1] };
        return { pid: null, command: "unknown process (run 'ss -ltnp' as root to see it)" };
      }
    } catch { /* no ss */ }
  }
  return inodes.size > 0 ? { pid: null, command: "unknown process" } : null;
}

/** "pid 123 (prometheus --config.file ...)" for messages. */
export function describeHolder(h: PortHolder): string {
  const cmd = h.command.length > 120 ? `${h.command.slice(0, 117)}...` : h.command;
  return h.pid === null ? cmd : `pid ${h.pid} (${cmd})`;
}

/** The last `n` lines of a text file ("" when it does not exist). */
export function tailFile(path: string, n = 20): string {
  let text: string;
  try {
    const file = Deno.openSync(path, { read: true });
    try {
      const size = file.statSync().size;
      const want = Math.min(size, 64 * 1024);
      file.seekSync(size - want, Deno.SeekMode.Start);
      const buf = new Uint8Array(want);
      let read = 0;
      while (read < want) {
        const r = file.readSync(buf.subarray(read));
        if (r === null || r === 0) break;
        read += r;
      }
      text = new TextDecoder().decode(buf.subarray(0, read));
    } finally {
      file.close();
    }
  } catch {
    return "";
  }
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.slice(-n).join("\n");
}
