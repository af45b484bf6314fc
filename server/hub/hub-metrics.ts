import type { Metrics } from "../metrics";

/** What the hub counts (the series are defined in server/metrics.ts). */
export type HubMetrics = {
  /** Stream entries taken, by how: carried by a ring, or read from the stream. */
  entries(via: "ring" | "read", count: number): void;
  /** One notification emitted to a socket. */
  sent(): void;
};

export function createHubMetrics(metrics: Metrics): HubMetrics {
  // The counter's two series, looked up once rather than by label on every wake.
  const entriesVia = { ring: metrics.hubEntries.labels({ via: "ring" }), read: metrics.hubEntries.labels({ via: "read" }) };
  return {
    entries: (via, count) => entriesVia[via].inc(count),
    sent: () => metrics.notificationsSent.inc(),
  };
}
