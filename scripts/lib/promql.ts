/**
 * PromQL analysis shared by validate, the dashboard generator and the rule
 * tooling. Parsing uses `@prometheus-io/lezer-promql`, the grammar that
 * Prometheus' own web UI uses, so "parses here" means "the Prometheus UI
 * accepts its syntax". The parser is error tolerant: it always returns a
 * tree, with error nodes where the input did not fit; we report each one
 * with its offset, line and column.
 *
 * Grafana expressions carry template variables (`$__rate_interval`,
 * `${namespace}`, `[[var]]`) that are not PromQL; `substituteGrafanaVariables`
 * replaces them with values of the right shape before parsing.
 */
import { parser } from "@prometheus-io/lezer-promql";

export interface PromQLError {
  /** 0-based character offset into the expression that was parsed. */
  offset: number;
  /** 1-based line and column of `offset`. */
  line: number;
  column: number;
  message: string;
}

export interface PromQLAnalysis {
  /** The text that was parsed (after variable substitution, if asked for). */
  expr: string;
  errors: PromQLError[];
  /** Metric names the expression selects, sorted, without duplicates. */
  metrics: string[];
}

export interface AnalyzeOptions {
  /** Replace Grafana template variables before parsing. */
  grafana?: boolean;
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return { line, column };
}

function describeError(text: string, from: number, to: number): string {
  if (from >= text.length) return "unexpected end of expression";
  const snippet = text.slice(from, Math.max(to, from + 1)).slice(0, 30);
  return `unexpected ${JSON.stringify(snippet)}`;
}

function unquote(literal: string): string {
  const q = literal[0];
  const body = literal.slice(1, -1);
  if (q === "`") return body;
  try {
    return q === '"' ? JSON.parse(literal) : JSON.parse(`"${body.replace(/"/g, '\\"')}"`);
  } catch {
    return body;
  }
}

/** Grafana's built-in interval variables and the stand-ins used for parsing. */
const GRAFANA_BUILTINS: Record<string, string> = {
  __range_s: "21600",
  __range_ms: "21600000",
  __interval_ms: "60000",
  __rate_interval_ms: "240000",
};

/**
 * Replaces Grafana template variables so the expression can be parsed as
 * PromQL. Inside a quoted string a variable stays as it is (it is just text
 * there); elsewhere a duration-like variable becomes `5m` and the numeric
 * builtins (`$__range_s`...) a number.
 */
export function substituteGrafanaVariables(expr: string): string {
  let out = "";
  let i = 0;
  while (i < expr.length) {
    const ch = expr[i];
    if (ch === '"' || ch === "'" || ch === "`") {
      let j = i + 1;
      while (j < expr.length && expr[j] !== ch) j += expr[j] === "\\" && ch !== "`" ? 2 : 1;
      out += expr.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m =
      /^(?:\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)(?::[^\]]*)?\]\])/
        .exec(expr.slice(i));
    if (m) {
      const name = m[1] ?? m[2] ?? m[3];
      out += GRAFANA_BUILTINS[name] ?? "5m";
      i += m[0].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** Parses one PromQL expression: syntax errors and the metrics it selects. */
export function analyzePromQL(input: string, opts: AnalyzeOptions = {}): PromQLAnalysis {
  const expr = opts.grafana ? substituteGrafanaVariables(input) : input;
  const errors: PromQLError[] = [];
  const metrics = new Set<string>();
  if (expr.trim() === "") {
    return {
      expr,
      errors: [{ offset: 0, line: 1, column: 1, message: "empty expression" }],
      metrics: [],
    };
  }
  const tree = parser.parse(expr);
  const cursor = tree.cursor();
  do {
    const node = cursor.node;
    if (node.type.isError) {
      // Report only the outermost error of a nested run.
      let p = node.parent;
      let nested = false;
      while (p) {
        if (p.type.isError) nested = true;
        p = p.parent;
      }
      if (!nested && !errors.some((e) => e.offset === node.from)) {
        errors.push({
          offset: node.from,
          ...lineCol(expr, node.from),
          message: describeError(expr, node.from, node.to),
        });
      }
      continue;
    }
    const parent = node.parent;
    if (node.name === "Identifier" && parent?.name === "VectorSelector") {
      metrics.add(expr.slice(node.from, node.to));
    } else if (node.name === "QuotedLabelName" && parent?.name === "LabelMatchers") {
      // `{"metric.name", ...}`: the UTF-8 form of a metric name.
      metrics.add(unquote(expr.slice(node.from, node.to)));
    } else if (node.name === "UnquotedLabelMatcher" || node.name === "QuotedLabelMatcher") {
      const name = node.getChild("LabelName") ?? node.getChild("QuotedLabelName");
      const op = node.getChild("MatchOp");
      const value = node.getChild("StringLiteral", "MatchOp");
      if (name && op && value) {
        const labelName = expr.slice(name.from, name.to);
        const isName = labelName === "__name__" || unquote(labelName) === "__name__";
        if (isName && op.firstChild?.name === "EqlSingle") {
          metrics.add(unquote(expr.slice(value.from, value.to)));
        }
      }
    }
  } while (cursor.next());
  return { expr, errors, metrics: [...metrics].sort() };
}

/** Syntax errors only; an empty list means the expression parses. */
export function promqlErrors(expr: string, opts: AnalyzeOptions = {}): PromQLError[] {
  return analyzePromQL(expr, opts).errors;
}

/** Metric names an expression selects. */
export function referencedMetrics(expr: string, opts: AnalyzeOptions = {}): string[] {
  return analyzePromQL(expr, opts).metrics;
}

/** Recording-rule outputs follow `level:metric:operations`; plain metrics have no colon. */
export function isRecordingRuleName(name: string): boolean {
  return name.includes(":");
}

/** Suffixes Prometheus adds to a histogram or summary family's series. */
export const FAMILY_SUFFIXES = ["_bucket", "_sum", "_count", "_created"] as const;

/**
 * Whether `metric` (as written in a query) belongs to one of `families`:
 * the family itself, or a histogram/summary series of it
 * (`x_bucket`/`x_sum`/`x_count` for family `x`).
 */
export function inFamilies(metric: string, families: ReadonlySet<string>): boolean {
  if (families.has(metric)) return true;
  for (const s of FAMILY_SUFFIXES) {
    if (metric.endsWith(s) && families.has(metric.slice(0, -s.length))) return true;
  }
  return false;
}

/**
 * Metrics from `metrics` that are neither in `known` (as a family) nor in
 * `recorded` (names produced by recording rules).
 */
export function unknownMetrics(
  metrics: Iterable<string>,
  known: ReadonlySet<string>,
  recorded: ReadonlySet<string> = new Set(),
): string[] {
  const out: string[] = [];
  for (const m of metrics) {
    if (recorded.has(m) || inFamilies(m, known)) continue;
    out.push(m);
  }
  return out;
}
