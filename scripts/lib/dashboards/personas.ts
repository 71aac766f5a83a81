/**
 * The four persona dashboards of the chapter's single pane of glass: the
 * same Prometheus data, each audience's questions. Six panels each.
 *
 * App panels query the contract metrics our apps emit; cluster panels query
 * metrics listed with their exporter in config/metric-catalog.yaml
 * (kube-state-metrics, node-exporter, kubelet, trivy-operator, Prometheus'
 * own ALERTS). tests/dashboards_test.ts checks both.
 */
import type { DashboardLink } from "@grafana/schema";
import { readSloConfig } from "../slo/mod.ts";
import {
  bargauge,
  type DashboardSpec,
  datasourceVariable,
  gauge,
  labelVariable,
  stat,
  thresholds,
  timeseries,
} from "./builders.ts";

export interface Persona {
  /** The --persona value and file suffix: dashboards/dashboard-<key>.json */
  key: string;
  focus: string;
  /** The questions the dashboard answers (its description). */
  questions: string[];
  spec: DashboardSpec;
}

/** App metrics are filtered by the `job` and `instance` variables. */
const APP = 'job=~"$job",instance=~"$instance"';
/** Cluster metrics are filtered by the `namespace` variable. */
const NS = 'namespace=~"$namespace"';
const RATE = "$__rate_interval";

const jobVariable = () =>
  labelVariable("job", "Job", "http_requests_total", "Scrape job of the service(s) to show");
const instanceVariable = () =>
  labelVariable(
    "instance",
    "Instance",
    'http_requests_total{job=~"$job"}',
    "Instance(s) of the selected jobs",
  );
const namespaceVariable = (metric: string) =>
  labelVariable("namespace", "Namespace", metric, "Kubernetes namespace(s) to show");

/** Every persona dashboard links to the others (tag `obskit`). */
const personaLinks: DashboardLink[] = [{
  type: "dashboards",
  title: "Other views",
  tags: ["obskit"],
  asDropdown: true,
  includeVars: false,
  keepTime: true,
  icon: "external link",
  targetBlank: false,
  tooltip: "The other persona dashboards on the same data",
}];

/**
 * The SLOs (config/slo.yaml) at generation time: the SLA number, the budget
 * and the page burn rates shown here are the ones the alerts use.
 */
const SLOS = readSloConfig();
const SLA = SLOS.objectives.availability.objective;
const [PAGE_QUICK, PAGE_SLOW] = SLOS.alerting.page;
/** SLO series of the selected jobs (Sloth labels them sloth_service = job). */
const SLO_SEL = 'sloth_service=~"$job"';

const quantile = (q: number, by = "le") =>
  `histogram_quantile(${q}, sum by (${by}) (rate(http_request_duration_seconds_bucket{${APP}}[${RATE}])))`;

function describe(focus: string, questions: string[]): string {
  return `${focus}. Answers: ${questions.join(" ")}`;
}

