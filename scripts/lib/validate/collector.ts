/**
 * TestOTELCollector: the collector config, its local overlay and the builder
 * manifest, checked structurally and by the real collector's `validate`.
 */
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse as parseYaml } from "yaml";
import {
  exists,
  isMap,
  type Json,
  lineAt,
  type Problem,
  readYaml,
  SourceError,
  type YamlSource,
} from "./source.ts";
import {
  type Check,
  fail,
  memo,
  missingTool,
  type Outcome,
  pass,
  result,
  runTool,
  type ValidateContext,
} from "./types.ts";

export const COLLECTOR_CONFIG = "config/otel-collector-config.yaml";
export const COLLECTOR_LOCAL = "config/otel-collector-local.yaml";
export const BUILDER_MANIFEST = "config/otelcol-builder.yaml";
export const COLLECTOR_MANIFEST = "k8s/otel-collector-deployment.yaml";
export const COLLECTOR_BINARY = "otelcol-obskit";
/** The exporter the local overlay adds for the stack's logs backend (VictoriaLogs). */
export const LOGS_BACKEND_EXPORTER = "otlp_http/victorialogs";

export const SIGNALS = ["metrics", "traces", "logs"] as const;
export const COMPONENT_KINDS = ["receivers", "processors", "exporters", "extensions"] as const;
type Kind = typeof COMPONENT_KINDS[number];

export function componentType(id: string): string {
  return id.split("/")[0];
}

function loadYaml(ctx: ValidateContext, rel: string): { src: YamlSource; value: Json } {
  return memo(ctx, `yaml:${rel}`, () => {
    const src = readYaml(ctx.root, rel);
    return { src, value: src.docs[0]?.toJS() ?? null };
  });
}

/** Loads a file for a check; a parse failure becomes the check's outcome. */
function withYaml(
  ctx: ValidateContext,
  rel: string,
  body: (src: YamlSource, value: Json) => Outcome | Promise<Outcome>,
): Outcome | Promise<Outcome> {
  if (!exists(join(ctx.root, rel))) return fail([{ file: rel, message: "file is missing" }]);
  let loaded;
  try {
    loaded = loadYaml(ctx, rel);
  } catch (err) {
    if (err instanceof SourceError) return fail(err.problems);
    throw err;
  }
  if (!isMap(loaded.value)) return fail([{ file: rel, message: "not a YAML mapping" }]);
  return body(loaded.src, loaded.value);
}

/** Structural problems of a collector config (pipelines, components, order). */
export function pipelineProblems(src: YamlSource, cfg: Json): Problem[] {
  const problems: Problem[] = [];
  const pipelines = cfg?.service?.pipelines;
  if (!isMap(pipelines)) {
    return [{
      file: src.file,
      line: lineAt(src, ["service"]),
      message: "service.pipelines is missing",
    }];
  }
  for (const signal of SIGNALS) {
    const names = Object.keys(pipelines).filter((p) => componentType(p) === signal);
    if (names.length === 0) {
      problems.push({
        file: src.file,
        line: lineAt(src, ["service", "pipelines"]),
        message: `no ${signal} pipeline`,
      });
    }
    for (const name of names) {
      const p = pipelines[name] ?? {};
      for (const part of ["receivers", "exporters"]) {
        if (!Array.isArray(p[part]) || p[part].length === 0) {
          problems.push({
            file: src.file,
            line: lineAt(src, ["service", "pipelines", name]),
            message: `pipeline ${name} has no ${part}`,
          });
        }
      }
    }
  }
  return problems;
}

