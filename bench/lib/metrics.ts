import { randomBytes } from "node:crypto";

/**
 * The token every server the benchmark starts is given (METRICS_TOKEN): `/metrics` is closed without
 * one outside development. New for each run.
 */
export const METRICS_TOKEN = randomBytes(24).toString("base64url");

/** Reads a few values from the server's Prometheus endpoint. */
export async function scrape(baseUrl: string): Promise<{ heapMb: number; eventLoopP99Ms: number; sockets: number; hireStatements: number; hireStatementHires: number }> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`);
  const text = await res.text();
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    heapMb: value("nodejs_heap_size_used_bytes") / 2 ** 20,
    eventLoopP99Ms: value("nodejs_eventloop_lag_p99_seconds") * 1000,
    sockets: value("aiutami_hub_sockets"),
    hireStatements: value("aiutami_hire_statements_total"),
    hireStatementHires: value("aiutami_hire_statement_hires_total"),
  };
}