const developerQuestions = [
  "What's my service doing?",
  "Why is it slow?",
  "What went wrong?",
];
const developer: Persona = {
  key: "developer",
  focus: "Application performance, debugging and error tracing",
  questions: developerQuestions,
  spec: {
    uid: "obskit-developer",
    title: "Developer Dashboard - Application Metrics",
    description: describe(
      "Application performance, debugging and error tracing",
      developerQuestions,
    ),
    tags: ["obskit", "developer", "application", "debug"],
    variables: [datasourceVariable(), jobVariable(), instanceVariable()],
    links: personaLinks,
    panels: [
      timeseries({
        title: "Request latency (p50 / p95 / p99)",
        description: "Why is it slow? Latency percentiles from the request duration histogram.",
        unit: "s",
        queries: [
          { expr: quantile(0.5), legend: "p50" },
          { expr: quantile(0.95), legend: "p95" },
          { expr: quantile(0.99), legend: "p99" },
        ],
      }),
      timeseries({
        title: "Error rate by endpoint",
        description: "What went wrong? Share of responses with a 5xx status, per route.",
        unit: "percentunit",
        min: 0,
        thresholds: thresholds("green", [0.01, "orange"], [0.05, "red"]),
        queries: [{
          expr: `sum by (endpoint) (rate(http_requests_total{${APP},status=~"5.."}[${RATE}]))` +
            ` / sum by (endpoint) (rate(http_requests_total{${APP}}[${RATE}]))`,
          legend: "{{endpoint}}",
        }],
      }),
      timeseries({
        title: "Request count by endpoint and status",
        description: "What's my service doing? Requests per second by route and status code.",
        unit: "reqps",
        stack: true,
        queries: [{
          expr: `sum by (endpoint, status) (rate(http_requests_total{${APP}}[${RATE}]))`,
          legend: "{{endpoint}} {{status}}",
        }],
      }),
      timeseries({
        title: "Response size (p95 and mean)",
        description: "Are payloads growing? Response body size from the size histogram.",
        unit: "bytes",
        queries: [
          {
            expr:
              `histogram_quantile(0.95, sum by (le, endpoint) (rate(http_response_size_bytes_bucket{${APP}}[${RATE}])))`,
            legend: "p95 {{endpoint}}",
          },
          {
            expr: `sum by (endpoint) (rate(http_response_size_bytes_sum{${APP}}[${RATE}]))` +
              ` / sum by (endpoint) (rate(http_response_size_bytes_count{${APP}}[${RATE}]))`,
            legend: "mean {{endpoint}}",
          },
        ],
      }),
      timeseries({
        title: "Database queries (rate and p95 latency)",
        description:
          "Is the database the bottleneck? Queries per second (right axis) and their p95 duration.",
        unit: "s",
        rightAxis: { refId: "B", unit: "qps" },
        queries: [
          {
            expr:
              `histogram_quantile(0.95, sum by (le, operation) (rate(db_query_duration_seconds_bucket{${APP}}[${RATE}])))`,
            legend: "p95 {{operation}}",
          },
          {
            expr: `sum by (operation) (rate(db_query_duration_seconds_count{${APP}}[${RATE}]))`,
            legend: "{{operation}} queries/s",
          },
        ],
      }),
      gauge({
        title: "Cache hit rate",
        description: "Is the cache doing its job? Hits as a share of all cache lookups.",
        unit: "percentunit",
        min: 0,
        max: 1,
        thresholds: thresholds("red", [0.5, "orange"], [0.8, "green"]),
        queries: [{
          expr: `sum(rate(cache_requests_total{${APP},result="hit"}[${RATE}]))` +
            ` / sum(rate(cache_requests_total{${APP}}[${RATE}]))`,
          legend: "hit rate",
        }],
      }),
    ],
  },
};

