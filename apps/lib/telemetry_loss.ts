/**
 * Process-wide counts of telemetry that was not delivered, kept apart from
 * any library so the logger can count without loading the SDK; the apps
 * expose them on /metrics (telemetry_delivery.ts registerTelemetryLossMetrics).
 */
export type Signal = "traces" | "metrics" | "logs";

/** Why an item was dropped; a closed set, so the label cannot grow. */
export type DropReason =
  /** the delivery queue was full (a long outage, or more spans than the queue holds) */
  | "queue_full"
  /** the collector refused the batch with a permanent error (e.g. 400, 413) */
  | "rejected"
  /** still queued when the process shut down and the final flush failed */
  | "shutdown"
  /** stdout was closed (`| head`, a closed terminal): log lines could not be written */
  | "stdout_closed";

const dropped = new Map<string, number>();
const exportFailures = new Map<Signal, number>();

function key(signal: Signal, reason: DropReason): string {
  return `${signal}/${reason}`;
}

/** Every non-zero drop count. */
export function droppedEntries(): { signal: Signal; reason: DropReason; count: number }[] {
  return [...dropped].map(([k, count]) => {
    const [signal, reason] = k.split("/") as [Signal, DropReason];
    return { signal, reason, count };
  });
}

/** Failed export attempts of `signal` so far. */
export function exportFailureCount(signal: Signal): number {
  return exportFailures.get(signal) ?? 0;
}

/** Records `count` items of `signal` that will never be delivered. */
export function countDropped(signal: Signal, reason: DropReason, count: number): void {
  if (count <= 0) return;
  const k = key(signal, reason);
  dropped.set(k, (dropped.get(k) ?? 0) + count);
}

/** Records one failed export attempt of `signal` (retried or not). */
export function countExportFailure(signal: Signal): void {
  exportFailures.set(signal, (exportFailures.get(signal) ?? 0) + 1);
}

/** Items of `signal` dropped so far, for `reason` or for all reasons. */
export function droppedCount(signal: Signal, reason?: DropReason): number {
  let total = 0;
  for (const [k, v] of dropped) {
    if (reason ? k === key(signal, reason) : k.startsWith(signal + "/")) total += v;
  }
  return total;
}
