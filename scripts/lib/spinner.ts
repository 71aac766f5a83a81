/**
 * Progress display for long steps (tool builds, health waits). On a terminal
 * a spinner with the elapsed time redraws one line; elsewhere (CI logs) a
 * "still working" line is printed every `quietEveryMs` so a multi-minute
 * build visibly stays alive without flooding the log. Output goes to stderr
 * so a script's stdout (tables, URLs) stays clean.
 */

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** "850ms", "12.3s", "2m05s". */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, "0")}s`;
}

export interface ProgressOptions {
  /** Force the terminal (redrawing) mode on or off; default: stderr is a TTY. */
  tty?: boolean;
  /** Non-TTY mode: how often to print a "still working" line. */
  quietEveryMs?: number;
  /** Where lines go; default stderr. Tests pass a collector. */
  write?: (text: string) => void;
}

export interface Progress {
  /** Changes the detail text shown after the label. */
  update(detail: string): void;
  /** Ends the step as done; returns the elapsed milliseconds. */
  succeed(detail?: string): number;
  /** Ends the step as failed; returns the elapsed milliseconds. */
  fail(detail?: string): number;
  /** Ends the step as skipped (nothing to do). */
  skip(detail?: string): number;
  readonly elapsedMs: number;
}

const encoder = new TextEncoder();

function stderrWrite(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

/** Starts a progress line for `label`. Always end it with succeed/fail/skip. */
export function progress(label: string, opts: ProgressOptions = {}): Progress {
  const write = opts.write ?? stderrWrite;
  const tty = opts.tty ?? Deno.stderr.isTerminal();
  const quietEvery = opts.quietEveryMs ?? 15_000;
  const start = performance.now();
  let detail = "";
  let frame = 0;
  let ended = false;
  let lastQuiet = start;

  const elapsed = () => performance.now() - start;
  const draw = () => {
    const d = detail ? ` ${detail}` : "";
    write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label}${d} ${formatElapsed(elapsed())}`);
  };

  let timer: ReturnType<typeof setInterval>;
  if (tty) {
    draw();
    timer = setInterval(draw, 100);
  } else {
    write(`… ${label}\n`);
    timer = setInterval(() => {
      const now = performance.now();
      if (now - lastQuiet >= quietEvery) {
        lastQuiet = now;
        write(
          `… ${label}: still working (${formatElapsed(elapsed())})${detail ? ` ${detail}` : ""}\n`,
        );
      }
    }, Math.min(1000, quietEvery));
  }
  // Never keep a script alive just for the spinner.
  Deno.unrefTimer(timer);

  const end = (mark: string, text?: string): number => {
    const ms = elapsed();
    if (ended) return ms;
    ended = true;
    clearInterval(timer);
    const line = `${mark} ${label}${text ? `: ${text}` : ""} (${formatElapsed(ms)})`;
    write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    return ms;
  };

  return {
    update(d: string) {
      detail = d;
    },
    succeed: (d?: string) => end("✔", d),
    fail: (d?: string) => end("✘", d),
    skip: (d?: string) => end("·", d),
    get elapsedMs() {
      return elapsed();
    },
  };
}

/** One finished step line without a spinner (e.g. "· jaeger: up to date"). */
export function stepLine(
  label: string,
  detail: string,
  opts: ProgressOptions = {},
  mark = "·",
): void {
  const write = opts.write ?? stderrWrite;
  write(`${mark} ${label}: ${detail}\n`);
}
