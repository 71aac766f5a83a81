/**
 * Unknown-field check for Kubernetes manifests (what `kubectl apply
 * --validate=strict` rejects). The OpenAPI validators of `kubernetes-models`
 * accept unknown properties, so a typo such as `readOnlyRootFilesytem` would
 * pass them silently. Here every document becomes a TypeScript object literal
 * checked with `satisfies` against the package's interface for its kind, so
 * TypeScript's excess-property check names each unknown field; its line is
 * mapped back to the manifest.
 */
import { join } from "node:path";
import { REPO_ROOT } from "../paths.ts";
import { isMap, type Json, lineAt, type Problem, type YamlSource } from "./source.ts";
import { denoCheckSource } from "./types.ts";

/**
 * One document of a manifest file in k8s/, with its source for line numbers.
 * Declared here, not in k8s.ts, so the import goes one way (k8s.ts uses this
 * module; this module uses nothing of k8s.ts).
 */
export interface ManifestDoc {
  src: YamlSource;
  index: number;
  obj: Json;
}

/** apiVersion/kind → module path inside its npm package, and the package's import key. */
function typeModule(apiVersion: string, kind: string): { pkg: string; path: string } | null {
  if (apiVersion === "monitoring.coreos.com/v1") {
    return {
      pkg: "@kubernetes-models/prometheus-operator",
      path: `monitoring.coreos.com/v1/${kind}`,
    };
  }
  if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion)) return null;
  return { pkg: "kubernetes-models", path: `${apiVersion}/${kind}` };
}

function specifier(pkg: string): string {
  try {
    const cfg = JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, "deno.json")));
    return cfg.imports?.[pkg] ?? `npm:${pkg}`;
  } catch {
    return `npm:${pkg}`;
  }
}

/** JSON text with one property per line, and the object path of each line. */
export function serializeWithPaths(value: Json): { lines: string[]; paths: (string | number)[][] } {
  const lines: string[] = [];
  const paths: (string | number)[][] = [];
  const emit = (text: string, path: (string | number)[]) => {
    lines.push(text);
    paths.push(path);
  };
  const walk = (
    v: Json,
    path: (string | number)[],
    indent: string,
    prefix: string,
    suffix: string,
  ) => {
    if (Array.isArray(v)) {
      emit(`${indent}${prefix}[`, path);
      v.forEach((c, i) => walk(c, [...path, i], indent + "  ", "", i < v.length - 1 ? "," : ""));
      emit(`${indent}]${suffix}`, path);
    } else if (isMap(v)) {
      emit(`${indent}${prefix}{`, path);
      const entries = Object.entries(v);
      entries.forEach(([k, c], i) =>
        walk(
          c,
          [...path, k],
          indent + "  ",
          `${JSON.stringify(k)}: `,
          i < entries.length - 1 ? "," : "",
        )
      );
      emit(`${indent}}${suffix}`, path);
    } else {
      emit(`${indent}${prefix}${JSON.stringify(v ?? null)}${suffix}`, path);
    }
  };
  walk(value, [], "", "", "");
  return { lines, paths };
}

/**
 * `known` lists the `apiVersion/kind` ids to check (those with an interface
 * in the packages); other documents are left to the schema check.
 */
export async function unknownFieldProblems(
  docs: ManifestDoc[],
  known: Set<string>,
): Promise<Problem[]> {
  const imports = new Map<string, string>(); // alias -> import line
  const body: string[] = [];
  const owners: { doc: ManifestDoc; path: (string | number)[] }[] = [];
  docs.forEach((doc, i) => {
    const o = doc.obj;
    if (!isMap(o) || typeof o.apiVersion !== "string" || typeof o.kind !== "string") return;
    if (!known.has(`${o.apiVersion}/${o.kind}`)) return;
    const mod = typeModule(o.apiVersion, o.kind);
    if (!mod) return;
    const spec = specifier(mod.pkg);
    const alias = `T${imports.size}`;
    const key = `${spec}/${mod.path}`;
    let name = [...imports.entries()].find(([, line]) => line.includes(`"${key}"`))?.[0];
    if (!name) {
      name = alias;
      imports.set(alias, `import type { I${o.kind} as ${alias} } from "${key}";`);
    }
    const { lines, paths } = serializeWithPaths(o);
    lines[0] = `export const d${i} = (${lines[0]}`;
    lines[lines.length - 1] += `) satisfies ${name};`;
    for (let k = 0; k < lines.length; k++) {
      body.push(lines[k]);
      owners.push({ doc, path: paths[k] });
    }
  });
  if (body.length === 0) return [];
  const head = [...imports.values()];
  const text = [...head, ...body].join("\n") + "\n";
  const { code, output, errors } = await denoCheckSource("manifests_strict_check", text);
  if (code === 0) return [];
  const problems: Problem[] = [];
  // TS2353 / TS2561: an object literal names a property the type does not have.
  for (const e of errors.filter((e) => e.code === "TS2353" || e.code === "TS2561")) {
    const owner = owners[e.line - 1 - head.length];
    const field = /'"?([^'"]+)"?' does not exist/.exec(e.message)?.[1] ?? "?";
    const hint = /Did you mean to write '"?([^'"]+)"?'\?/.exec(e.message)?.[1];
    if (!owner) continue;
    const o = owner.doc.obj;
    problems.push({
      file: owner.doc.src.file,
      line: lineAt(owner.doc.src, owner.path, owner.doc.index),
      message: `${o.kind} ${o.metadata?.name}: unknown field '${field}' at /${
        owner.path.slice(0, -1).join("/")
      }${hint ? ` (did you mean '${hint}'?)` : ""}`,
    });
  }
  // A module or type that cannot be resolved means the check did not run.
  const broken = /(TS2307|TS2305|TS2724|TS2614) \[ERROR\]: ([^\n]*)/.exec(output);
  if (broken || (problems.length === 0 && !/TS\d+ \[ERROR\]/.test(output))) {
    const why = broken?.[2] ?? output.trim().split("\n")[0];
    problems.push({ file: "k8s/", message: `strict field check could not run: ${why}` });
  }
  return problems;
}
