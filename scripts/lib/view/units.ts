/**
 * Grafana's units, thresholds and colours, as the committed dashboards use
 * them, so a value reads the same here as in Grafana ("250 ms", "99.9%",
 * "12 req/s", "1.5 KiB", "$1.2K"). Unknown units fall back to a plain
 * number: a new unit in a dashboard never breaks the page.
 */

/** Grafana's named colours (its dark theme's values) and the classic palette. */
export const NAMED_COLORS: Record<string, string> = {
  green: "#73BF69",
  "dark-green": "#37872D",
  red: "#F2495C",
  "dark-red": "#C4162A",
  orange: "#FF9830",
  "dark-orange": "#FA6400",
  yellow: "#FADE2A",
  blue: "#5794F2",
  purple: "#B877D9",
  text: "#CCCCDC",
  transparent: "transparent",
};

export const PALETTE = [
  "#7EB26D",
  "#EAB839",
  "#6ED0E0",
  "#EF843C",
  "#E24D42",
  "#1F78C1",
  "#BA43A9",
  "#705DA0",
  "#508642",
  "#CCA300",
  "#447EBC",
  "#C15C17",
];

export function color(name: string | undefined): string {
  if (!name) return NAMED_COLORS.green;
  return NAMED_COLORS[name] ?? name;
}

export interface ThresholdStep {
  color: string;
  value: number | null;
}

export interface Thresholds {
  mode?: string;
  steps?: ThresholdStep[];
}

/** The colour of `value` under absolute thresholds (the last step whose value is <= it). */
export function thresholdColor(
  thresholds: Thresholds | undefined,
  value: number | null,
  min = 0,
  max = 100,
): string {
  const steps = thresholds?.steps ?? [];
  if (steps.length === 0 || value === null || Number.isNaN(value)) return color(steps[0]?.color);
  let c = steps[0].color;
  for (const s of steps) {
    const limit = s.value === null
      ? -Infinity
      : thresholds?.mode === "percentage"
      ? min + (max - min) * s.value / 100
      : s.value;
    if (value >= limit) c = s.color;
  }
  return color(c);
}

const SI = [
  { f: 1e12, s: " T" },
  { f: 1e9, s: " B" },
  { f: 1e6, s: " Mil" },
  { f: 1e3, s: " K" },
];

function fixed(v: number, decimals?: number): string {
  if (decimals !== undefined && decimals !== null) return v.toFixed(decimals);
  const a = Math.abs(v);
  // Grafana picks decimals from the magnitude: 3 significant digits, no trailing zeros.
  const d = a === 0 ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return String(Number(v.toFixed(d)));
}

function short(v: number, decimals?: number): string {
  const a = Math.abs(v);
  for (const { f, s } of SI) if (a >= f) return fixed(v / f, decimals) + s;
  return fixed(v, decimals);
}

function scaled(v: number, base: number, units: string[], decimals?: number): string {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < units.length - 1) {
    x /= base;
    i++;
  }
  return `${fixed(x, decimals)} ${units[i]}`;
}

function seconds(v: number, decimals?: number): string {
  const a = Math.abs(v);
  if (a === 0) return "0 s";
  if (a < 1e-6) return `${fixed(v * 1e9, decimals)} ns`;
  if (a < 1e-3) return `${fixed(v * 1e6, decimals)} µs`;
  if (a < 1) return `${fixed(v * 1e3, decimals)} ms`;
  if (a < 60) return `${fixed(v, decimals)} s`;
  if (a < 3600) return `${fixed(v / 60, decimals)} min`;
  if (a < 86400) return `${fixed(v / 3600, decimals)} hour`;
  return `${fixed(v / 86400, decimals)} day`;
}

const RATE_SUFFIX: Record<string, string> = {
  reqps: "req/s",
  rps: "rd/s",
  wps: "wr/s",
  ops: "ops/s",
  qps: "queries/s",
  iops: "io/s",
  cps: "c/s",
  eps: "evt/s",
  mps: "msg/s",
  opm: "ops/min",
  rpm: "rd/min",
  reqpm: "req/min",
};

/** A value formatted in a Grafana unit; null and NaN are "No data"-style dashes. */
export function formatValue(v: number | null, unit = "short", decimals?: number): string {
  if (v === null || Number.isNaN(v)) return "–";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  switch (unit) {
    case "percentunit":
      return `${fixed(v * 100, decimals)}%`;
    case "percent":
      return `${fixed(v, decimals)}%`;
    case "s":
      return seconds(v, decimals);
    case "ms":
      return seconds(v / 1000, decimals);
    case "µs":
      return seconds(v / 1e6, decimals);
    case "ns":
      return seconds(v / 1e9, decimals);
    case "bytes":
      return scaled(v, 1024, ["B", "KiB", "MiB", "GiB", "TiB"], decimals);
    case "decbytes":
      return scaled(v, 1000, ["B", "kB", "MB", "GB", "TB"], decimals);
    case "bps":
      return scaled(v, 1000, ["b/s", "kb/s", "Mb/s", "Gb/s"], decimals);
    case "Bps":
    case "binBps":
      return scaled(v, 1024, ["B/s", "KiB/s", "MiB/s", "GiB/s"], decimals);
    case "currencyUSD":
      return `${v < 0 ? "-" : ""}$${short(Math.abs(v), decimals).replace(" ", "")}`;
    case "currencyEUR":
      return `${v < 0 ? "-" : ""}€${short(Math.abs(v), decimals).replace(" ", "")}`;
    case "none":
      return fixed(v, decimals);
    case "x":
      // Grafana's "times" (a burn rate of 14.4x).
      return `${fixed(v, decimals)}x`;
    case "short":
    case "":
      return short(v, decimals);
  }
  if (RATE_SUFFIX[unit]) return `${short(v, decimals)} ${RATE_SUFFIX[unit]}`;
  // Grafana's custom units: "suffix:x", "prefix:x".
  if (unit.startsWith("suffix:")) return `${short(v, decimals)}${unit.slice(7)}`;
  if (unit.startsWith("prefix:")) return `${unit.slice(7)}${short(v, decimals)}`;
  return short(v, decimals);
}

/** Units the renderer knows (tests check every unit in the committed dashboards is one). */
export const KNOWN_UNITS = new Set([
  "percentunit",
  "percent",
  "s",
  "ms",
  "µs",
  "ns",
  "bytes",
  "decbytes",
  "bps",
  "Bps",
  "binBps",
  "currencyUSD",
  "currencyEUR",
  "none",
  "x",
  "short",
  "",
  ...Object.keys(RATE_SUFFIX),
]);
