import { fork } from "node:child_process";
import { join } from "node:path";
import { Redis } from "ioredis";
import { rssMb, type BenchServer } from "../../tests/helpers/spawn-server";
import { startWorker, type Worker } from "../lib/child";
import { createAgency } from "../lib/fixtures";
import { scrape } from "../lib/metrics";
import { round } from "../lib/stats";

const PER_WORKER = 2500;

async function countConnections(redis: Redis, namePrefix: string): Promise<number> {
  const list = (await redis.client("LIST")) as string;
  return list.split("\n").filter((line) => line.includes(` name=${namePrefix}`)).length;
}

async function usedMemoryMb(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1] ?? 0) / 2 ** 20;
}

export type CapacityOptions = { server: BenchServer; appUrl: string; redisUrl: string; sockets: number; step: number; naiveUsers: number };

/** Scenario 2: idle authenticated sockets ramped up to `sockets`, then the naive hub for comparison. */
export async function runCapacity(opts: CapacityOptions) {
  const agency = await createAgency({ baseUrl: opts.server.baseUrl, appUrl: opts.appUrl, providers: opts.sockets, clients: 1, label: "capacity" });
  const redis = new Redis(opts.redisUrl);
  const ours = `aiutami-${opts.server.pid}-`;
  const workers: Worker[] = [];
  const samples: Array<{ sockets: number; rssMb: number; heapMb: number; eventLoopP99Ms: number; redisConnections: number }> = [];
  try {
    await scrape(opts.server.baseUrl);
    const rss0 = rssMb(opts.server.pid);
    const heap0 = (await scrape(opts.server.baseUrl)).heapMb;
    const tokens = agency.providers.map((p) => ({ token: p.token }));
    let connected = 0;
    let worker: Worker | undefined;
    let inWorker = 0;
    while (connected < tokens.length) {
      const chunk = tokens.slice(connected, connected + Math.min(opts.step, PER_WORKER - inWorker));
      if (!worker || inWorker >= PER_WORKER) {
        worker = startWorker("workers/sockets.ts");
        workers.push(worker);
        inWorker = 0;
      }
      const res = await worker.request<{ connected: number; failed: number }>({ type: "connect", baseUrl: opts.server.baseUrl, mode: "aiutami", auths: chunk, parallel: 50 }, "connected");
      if (res.failed) throw new Error(`${res.failed} sockets could not connect at ${connected}`);
      connected += chunk.length;
      inWorker += chunk.length;
      if (connected % opts.step === 0 || connected === tokens.length) {
        await new Promise((r) => setTimeout(r, 1000));
        const m = await scrape(opts.server.baseUrl);
        const sample = { sockets: m.sockets, rssMb: round(rssMb(opts.server.pid), 1), heapMb: round(m.heapMb, 1), eventLoopP99Ms: round(m.eventLoopP99Ms, 1), redisConnections: await countConnections(redis, ours) };
        samples.push(sample);
        console.log(`  capacity: ${sample.sockets} sockets, RSS ${sample.rssMb} MB, heap ${sample.heapMb} MB, event loop p99 ${sample.eventLoopP99Ms} ms, Redis connections ${sample.redisConnections}`);
      }
    }
    const last = samples.at(-1)!;

    // The naive hub, one blocking connection per user, for comparison.
    const before = await usedMemoryMb(redis);
    const naive = fork(join(import.meta.dirname, "../baselines/naive-hub.ts"), [opts.redisUrl, `naive-${process.pid}`, String(opts.naiveUsers)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    await new Promise<void>((resolve) => naive.once("message", () => resolve()));
    const naiveConnections = await countConnections(redis, `naive-${process.pid}-`);
    const naiveRss = rssMb(naive.pid!);
    const naiveRedisMb = (await usedMemoryMb(redis)) - before;
    naive.send({ type: "close" });
    await new Promise((r) => naive.once("exit", r));

    return {
      sockets: last.sockets,
      rssMb: last.rssMb,
      heapMb: last.heapMb,
      eventLoopP99Ms: last.eventLoopP99Ms,
      redisConnections: last.redisConnections,
      rssKbPerSocket: round(((last.rssMb - rss0) * 1024) / last.sockets, 1),
      heapKbPerSocket: round(((last.heapMb - heap0) * 1024) / last.sockets, 1),
      baselineRssMb: round(rss0, 1),
      naiveUsers: opts.naiveUsers,
      naiveRedisConnections: naiveConnections,
      naiveProcessRssMb: round(naiveRss, 1),
      naiveRedisMemoryMb: round(naiveRedisMb, 1),
      samples,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    redis.disconnect();
  }
}
