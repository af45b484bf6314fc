import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The process's Prometheus registry: Node's defaults (heap, event-loop delay, GC) plus the product's own. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const calls = new Histogram({
    name: "aiutami_trpc_call_duration_seconds",
    help: "tRPC calls by procedure and outcome",
    labelNames: ["path", "type", "code"] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const loginPasswordChecks = new Counter({ name: "aiutami_login_password_checks_total", help: "Passwords checked by log-in (right, wrong or for an unknown email): the throttle bounds them", registers: [registry] });
  const notificationsSent = new Counter({ name: "aiutami_hub_notifications_emitted_total", help: "Notifications emitted to sockets", registers: [registry] });
  const hubEntries = new Counter({
    name: "aiutami_hub_stream_entries_total",
    help: "Stream entries the hub took, by how: carried by the doorbell's ring, or read from the user's stream",
    labelNames: ["via"] as const,
    registers: [registry],
  });
  const hubGauges = (stats: () => { sockets: number; users: number; streams: number }) => {
    new Gauge({ name: "aiutami_hub_sockets", help: "Connected sockets", registers: [registry], collect() { this.set(stats().sockets); } });
    new Gauge({ name: "aiutami_hub_users", help: "Users with a socket on this process", registers: [registry], collect() { this.set(stats().users); } });
    new Gauge({ name: "aiutami_hub_streams", help: "User streams read by this process", registers: [registry], collect() { this.set(stats().streams); } });
  };
  /** The hire writer's group commit: hires per statement is the ratio of the two counters. */
  const hireWriterCounters = (stats: { statements: number; hires: number }) => {
    new Counter({ name: "aiutami_hire_statements_total", help: "Statements that wrote hires (one hire, or a group commit of several)", registers: [registry], collect() { this.reset(); this.inc(stats.statements); } });
    new Counter({ name: "aiutami_hire_statement_hires_total", help: "Hires sent in those statements", registers: [registry], collect() { this.reset(); this.inc(stats.hires); } });
  };
  return { registry, calls, loginPasswordChecks, notificationsSent, hubEntries, hubGauges, hireWriterCounters };
}

export type Metrics = ReturnType<typeof createMetrics>;
