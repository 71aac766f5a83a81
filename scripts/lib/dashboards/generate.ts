/**
 * Renders persona dashboards to JSON and describes them. The committed files
 * in dashboards/ are exactly `renderDashboard(persona)` (a test checks).
 */
import type { Dashboard } from "@grafana/schema";
import { join } from "node:path";
import { dashboard } from "./builders.ts";
import { type Persona, PERSONA_KEYS, personaByKey, PERSONAS } from "./personas.ts";
import { UsageError } from "../cli.ts";

export { PERSONA_KEYS, PERSONAS };

export function buildDashboard(persona: Persona): Dashboard {
  return dashboard(persona.spec);
}

/** The file content: 2-space JSON with a final newline. */
export function renderDashboard(persona: Persona): string {
  return JSON.stringify(buildDashboard(persona), null, 2) + "\n";
}

export function dashboardFileName(persona: Persona): string {
  return `dashboard-${persona.key}.json`;
}

/** The personas a --persona value selects (all when absent); unknown → UsageError listing valid ones. */
export function selectPersonas(key: string | undefined): Persona[] {
  if (key === undefined || key === "all") return [...PERSONAS];
  const p = personaByKey(key);
  if (!p) {
    throw new UsageError(
      `unknown persona '${key}': valid personas are ${PERSONA_KEYS.join(", ")} (or all)`,
    );
  }
  return [p];
}

/** The per-file summary, as the chapter shows it. */
export function summary(persona: Persona, path: string): string {
  const d = buildDashboard(persona);
  return [
    `Generated: ${path}`,
    `  ${d.title}`,
    `  - Persona: ${persona.key}`,
    `  - UID: ${d.uid}`,
    `  - Tags: ${(d.tags ?? []).join(", ")}`,
    `  - Panels: ${d.panels?.length ?? 0}`,
    `  - Data source: $datasource (any Prometheus data source, chosen in Grafana)`,
  ].join("\n");
}

/** Writes the selected dashboards into `dir`; returns the paths written. */
export async function writeDashboards(personas: Persona[], dir: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const p of personas) {
    const path = join(dir, dashboardFileName(p));
    await Deno.writeTextFile(path, renderDashboard(p));
    written.push(path);
  }
  return written;
}
