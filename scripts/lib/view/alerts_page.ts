/**
 * Alerts: every rule Prometheus evaluates with its state (inactive, pending,
 * firing) and current value, and what Alertmanager received with the
 * receiver (team route) it went to. Each service failing is named on its own.
 */
import { esc, page } from "./html.ts";
import {
  alertmanagerAlerts,
  promRules,
  type ServiceName,
  Unreachable,
  type Upstreams,
} from "./upstream.ts";
import type { Json } from "./dashboard.ts";

export interface AlertsResult {
  html: string;
  down: ServiceName[];
}

function labelsText(labels: Record<string, string>, skip: string[] = []): string {
  return Object.entries(labels ?? {}).filter(([k]) => !skip.includes(k)).map(([k, v]) =>
    `${k}=${v}`
  ).join(", ");
}

function fmt(v: string | undefined): string {
  if (v === undefined) return "";
  const n = Number(v);
  return Number.isFinite(n) ? String(Number(n.toPrecision(4))) : v;
}

export async function renderAlerts(up: Upstreams): Promise<AlertsResult> {
  const down: string[] = [];
  const downNames: ServiceName[] = [];
  let groups: Json[] = [];
  let received: Json[] = [];
  const [rules, am] = await Promise.allSettled([
    promRules(up.prometheus),
    alertmanagerAlerts(up.alertmanager),
  ]);
  if (rules.status === "fulfilled") groups = rules.value;
  else if (rules.reason instanceof Unreachable) {
    down.push(rules.reason.message);
    downNames.push("Prometheus");
  } else throw rules.reason;
  if (am.status === "fulfilled") received = am.value;
  else if (am.reason instanceof Unreachable) {
    down.push(am.reason.message);
    downNames.push("Alertmanager");
  } else throw am.reason;
  const order: Record<string, number> = { firing: 0, pending: 1, inactive: 2 };
  const alerting = groups.flatMap((g) =>
    (g.rules ?? []).filter((r: Json) => r.type === "alerting").map((r: Json) => ({ g, r }))
  ).sort((a, b) =>
    (order[a.r.state] ?? 3) - (order[b.r.state] ?? 3) || a.r.name.localeCompare(b.r.name)
  );
  const ruleRows = alerting.map(({ g, r }) => {
    const alerts: Json[] = r.alerts ?? [];
    const values = alerts.map((a) =>
      `${esc(fmt(a.value))}${a.labels?.instance ? ` (${esc(a.labels.instance)})` : ""}`
    ).join("<br>");
    return `<tr data-rule="${esc(r.name)}" data-state="${esc(r.state)}"><td class="state-${
      esc(r.state)
    }">${esc(r.state)}</td><td>${esc(r.name)}</td><td>${esc(r.labels?.severity ?? "")}</td><td>${
      esc(r.labels?.team ?? "")
    }</td><td>${values || "–"}</td><td>${
      // An active alert's summary is rendered by Prometheus; the rule's is a template.
      esc(
        String(alerts[0]?.annotations?.summary ?? r.annotations?.summary ?? ""),
      )}</td><td class="meta">${esc(g.name)}</td></tr>`;
  }).join("");
  const amRows = received.map((a) =>
    `<tr><td class="state-${a.status?.state === "active" ? "firing" : "inactive"}">${
      esc(String(a.status?.state ?? ""))
    }</td><td>${esc(a.labels?.alertname ?? "")}</td><td>${
      esc((a.receivers ?? []).map((r: Json) => r.name).join(", "))
    }</td><td>${esc(labelsText(a.labels, ["alertname"]))}</td><td>${
      esc(new Date(a.startsAt).toLocaleString())
    }</td></tr>`
  ).join("");
  const counts = ["firing", "pending", "inactive"].map((s) =>
    `${alerting.filter((x) => x.r.state === s).length} ${s}`
  ).join(" · ");
  const body = `<h1>Alerts</h1>
<h2>Rules in Prometheus (${esc(counts)})</h2>
${
    downNames.includes("Prometheus")
      ? "<p>Prometheus does not answer.</p>"
      : `<table class="list" id="rules"><tr><th>state</th><th>alert</th><th>severity</th><th>team</th><th>value</th><th>summary</th><th>group</th></tr>${ruleRows}</table>`
  }
<h2>Received by Alertmanager (${received.length})</h2>
${
    downNames.includes("Alertmanager")
      ? "<p>Alertmanager does not answer.</p>"
      : received.length
      ? `<table class="list" id="received"><tr><th>state</th><th>alert</th><th>receiver</th><th>labels</th><th>since</th></tr>${amRows}</table>`
      : "<p>Nothing received: no rule is firing.</p>"
  }`;
  return {
    html: page(body, { title: "Alerts", section: "alerts", refreshSeconds: 15, down }),
    down: downNames,
  };
}