const sreQuestions = [
  "Is the platform healthy?",
  "Are we meeting SLAs?",
  "What's failing?",
];
const sre: Persona = {
  key: "sre",
  focus: "Infrastructure health, reliability and resource utilisation",
  questions: sreQuestions,
  spec: {
    uid: "obskit-sre",
    title: "SRE Dashboard - Platform Health",
    description: describe(
      "Infrastructure health, reliability and resource utilisation",
      sreQuestions,
    ),
    tags: ["obskit", "sre", "infrastructure", "reliability"],
    variables: [
      datasourceVariable(),
      namespaceVariable("kube_pod_info"),
      jobVariable(),
      instanceVariable(),
    ],
    links: personaLinks,
    panels: [
      stat({
        title: "Pod availability",
        description:
          "Is the platform healthy? Ready pods as a share of pods that should be running (kube-state-metrics).",
        unit: "percentunit",
        decimals: 1,
        graph: true,
        thresholds: thresholds("red", [0.9, "orange"], [0.99, "green"]),
        queries: [{
          expr: `sum(kube_pod_status_ready{${NS},condition="true"})` +
            ` / sum(kube_pod_status_phase{${NS},phase=~"Pending|Running|Unknown"})`,
          legend: "ready",
        }],
      }),
      timeseries({
        title: "Node utilisation (CPU and memory)",
        description:
          "Are we running out of capacity? Busy CPU and used memory per node (node-exporter).",
        unit: "percentunit",
        min: 0,
        max: 1,
        thresholds: thresholds("green", [0.8, "orange"], [0.9, "red"]),
        queries: [
          {
            expr: `1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[${RATE}]))`,
            legend: "cpu {{instance}}",
          },
          {
            expr: "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
            legend: "memory {{instance}}",
          },
        ],
      }),
      timeseries({
        title: "Error rate by service",
        description: "What's failing? Share of 5xx responses per scrape job.",
        unit: "percentunit",
        min: 0,
        thresholds: thresholds("green", [0.01, "orange"], [0.05, "red"]),
        queries: [{
          expr: `sum by (job) (rate(http_requests_total{${APP},status=~"5.."}[${RATE}]))` +
            ` / sum by (job) (rate(http_requests_total{${APP}}[${RATE}]))`,
          legend: "{{job}}",
        }],
      }),
      stat({
        title: `SLA compliance (${SLA} % target)`,
        description:
          `Are we meeting SLAs? Share of requests without a 5xx over the dashboard's time range; the target is ${SLA} % (config/slo.yaml).`,
        unit: "percentunit",
        decimals: 3,
        instant: true,
        thresholds: thresholds("red", [SLA / 100, "green"]),
        queries: [{
          expr:
            `1 - ((sum(increase(http_requests_total{${APP},status=~"5.."}[$__range])) or vector(0))` +
            ` / sum(increase(http_requests_total{${APP}}[$__range])))`,
          legend: "compliance",
        }],
      }),
      bargauge({
        title: `Error budget remaining (${SLOS.period})`,
        description:
          `How much failure can we still afford? Share of each SLO's ${SLOS.period} error budget left (Sloth's slo:period_error_budget_remaining:ratio); below zero the SLO is broken.`,
        unit: "percentunit",
        max: 1,
        thresholds: thresholds("red", [0, "orange"], [0.25, "green"]),
        queries: [{
          expr: `slo:period_error_budget_remaining:ratio{${SLO_SEL}}`,
          legend: "{{sloth_service}} {{sloth_slo}}",
        }],
      }),
      timeseries({
        title: "Error budget burn rate",
        description:
          `How fast is the budget going? Error ratio over the budget (1 = exactly the whole budget in ${SLOS.period}) over ${PAGE_QUICK.short} and ${PAGE_QUICK.long}; the page alert fires above ${PAGE_SLOW.burnRate}x over ${PAGE_SLOW.long} and ${PAGE_SLOW.short}, or ${PAGE_QUICK.burnRate}x over ${PAGE_QUICK.long} and ${PAGE_QUICK.short}.`,
        unit: "x",
        min: 0,
        thresholds: thresholds(
          "green",
          [PAGE_SLOW.burnRate, "orange"],
          [PAGE_QUICK.burnRate, "red"],
        ),
        queries: [
          {
            expr: `slo:current_burn_rate:ratio{${SLO_SEL}}`,
            legend: `{{sloth_service}} {{sloth_slo}} (${PAGE_QUICK.short})`,
          },
          {
            expr: `slo:sli_error:ratio_rate${PAGE_QUICK.long}{${SLO_SEL}}` +
              ` / on (sloth_id) group_left slo:error_budget:ratio{${SLO_SEL}}`,
            legend: `{{sloth_service}} {{sloth_slo}} (${PAGE_QUICK.long})`,
          },
        ],
      }),
      timeseries({
        title: "Pod restarts (last hour)",
        description: "What's crash-looping? Container restarts per pod over the last hour.",
        unit: "short",
        bars: true,
        thresholds: thresholds("green", [1, "orange"], [5, "red"]),
        queries: [{
          expr:
            `sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{${NS}}[1h])) > 0`,
          legend: "{{namespace}}/{{pod}}",
        }],
      }),
      bargauge({
        title: "Persistent volume usage",
        description:
          "Which volume fills up next? Used share of each persistent volume claim (kubelet).",
        unit: "percentunit",
        min: 0,
        max: 1,
        thresholds: thresholds("green", [0.8, "orange"], [0.9, "red"]),
        queries: [{
          expr: `max by (namespace, persistentvolumeclaim) (` +
            `kubelet_volume_stats_used_bytes{${NS}} / kubelet_volume_stats_capacity_bytes{${NS}})`,
          legend: "{{namespace}}/{{persistentvolumeclaim}}",
        }],
      }),
    ],
  },
};

