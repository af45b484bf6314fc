import { readdirSync, readFileSync } from "node:fs";

const TICK = 100; // USER_HZ on Linux

/** CPU seconds used so far by every process, grouped by what it is (postgres, redis-server, the server …), user and system time apart. */
export function cpuByProcess(label: (pid: number, comm: string) => string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const key = label(Number(entry), comm);
      totals.set(`${key} user`, (totals.get(`${key} user`) ?? 0) + Number(fields[11]) / TICK);
      totals.set(`${key} system`, (totals.get(`${key} system`) ?? 0) + Number(fields[12]) / TICK);
    } catch {
      // the process ended while we looked
    }
  }
  return totals;
}

/** CPU seconds per group between two readings, largest first, for the groups that used any. */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  return Object.fromEntries(
    [...after]
      .map(([k, v]) => [k, Math.round((v - (before.get(k) ?? 0)) * 100) / 100] as const)
      .filter(([, v]) => v > 0.05)
      .sort((a, b) => b[1] - a[1]),
  );
}
