import { io } from "socket.io-client";
import type { TcpProxy } from "../../tests/helpers/tcp-proxy";
import { api } from "../lib/api";
import { createAgency } from "../lib/fixtures";
import { scrape } from "../lib/metrics";
import { round } from "../lib/stats";

export type OutageOptions = { baseUrl: string; appUrl: string; redisProxy: TcpProxy; seconds: number };

const waitUntil = async (check: () => boolean, what: string, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/**
 * Redis unreachable for `seconds` (a proxy between the server and Redis drops every connection and
 * refuses new ones) while a client hires every 20 ms and the provider's socket stays open: how much the
 * server's heap grows and how long its event loop stalls meanwhile (the relay backs off instead of
 * looping), and how long after Redis is back the device has every notification. The behaviour (every
 * notification arrives, once, in order; the backoff) is tests/faults/redis-partition.test.ts's.
 */
export async function runOutage(opts: OutageOptions) {
  const agency = await createAgency({ baseUrl: opts.baseUrl, appUrl: opts.appUrl, providers: 1, clients: 1, label: "outage" });
  const provider = agency.providers[0]!;
  const asClient = api(opts.baseUrl, { authorization: `Bearer ${agency.clientTokens[0]}`, "x-tenant-id": agency.tenant.slug });
  const startsAt = new Date(Date.now() + 86_400_000).toISOString();
  let made = 0;
  const hire = () => asClient.mutate("hires.create", { providerId: provider.userId, jobDescription: `Outage job ${made++}`, location: "Milan", startsAt });

  const received = new Set<string>();
  const socket = io(opts.baseUrl, { transports: ["websocket"], auth: { token: provider.token }, reconnectionDelay: 100, reconnectionDelayMax: 500 });
  socket.on("notification", (n: { id: string }) => void received.add(n.id));
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", reject);
    });
    await hire();
    await waitUntil(() => received.size === 1, "the first notification", 10_000);

    const before = await scrape(opts.baseUrl); // also starts the event-loop histogram afresh
    let peakHeapMb = before.heapMb;
    let eventLoopP99Ms = 0;
    // Each scrape reads and resets the event-loop histogram: the figure is the worst second's p99.
    const sampler = setInterval(() => {
      void scrape(opts.baseUrl).then((m) => {
        peakHeapMb = Math.max(peakHeapMb, m.heapMb);
        eventLoopP99Ms = Math.max(eventLoopP99Ms, m.eventLoopP99Ms);
      }, () => {});
    }, 1000);
    opts.redisProxy.block();
    const outageStarted = Date.now();
    while (Date.now() - outageStarted < opts.seconds * 1000) {
      await hire(); // commits need only PostgreSQL
      await new Promise((r) => setTimeout(r, 20));
    }
    const last = await scrape(opts.baseUrl);
    clearInterval(sampler);
    peakHeapMb = Math.max(peakHeapMb, last.heapMb);
    eventLoopP99Ms = Math.max(eventLoopP99Ms, last.eventLoopP99Ms);
    opts.redisProxy.unblock();
    const recovered = performance.now();
    await waitUntil(() => received.size >= made, `all ${made} notifications after the outage`, 120_000);
    const catchUpMs = performance.now() - recovered;
    return {
      outageSeconds: opts.seconds,
      hiresDuringOutage: made - 1,
      heapBeforeMb: round(before.heapMb, 1),
      heapGrowthMb: round(peakHeapMb - before.heapMb, 1),
      eventLoopP99Ms: round(eventLoopP99Ms, 1),
      catchUpMs: Math.round(catchUpMs),
    };
  } finally {
    socket.disconnect();
  }
}
