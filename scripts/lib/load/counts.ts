/**
 * The counts a load Worker keeps and the main thread sums (one module both
 * import: the Worker's own module must not be loaded on the main thread).
 */
export interface WorkerCounts {
  /** Highest global request index whose due time came, plus one (0 before the first). */
  scheduled: number;
  sent: number;
  dropped: number;
  late: number;
  maxLagMs: number;
  completed: number;
  errors: number;
  aborted: number;
  inFlight: number;
  /** When the last request was actually sent, ms after the start. */
  lastSendAt: number;
  statusCounts: Record<string, number>;
}

/** Counts before anything happened. */
export function zeroCounts(): WorkerCounts {
  return {
    scheduled: 0,
    sent: 0,
    dropped: 0,
    late: 0,
    maxLagMs: 0,
    completed: 0,
    errors: 0,
    aborted: 0,
    inFlight: 0,
    lastSendAt: 0,
    statusCounts: {},
  };
}
