/** Reads a few values from the server's Prometheus endpoint. */
export async function scrape(baseUrl: string): Promise<{ heapMb: number; eventLoopP99Ms: number; sockets: number; hireStatements: number; hireStatementHires: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    heapMb: value("nodejs_heap_size_used_bytes") / 2 ** 20,
    eventLoopP99Ms: value("nodejs_eventloop_lag_p99_seconds") * 1000,
    sockets: value("aiutami_hub_sockets"),
    hireStatements: value("aiutami_hire_statements_total"),
    hireStatementHires: value("aiutami_hire_statement_hires_total"),
  };
}
