/**
 * Reading config files with positions: YAML (multi-document) and JSON,
 * parse errors as `file:line`, and the line of any node by its path so a
 * check can say where a problem is.
 */
import { join } from "node:path";
import { type Document, LineCounter, parseAllDocuments } from "yaml";

/** One problem a check found; `file` is relative to the validated root. */
export interface Problem {
  file: string;
  line?: number;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}${p.line ? `:${p.line}` : ""}: ${p.message}`;
}

/** Raised by a loader when a file cannot be read or parsed. */
export class SourceError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join("; "));
  }
}

export interface YamlSource {
  /** Path relative to the root, for messages. */
  file: string;
  text: string;
  docs: Document.Parsed[];
  lines: LineCounter;
}

export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Parses YAML text; syntax errors become problems with their line. */
export function parseYamlSource(file: string, text: string): YamlSource {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  if (!Array.isArray(docs)) {
    // An empty stream parses to an EmptyStream; treat as no documents.
    return { file, text, docs: [], lines };
  }
  const problems: Problem[] = [];
  for (const doc of docs) {
    for (const err of doc.errors) {
      const line = lines.linePos(err.pos[0]).line;
      problems.push({ file, line, message: `YAML: ${err.message.split("\n")[0]}` });
    }
  }
  if (problems.length) throw new SourceError(problems);
  return { file, text, docs, lines };
}

export function readYaml(root: string, rel: string): YamlSource {
  const path = join(root, rel);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new SourceError([{ file: rel, message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseYamlSource(rel, text);
}

/** The line of the node at `path` in document `doc` (1-based), if it exists. */
export function lineAt(src: YamlSource, path: (string | number)[], doc = 0): number | undefined {
  const d = src.docs[doc];
  if (!d) return undefined;
  // deno-lint-ignore no-explicit-any
  const node = d.getIn(path, true) as any;
  const pos = node?.range?.[0];
  if (typeof pos !== "number") {
    // Fall back to the parent's line.
    return path.length ? lineAt(src, path.slice(0, -1), doc) : undefined;
  }
  return src.lines.linePos(pos).line;
}

export interface JsonSource {
  file: string;
  text: string;
  value: unknown;
  /** The same text read as YAML (a JSON superset), for node positions. */
  yaml: YamlSource;
}

function jsonErrorLine(text: string, message: string): number | undefined {
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return Number(lc[1]);
  const pos = /position (\d+)/.exec(message);
  if (pos) return text.slice(0, Number(pos[1])).split("\n").length;
  return undefined;
}

export function parseJsonSource(file: string, text: string): JsonSource {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    throw new SourceError([{
      file,
      line: jsonErrorLine(text, msg),
      message: `JSON: ${msg.replace(/^JSON\.parse: /, "")}`,
    }]);
  }
  let yaml: YamlSource;
  try {
    yaml = parseYamlSource(file, text);
  } catch {
    yaml = { file, text, docs: [], lines: new LineCounter() };
  }
  return { file, text, value, yaml };
}

export function readJson(root: string, rel: string): JsonSource {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(root, rel));
  } catch (err) {
    throw new SourceError([{ file: rel, message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseJsonSource(rel, text);
}

/** Files in `dir` (relative to root) whose names match `re`, sorted. */
export function listFiles(root: string, dir: string, re: RegExp): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(join(root, dir))) {
      if (e.isFile && re.test(e.name)) out.push(join(dir, e.name));
    }
  } catch {
    // missing directory: no files
  }
  return out.sort();
}

// deno-lint-ignore no-explicit-any
export type Json = any;

export function isMap(v: unknown): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
