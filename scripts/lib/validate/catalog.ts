/**
 * The metric catalog (config/metric-catalog.yaml): which metric families our
 * apps emit and which a real cluster's exporters provide. Rules and
 * dashboards may only query these (plus recording-rule outputs).
 */
import { parse } from "yaml";
import { repoPath } from "../paths.ts";

export interface CatalogEntry {
  name: string;
  type: string;
  /** Who provides it in a cluster (metrics) or which program emits it (emitted). */
  exporter?: string;
  source?: string;
  help?: string;
}

export interface MetricCatalog {
  emitted: CatalogEntry[];
  metrics: CatalogEntry[];
}

export const CATALOG_PATH = repoPath("config", "metric-catalog.yaml");

/** Reads and checks the catalog's shape; throws with the file named on a bad entry. */
export function parseCatalog(text: string, file = CATALOG_PATH): MetricCatalog {
  const doc = parse(text) as Partial<MetricCatalog> | null;
  if (!doc || typeof doc !== "object") throw new Error(`${file}: not a YAML mapping`);
  const check = (list: unknown, key: "emitted" | "metrics"): CatalogEntry[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new Error(`${file}: '${key}' must be a list`);
    for (const [i, e] of list.entries()) {
      if (!e || typeof e.name !== "string" || typeof e.type !== "string") {
        throw new Error(`${file}: ${key}[${i}] needs a string name and type`);
      }
      if (key === "metrics" && typeof e.exporter !== "string") {
        throw new Error(`${file}: metrics[${i}] (${e.name}) needs an exporter`);
      }
    }
    return list as CatalogEntry[];
  };
  return { emitted: check(doc.emitted, "emitted"), metrics: check(doc.metrics, "metrics") };
}

export async function loadCatalog(file = CATALOG_PATH): Promise<MetricCatalog> {
  return parseCatalog(await Deno.readTextFile(file), file);
}

/** All known families: emitted by our apps or provided by a cluster exporter. */
export function knownFamilies(catalog: MetricCatalog): Set<string> {
  return new Set([...catalog.emitted, ...catalog.metrics].map((e) => e.name));
}