/** Every component a pipeline names is defined; every defined one is used. */
export function componentProblems(src: YamlSource, cfg: Json, requireAllUsed = true): Problem[] {
  const problems: Problem[] = [];
  const pipelines: Record<string, Json> = isMap(cfg?.service?.pipelines)
    ? cfg.service.pipelines
    : {};
  const used: Record<Kind, Set<string>> = {
    receivers: new Set(),
    processors: new Set(),
    exporters: new Set(),
    extensions: new Set(),
  };
  for (const [name, p] of Object.entries(pipelines)) {
    for (const kind of ["receivers", "processors", "exporters"] as const) {
      const list = Array.isArray(p?.[kind]) ? p[kind] : [];
      list.forEach((id: string, i: number) => {
        used[kind].add(id);
        if (!isMap(cfg[kind]) || !(id in cfg[kind])) {
          problems.push({
            file: src.file,
            line: lineAt(src, ["service", "pipelines", name, kind, i]),
            message: `pipeline ${name} names ${kind.slice(0, -1)} '${id}', which is not defined`,
          });
        }
      });
    }
  }
  const exts = Array.isArray(cfg?.service?.extensions) ? cfg.service.extensions : [];
  exts.forEach((id: string, i: number) => {
    used.extensions.add(id);
    if (!isMap(cfg.extensions) || !(id in cfg.extensions)) {
      problems.push({
        file: src.file,
        line: lineAt(src, ["service", "extensions", i]),
        message: `service.extensions names '${id}', which is not defined`,
      });
    }
  });
  if (requireAllUsed) {
    for (const kind of COMPONENT_KINDS) {
      for (const id of Object.keys(isMap(cfg[kind]) ? cfg[kind] : {})) {
        if (!used[kind].has(id)) {
          problems.push({
            file: src.file,
            line: lineAt(src, [kind, id]),
            message: kind === "extensions"
              ? `extension '${id}' is defined but not in service.extensions`
              : `${kind.slice(0, -1)} '${id}' is defined but no pipeline uses it`,
          });
        }
      }
    }
  }
  return problems;
}

const ENRICHMENT = new Set([
  "attributes",
  "k8s_attributes",
  "resource_detection",
  "resourcedetection",
  "resource",
]);
const SAMPLING = new Set(["probabilistic_sampler", "tail_sampling"]);

/** memory_limiter first, then sampling, then enrichment, batch last. */
export function orderProblems(src: YamlSource, cfg: Json): Problem[] {
  const problems: Problem[] = [];
  const pipelines: Record<string, Json> = isMap(cfg?.service?.pipelines)
    ? cfg.service.pipelines
    : {};
  for (const [name, p] of Object.entries(pipelines)) {
    const procs: string[] = Array.isArray(p?.processors) ? p.processors : [];
    const at = (i: number) => lineAt(src, ["service", "pipelines", name, "processors", i]);
    if (procs.length === 0) {
      problems.push({
        file: src.file,
        line: lineAt(src, ["service", "pipelines", name]),
        message: `pipeline ${name} has no processors (memory_limiter and batch are required)`,
      });
      continue;
    }
    const types = procs.map(componentType);
    if (types[0] !== "memory_limiter") {
      const i = types.indexOf("memory_limiter");
      problems.push({
        file: src.file,
        line: at(i >= 0 ? i : 0),
        message: i >= 0
          ? `pipeline ${name}: memory_limiter is processor #${i + 1}, it must be first`
          : `pipeline ${name}: no memory_limiter (it must be the first processor)`,
      });
    }
    if (types[types.length - 1] !== "batch") {
      const i = types.indexOf("batch");
      problems.push({
        file: src.file,
        line: at(i >= 0 ? i : types.length - 1),
        message: i >= 0
          ? `pipeline ${name}: batch is processor #${i + 1} of ${types.length}, it must be last`
          : `pipeline ${name}: no batch processor (it must be the last processor)`,
      });
    }
    const lastSampling = Math.max(...types.map((t, i) => SAMPLING.has(t) ? i : -1));
    const firstEnrich = types.findIndex((t) => ENRICHMENT.has(t));
    if (lastSampling >= 0 && firstEnrich >= 0 && firstEnrich < lastSampling) {
      problems.push({
        file: src.file,
        line: at(firstEnrich),
        message: `pipeline ${name}: ${
          procs[firstEnrich]
        } runs before sampling; sample first, enrich what is kept`,
      });
    }
  }
  return problems;
}

/** Maps a config component type to the builder module's last path segment. */
export function moduleNameFor(kind: Kind, type: string): string {
  // Modules whose path does not follow <type><kind> (contrib's storage extensions).
  const whole: Record<string, string> = { "extensions:file_storage": "filestorage" };
  if (whole[`${kind}:${type}`]) return whole[`${kind}:${type}`];
  const aliases: Record<string, string> = { otlp_grpc: "otlp", otlp_http: "otlphttp" };
  const base = (kind === "exporters" ? aliases[type] : undefined) ?? type.replaceAll("_", "");
  return base + kind.slice(0, -1);
}