const managementQuestions = [
  "Are we meeting our commitments?",
  "What's the business impact?",
];
const CRITICAL_FIRING = 'ALERTS{alertstate="firing",severity="critical"}';
const management: Persona = {
  key: "management",
  focus: "Business metrics, SLA compliance and user impact",
  questions: managementQuestions,
  spec: {
    uid: "obskit-management",
    title: "Management Dashboard - Business Impact",
    description: describe(
      "Business metrics, SLA compliance and user impact",
      managementQuestions,
    ),
    tags: ["obskit", "management", "business", "sla"],
    variables: [datasourceVariable(), jobVariable(), instanceVariable()],
    links: personaLinks,
    panels: [
      stat({
        title: `Service availability (${SLA} % SLA)`,
        description:
          `Are we meeting our commitments? Share of requests served without a 5xx over the time range; the SLA is ${SLA} % (config/slo.yaml).`,
        unit: "percentunit",
        decimals: 2,
        instant: true,
        thresholds: thresholds("red", [SLA / 100, "green"]),
        queries: [{
          expr:
            `1 - ((sum(increase(http_requests_total{${APP},status=~"5.."}[$__range])) or vector(0))` +
            ` / sum(increase(http_requests_total{${APP}}[$__range])))`,
          legend: "availability",
        }],
      }),
      stat({
        title: `Error budget left (${SLOS.period})`,
        description:
          `Can we still take risks (releases, experiments)? The smallest share of any SLO's ${SLOS.period} error budget left; below zero a commitment is broken.`,
        unit: "percentunit",
        decimals: 1,
        graph: true,
        thresholds: thresholds("red", [0, "orange"], [0.25, "green"]),
        queries: [{
          expr: `min(slo:period_error_budget_remaining:ratio{${SLO_SEL}})`,
          legend: "budget left",
        }],
      }),
      stat({
        title: "MTTR (critical alerts)",
        description:
          "How fast do we recover? Mean time a critical alert stayed firing over the time range: firing minutes / distinct critical alerts (Prometheus' ALERTS series, sampled each minute).",
        unit: "s",
        instant: true,
        thresholds: thresholds("green", [900, "orange"], [3600, "red"]),
        queries: [{
          expr: `sum(count_over_time(${CRITICAL_FIRING}[$__range:1m])) * 60` +
            ` / count(count_over_time(${CRITICAL_FIRING}[$__range:1m]))`,
          legend: "MTTR",
        }],
      }),
      timeseries({
        title: "Request volume",
        description: "How much are customers using us? Requests per second per service.",
        unit: "reqps",
        stack: true,
        queries: [{
          expr: `sum by (job) (rate(http_requests_total{${APP}}[${RATE}]))`,
          legend: "{{job}}",
        }],
      }),
      stat({
        title: "Critical incidents (firing now)",
        description: "Is anything on fire? Critical alerts firing right now.",
        unit: "short",
        graph: true,
        thresholds: thresholds("green", [1, "red"]),
        queries: [{ expr: `count(${CRITICAL_FIRING}) or vector(0)`, legend: "critical" }],
      }),
      stat({
        title: "Revenue impact",
        description:
          "What's the business impact? Order value completed and lost to failed requests over the time range.",
        unit: "currencyUSD",
        decimals: 0,
        instant: true,
        thresholds: thresholds("blue"),
        queries: [
          {
            expr: `sum(increase(app_revenue_dollars_total{${APP},outcome="completed"}[$__range]))`,
            legend: "completed",
          },
          {
            expr: `sum(increase(app_revenue_dollars_total{${APP},outcome="lost"}[$__range]))`,
            legend: "lost",
          },
        ],
      }),
      timeseries({
        title: "Customer issues",
        description:
          "How many customers met a problem? Requests per minute that failed (5xx) or were slow (over 1 s).",
        unit: "short",
        bars: true,
        stack: true,
        queries: [{
          expr: `sum by (kind) (rate(app_customer_issues_total{${APP}}[${RATE}])) * 60`,
          legend: "{{kind}} per minute",
        }],
      }),
    ],
  },
};

const securityQuestions = [
  "Are we secure?",
  "What vulnerabilities exist?",
  "Is there suspicious activity?",
];
const security: Persona = {
  key: "security",
  focus: "CVE tracking, compliance and unauthorised access",
  questions: securityQuestions,
  spec: {
    uid: "obskit-security",
    title: "Security Dashboard - CVE & Compliance",
    description: describe(
      "CVE tracking, compliance and unauthorised access",
      securityQuestions,
    ),
    tags: ["obskit", "security", "compliance", "cve"],
    variables: [
      datasourceVariable(),
      namespaceVariable("trivy_image_vulnerabilities"),
      jobVariable(),
      instanceVariable(),
    ],
    links: personaLinks,
    panels: [
      stat({
        title: "Critical CVEs",
        description:
          "What vulnerabilities exist? Critical vulnerabilities in scanned images (trivy-operator).",
        unit: "short",
        graph: true,
        thresholds: thresholds("green", [1, "red"]),
        queries: [{
          expr: `sum(trivy_image_vulnerabilities{${NS},severity="Critical"}) or vector(0)`,
          legend: "critical",
        }],
      }),
      bargauge({
        title: "Vulnerability scans by severity",
        description:
          "How exposed are we? Findings of the latest image scans, per severity (trivy-operator).",
        unit: "short",
        thresholds: thresholds("green", [1, "orange"], [10, "red"]),
        queries: [{
          expr: `sum by (severity) (trivy_image_vulnerabilities{${NS}})`,
          legend: "{{severity}}",
        }],
      }),
      timeseries({
        title: "Unauthorised attempts (401)",
        description:
          "Is someone guessing credentials? Requests rejected as unauthenticated, per route.",
        unit: "reqps",
        bars: true,
        thresholds: thresholds("green", [1, "red"]),
        queries: [{
          expr: `sum by (endpoint) (rate(http_requests_total{${APP},status="401"}[${RATE}]))`,
          legend: "401 {{endpoint}}",
        }],
      }),
      timeseries({
        title: "Suspicious activity (403 / 404)",
        description:
          "Is there suspicious activity? Forbidden requests and probes for routes that do not exist.",
        unit: "reqps",
        stack: true,
        queries: [{
          expr:
            `sum by (status, endpoint) (rate(http_requests_total{${APP},status=~"403|404"}[${RATE}]))`,
          legend: "{{status}} {{endpoint}}",
        }],
      }),
      stat({
        title: "Compliance status",
        description:
          "Are we compliant? Share of passing checks in the cluster compliance reports (CIS, NSA... from trivy-operator).",
        unit: "percentunit",
        decimals: 1,
        thresholds: thresholds("red", [0.8, "orange"], [0.95, "green"]),
        queries: [{
          expr: `sum(trivy_cluster_compliance{status="Pass"}) / sum(trivy_cluster_compliance)`,
          legend: "passing",
        }],
      }),
      gauge({
        title: "Image scan coverage",
        description:
          "Is anything unscanned? Distinct containers per namespace that have a vulnerability report, as a share of running containers (approximate: matched by namespace and container name).",
        unit: "percentunit",
        min: 0,
        max: 1,
        thresholds: thresholds("red", [0.8, "orange"], [0.95, "green"]),
        queries: [{
          expr: `count(count by (namespace, container_name) (trivy_image_vulnerabilities{${NS}}))` +
            ` / count(count by (namespace, container) (kube_pod_container_info{${NS}}))`,
          legend: "coverage",
        }],
      }),
    ],
  },
};

/** In the chapter's order. */
export const PERSONAS: readonly Persona[] = [developer, sre, management, security];

export const PERSONA_KEYS: readonly string[] = PERSONAS.map((p) => p.key);

export function personaByKey(key: string): Persona | undefined {
  return PERSONAS.find((p) => p.key === key);
}