/**
 * The builder manifest lists exactly the component modules the config uses
 * (`cfg` is the cluster config merged with the local overlay, so a
 * component only the local stack uses, like file_storage, counts).
 */
export function builderProblems(
  manifest: YamlSource,
  man: Json,
  cfgFile: string,
  cfg: Json,
): Problem[] {
  const problems: Problem[] = [];
  const version = String(man?.dist?.version ?? "");
  if (!version) {
    problems.push({
      file: manifest.file,
      line: lineAt(manifest, ["dist"]),
      message: "dist.version is missing",
    });
  }
  for (const kind of COMPONENT_KINDS) {
    const want = new Set(
      Object.keys(isMap(cfg[kind]) ? cfg[kind] : {}).map((id) =>
        moduleNameFor(kind, componentType(id))
      ),
    );
    const have = new Map<string, number>();
    const list: Json[] = Array.isArray(man?.[kind]) ? man[kind] : [];
    list.forEach((entry, i) => {
      const [mod, ver] = String(entry?.gomod ?? "").split(/\s+/);
      const name = mod.split("/").pop() ?? "";
      have.set(name, i);
      // A different version is allowed only with a comment right above the
      // entry that names that version (the reason it cannot be the pin).
      const at = lineAt(manifest, [kind, i]) ?? 0;
      const lines = manifest.text.split("\n");
      let k = at - 2;
      const comments: string[] = [];
      while (k >= 0 && /^\s*#/.test(lines[k])) comments.push(lines[k--]);
      const explained = comments.some((c) => ver && c.includes(ver));
      if (ver && /^v0\./.test(ver) && `v${version}` !== ver && !explained) {
        problems.push({
          file: manifest.file,
          line: lineAt(manifest, [kind, i]),
          message:
            `${mod} is at ${ver}, the pin is v${version} (explain an exception in a comment above it)`,
        });
      }
    });
    for (const m of want) {
      if (!have.has(m)) {
        problems.push({
          file: manifest.file,
          line: lineAt(manifest, [kind]),
          message: `${cfgFile} uses ${
            kind.slice(0, -1)
          } module ${m}, which the build manifest lacks`,
        });
      }
    }
    for (const [m, i] of have) {
      if (!want.has(m)) {
        problems.push({
          file: manifest.file,
          line: lineAt(manifest, [kind, i]),
          message: `${m} is built but ${cfgFile} does not use it`,
        });
      }
    }
  }
  return problems;
}

function scrapeJobs(cfg: Json): Json[] {
  const jobs = cfg?.receivers?.prometheus?.config?.scrape_configs;
  return Array.isArray(jobs) ? jobs : [];
}

/** Maps merge, lists replace: the collector's rule for several --config files. */
export function mergeConfigs(base: Json, overlay: Json): Json {
  if (isMap(base) && isMap(overlay)) {
    const out: Record<string, Json> = { ...base };
    for (const [k, v] of Object.entries(overlay)) out[k] = k in base ? mergeConfigs(base[k], v) : v;
    return out;
  }
  return overlay;
}

/** The overlay removes only what cannot run outside a cluster. */
export function overlayProblems(
  baseSrc: YamlSource,
  base: Json,
  ovSrc: YamlSource,
  ov: Json,
): Problem[] {
  const problems: Problem[] = [];
  const baseJobs = new Map(scrapeJobs(base).map((j) => [j.job_name, j]));
  const ovJobs = scrapeJobs(ov);
  ovJobs.forEach((job, i) => {
    const b = baseJobs.get(job.job_name);
    const line = lineAt(ovSrc, ["receivers", "prometheus", "config", "scrape_configs", i]);
    if (!b) {
      problems.push({
        file: ovSrc.file,
        line,
        message: `scrape job '${job.job_name}' is not in ${baseSrc.file}`,
      });
    } else if (!isDeepStrictEqual(b, job)) {
      problems.push({
        file: ovSrc.file,
        line,
        message: `scrape job '${job.job_name}' differs from ${baseSrc.file}; restate it unchanged`,
      });
    }
  });
  if (ov?.receivers?.prometheus?.config?.scrape_configs) {
    const kept = new Set(ovJobs.map((j) => j.job_name));
    for (const [name, job] of baseJobs) {
      if (!kept.has(name) && !job.kubernetes_sd_configs) {
        problems.push({
          file: ovSrc.file,
          line: lineAt(ovSrc, ["receivers", "prometheus", "config", "scrape_configs"]),
          message: `drops scrape job '${name}', which does not need a cluster`,
        });
      }
    }
  }
  // Storage the overlay adds for persistent queues: file_storage extensions
  // the base file does not have, listed after the base's extensions.
  const storageIds = Object.keys(isMap(ov?.extensions) ? ov.extensions : {})
    .filter((id) => componentType(id) === "file_storage" && !(id in (base?.extensions ?? {})));
  if (ov?.service?.extensions !== undefined) {
    const want = [...(base?.service?.extensions ?? []), ...storageIds];
    if (!isDeepStrictEqual(ov.service.extensions, want)) {
      problems.push({
        file: ovSrc.file,
        line: lineAt(ovSrc, ["service", "extensions"]),
        message: `service.extensions must be ${baseSrc.file}'s plus the overlay's storage: [${
          want.join(", ")
        }]`,
      });
    }
  }
  // Anything else the overlay sets must be a pipeline's exporters list, or
  // an exporter's sending_queue.storage naming one of those extensions.
  const walk = (v: Json, path: string[]) => {
    const p = path.join(".");
    if (p === "receivers.prometheus.config.scrape_configs") return;
    const pipelineExporters = /^service\.pipelines\.([^.]+)\.exporters$/.exec(p);
    if (pipelineExporters) {
      if (
        pipelineExporters[1] !== "logs" && Array.isArray(v) && v.includes(LOGS_BACKEND_EXPORTER)
      ) {
        problems.push({
          file: ovSrc.file,
          line: lineAt(ovSrc, path),
          message: `${LOGS_BACKEND_EXPORTER} may only be in the logs pipeline (in ${p})`,
        });
      }
      return;
    }
    // The one exporter the overlay may add: the local stack's logs backend.
    // VictoriaLogs refuses OTLP/JSON with a 400, so the encoding is part of the rule.
    if (
      path[0] === "exporters" && path[1] === LOGS_BACKEND_EXPORTER && path.length === 2 &&
      !(LOGS_BACKEND_EXPORTER in (base?.exporters ?? {}))
    ) {
      if (!isMap(v) || v.encoding !== "proto") {
        problems.push({
          file: ovSrc.file,
          line: lineAt(ovSrc, path),
          message: `${p}: VictoriaLogs accepts OTLP protobuf only; set encoding: proto`,
        });
      }
      return;
    }
    // A pipeline may drop k8s_attributes (it needs an API server to look pods
    // up in and stops the collector at start without one), and the batch
    // processor where its exporters persist their queues: the processor
    // acknowledges spans it still holds in memory, which a killed collector
    // loses uncounted; the persisted queue batches instead. Nothing else, and
    // the rest keeps the base file's order.
    const pipelineProcs = /^service\.pipelines\.([^.]+)\.processors$/.exec(p);
    if (pipelineProcs) {
      const pipeline = base?.service?.pipelines?.[pipelineProcs[1]];
      const baseProcs: string[] = Array.isArray(pipeline?.processors) ? pipeline.processors : [];
      const persisted = (pipeline?.exporters ?? []).some((e: string) =>
        storageIds.includes(String(ov?.exporters?.[e]?.sending_queue?.storage))
      );
      const droppable = new Set(["k8s_attributes", ...(persisted ? ["batch"] : [])]);
      const kept = Array.isArray(v) ? v : [];
      const want = baseProcs.filter((x) => kept.includes(x) || !droppable.has(componentType(x)));
      if (!isDeepStrictEqual(v, want)) {
        problems.push({
          file: ovSrc.file,
          line: lineAt(ovSrc, path),
          message: `${p} may only be ${baseSrc.file}'s list [${
            baseProcs.join(", ")
          }] without k8s_attributes, and without batch only where an exporter persists its queue`,
        });
      }
      return;
    }
    if (p === "service.extensions") return;
    if (path[0] === "extensions" && path.length >= 2 && storageIds.includes(path[1])) return;
    if (
      path[0] === "exporters" && path.length === 4 && path[2] === "sending_queue" &&
      path[3] === "storage"
    ) {
      if (!storageIds.includes(String(v))) {
        problems.push({
          file: ovSrc.file,
          line: lineAt(ovSrc, path),
          message: `${p} names '${v}', which is not a file_storage extension the overlay adds`,
        });
      } else if (!isMap(base?.exporters?.[path[1]]?.sending_queue)) {
        problems.push({
          file: ovSrc.file,
          line: lineAt(ovSrc, path),
          message: `${p}: exporter ${path[1]} has no sending_queue in ${baseSrc.file}`,
        });
      }
      return;
    }
    if (isMap(v)) {
      for (const [k, c] of Object.entries(v)) walk(c, [...path, k]);
      return;
    }
    problems.push({
      file: ovSrc.file,
      line: lineAt(ovSrc, path),
      message:
        `overlay changes ${p}; it may only drop cluster-only scrape jobs, exporters and k8s_attributes, persist sending queues and add otlp_http/victorialogs to the logs pipeline`,
    });
  };
  walk(ov, []);
  const merged = mergeConfigs(base, ov);
  problems.push(
    ...componentProblems(ovSrc, merged, false).map((p) => ({
      ...p,
      line: undefined,
      message: `merged with ${baseSrc.file}: ${p.message}`,
    })),
  );
  return problems;
}

/** Runs `<collector> validate` with the given config files. */
export async function collectorValidate(
  bin: string,
  files: string[],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; message: string; output: string }> {
  const args = ["validate", ...files.map((f) => `--config=file:${f}`)];
  const { code, output } = await runTool(bin, args, { env, timeoutMs: 120_000 });
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  const deprecated = lines.filter((l) => /deprecat/i.test(l));
  if (code !== 0) {
    // "Error: failed to get config: ...:" then the detail, one cause per line.
    const i = lines.findIndex((l) => /^Error:/.test(l));
    const detail = i >= 0 ? lines.slice(i) : lines.slice(-3);
    const message = detail.join(" ").replace(/^Error:\s*/, "").replace(/\s+/g, " ").slice(0, 400);
    return { ok: false, message: message || `exit ${code}`, output };
  }
  if (deprecated.length) {
    return { ok: false, message: `deprecation warning: ${deprecated[0]}`, output };
  }
  return { ok: true, message: "valid", output };
}

export const collectorChecks: Check[] = [
  {
    cls: "TestOTELCollector",
    name: "collector config exists",
    run: (ctx) =>
      exists(join(ctx.root, COLLECTOR_CONFIG))
        ? pass(COLLECTOR_CONFIG)
        : fail([{ file: COLLECTOR_CONFIG, message: "file is missing" }]),
  },
  {
    cls: "TestOTELCollector",
    name: "collector deployment manifest exists",
    run: (ctx) =>
      exists(join(ctx.root, COLLECTOR_MANIFEST))
        ? pass(COLLECTOR_MANIFEST)
        : fail([{ file: COLLECTOR_MANIFEST, message: "file is missing" }]),
  },
  {
    cls: "TestOTELCollector",
    name: "collector configs are valid YAML",
    run: (ctx) => {
      const problems: Problem[] = [];
      for (const f of [COLLECTOR_CONFIG, COLLECTOR_LOCAL, BUILDER_MANIFEST]) {
        if (!exists(join(ctx.root, f))) {
          problems.push({ file: f, message: "file is missing" });
          continue;
        }
        try {
          loadYaml(ctx, f);
        } catch (err) {
          if (err instanceof SourceError) problems.push(...err.problems);
          else throw err;
        }
      }
      return result(problems, `${COLLECTOR_CONFIG}, ${COLLECTOR_LOCAL}, ${BUILDER_MANIFEST}`);
    },
  },
  {
    cls: "TestOTELCollector",
    name: "all three pipelines (metrics, traces, logs) configured",
    run: (ctx) =>
      withYaml(ctx, COLLECTOR_CONFIG, (src, cfg) =>
        result(
          pipelineProblems(src, cfg),
          Object.keys(cfg.service.pipelines).join(", "),
        )),
  },
  {
    cls: "TestOTELCollector",
    name: "every pipeline component is defined and every defined one used",
    run: (ctx) =>
      withYaml(ctx, COLLECTOR_CONFIG, (src, cfg) => {
        const n = COMPONENT_KINDS.reduce((a, k) => a + Object.keys(cfg[k] ?? {}).length, 0);
        return result(componentProblems(src, cfg), `${n} components`);
      }),
  },
  {
    cls: "TestOTELCollector",
    name: "memory_limiter first, sampling before enrichment, batch last",
    run: (ctx) => withYaml(ctx, COLLECTOR_CONFIG, (src, cfg) => result(orderProblems(src, cfg))),
  },
  {
    cls: "TestOTELCollector",
    name: "local overlay drops only cluster-only parts (and persists sending queues)",
    run: (ctx) =>
      withYaml(
        ctx,
        COLLECTOR_CONFIG,
        (bsrc, base) =>
          withYaml(ctx, COLLECTOR_LOCAL, (osrc, ov) =>
            result(overlayProblems(bsrc, base, osrc, ov), COLLECTOR_LOCAL)),
      ),
  },
  {
    cls: "TestOTELCollector",
    name: "build manifest has exactly the config's components at one pin",
    run: (ctx) =>
      withYaml(
        ctx,
        COLLECTOR_CONFIG,
        (_csrc, cfg) =>
          withYaml(ctx, COLLECTOR_LOCAL, (_osrc, ov) =>
            withYaml(ctx, BUILDER_MANIFEST, (msrc, man) =>
              result(
                builderProblems(
                  msrc,
                  man,
                  `${COLLECTOR_CONFIG} (with ${COLLECTOR_LOCAL})`,
                  mergeConfigs(cfg, ov),
                ),
                `v${man?.dist?.version}`,
              ))),
      ),
  },
  {
    cls: "TestOTELCollector",
    name: "real collector validates the config (and with the local overlay)",
    run: (ctx) =>
      withYaml(ctx, COLLECTOR_CONFIG, async () => {
        const bin = ctx.findTool(COLLECTOR_BINARY);
        if (!bin) {
          return missingTool(ctx, COLLECTOR_CONFIG, COLLECTOR_BINARY, "run 'deno task tools'");
        }
        const base = join(ctx.root, COLLECTOR_CONFIG);
        const local = join(ctx.root, COLLECTOR_LOCAL);
        const problems: Problem[] = [];
        const a = await collectorValidate(bin, [base]);
        if (!a.ok) {
          problems.push({
            file: COLLECTOR_CONFIG,
            message: `${COLLECTOR_BINARY} validate: ${a.message}`,
          });
        }
        if (exists(local)) {
          const b = await collectorValidate(bin, [base, local]);
          if (!b.ok) {
            problems.push({
              file: COLLECTOR_LOCAL,
              message: `${COLLECTOR_BINARY} validate (with overlay): ${b.message}`,
            });
          }
        }
        // `validate` accepts deprecated aliases silently (the warning comes only
        // at start-up); `components` lists canonical names only.
        const comps = await runTool(bin, ["components"]);
        if (comps.code === 0) {
          // deno-lint-ignore no-explicit-any
          const listed: any = parseYaml(comps.output.slice(comps.output.indexOf("buildinfo:")));
          const files = [COLLECTOR_CONFIG, ...(exists(local) ? [COLLECTOR_LOCAL] : [])];
          for (const [file, kind] of files.flatMap((f) => COMPONENT_KINDS.map((k) => [f, k]))) {
            const cfg = loadYaml(ctx, file);
            const names = new Set(
              (listed?.[kind] ?? []).map((c: { name: string }) => c.name),
            );
            for (const id of Object.keys(isMap(cfg.value?.[kind]) ? cfg.value[kind] : {})) {
              if (!names.has(componentType(id))) {
                problems.push({
                  file,
                  line: lineAt(cfg.src, [kind, id]),
                  message: `${kind.slice(0, -1)} type '${
                    componentType(id)
                  }' is not a canonical name in ${COLLECTOR_BINARY} components (a deprecated alias, or not built in)`,
                });
              }
            }
          }
        } else {
          problems.push({
            file: COLLECTOR_CONFIG,
            message: `${COLLECTOR_BINARY} components failed (exit ${comps.code})`,
          });
        }
        return result(
          problems,
          `${COLLECTOR_BINARY} validate: ok; every component type canonical (no deprecated aliases)`,
        );
      }),
  },
];
