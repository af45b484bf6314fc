/**
 * `npm run bench`: the project's benchmark. Loopback only, every loop bounded; prints a table and
 * writes bench/results/<timestamp>.json with the machine, versions, parameters and figures.
 *
 *   npm run bench -- --scenario search,photos --providers 100000 --queries 500
 *   npm run bench -- --scenario login --login-attempts 5          (a short run of one scenario)
 *
 * Figures that depend on the machine's speed and load (latencies, memory, event-loop delay, the log-in
 * timing of unknown emails) are measured here, never asserted in tests: the tests check behaviour.
 * BENCH_DATABASE_NAME names the database it recreates (default aiutami_bench).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import postgres from "postgres";
import { migratePostgresDatabase } from "../db/migrate";
import { loadConfig } from "../server/config";
import { runCapacity } from "./scenarios/capacity";
import { runIdempotency } from "./scenarios/idempotency";
import { runLive } from "./scenarios/live";
import { runLogin } from "./scenarios/login";
import { runOutage } from "./scenarios/outage";
import { runPhotos } from "./scenarios/photos";
import { runSearch } from "./scenarios/search";
import { SERVER_NODE_FLAGS, startServer } from "../tests/helpers/spawn-server";
import { TcpProxy } from "../tests/helpers/tcp-proxy";
import { startWorker } from "./lib/child";
import { METRICS_TOKEN } from "./lib/metrics";

const ROOT = join(import.meta.dirname, "..");
const SCENARIOS = ["delivery", "capacity", "search", "photos", "login", "outage", "idempotency"] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: SCENARIOS.join(",") },
    providers: { type: "string", default: "100000" },
    sockets: { type: "string", default: "2000" },
    rate: { type: "string", default: "200" },
    duration: { type: "string", default: "30" },
    "capacity-sockets": { type: "string", default: "10000" },
    "naive-users": { type: "string", default: "2000" },
    "throughput-rates": { type: "string", default: "100,200,300,400,500,600,700,800,900,1000,1100,1200,1300,1400" },
    "throughput-duration": { type: "string", default: "8" },
    "cpu-prof": { type: "boolean", default: false },
    queries: { type: "string", default: "500" },
    "photo-sequential": { type: "string", default: "10" },
    "photo-concurrent": { type: "string", default: "10" },
    "login-attempts": { type: "string", default: "30" },
    "outage-seconds": { type: "string", default: "5" },
    "idempotency-hires": { type: "string", default: "2000" },
  },
});
const bounded = (name: string, value: string, max: number) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be a whole number from 1 to ${max}`);
  return n;
};
const scenarios = values.scenario!.split(",").map((s) => s.trim()) as Scenario[];
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}"; known: ${SCENARIOS.join(", ")}`);
const params = {
  scenarios,
  providers: bounded("providers", values.providers!, 1_000_000),
  sockets: bounded("sockets", values.sockets!, 15_000),
  rate: bounded("rate", values.rate!, 5000),
  duration: bounded("duration", values.duration!, 120),
  capacitySockets: bounded("capacity-sockets", values["capacity-sockets"]!, 15_000),
  naiveUsers: bounded("naive-users", values["naive-users"]!, 8000),
  throughputRates: values["throughput-rates"]!.split(",").map((r) => bounded("throughput-rates", r.trim(), 5000)),
  throughputDuration: bounded("throughput-duration", values["throughput-duration"]!, 60),
  queries: bounded("queries", values.queries!, 100_000),
  photoSequential: bounded("photo-sequential", values["photo-sequential"]!, 100),
  photoConcurrent: bounded("photo-concurrent", values["photo-concurrent"]!, 50),
  loginAttempts: bounded("login-attempts", values["login-attempts"]!, 1000),
  outageSeconds: bounded("outage-seconds", values["outage-seconds"]!, 60),
  idempotencyHires: bounded("idempotency-hires", values["idempotency-hires"]!, 20_000),
};

const admin = process.env.BENCH_DATABASE_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const dbName = process.env.BENCH_DATABASE_NAME ?? "aiutami_bench";
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(dbName)) throw new Error("BENCH_DATABASE_NAME: lower-case letters, digits and _ only");

async function freshDatabase(): Promise<string> {
  const sql = postgres(admin, { max: 1, onnotice: () => {} });
  await sql.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await sql.unsafe(`CREATE DATABASE ${dbName}`);
  await sql.end();
  const url = new URL(admin);
  url.pathname = `/${dbName}`;
  await migratePostgresDatabase(url.toString());
  return url.toString();
}

async function machine() {
  const sql = postgres(admin, { max: 1, onnotice: () => {} });
  const [pg] = await sql`select version()`;
  await sql.end();
  const redis = new Redis(redisUrl);
  const info = await redis.info("server");
  redis.disconnect();
  const pkg = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
  const version = (name: string) => pkg.packages[`node_modules/${name}`]?.version;
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    postgres: String(pg!.version).split(" on ")[0],
    redis: /redis_version:(\S+)/.exec(info)?.[1],
    versions: Object.fromEntries(["@trpc/server", "drizzle-orm", "postgres", "ioredis", "socket.io", "sharp", "zod"].map((n) => [n, version(n)])),
  };
}

/** The media store for every scenario: s3rver in its own process, on loopback. */
async function startS3() {
  const directory = mkdtempSync(join(os.tmpdir(), "aiutami-bench-s3-"));
  const bucket = "aiutami-bench-media";
  const worker = startWorker("workers/s3.ts");
  const { port } = await worker.request<{ port: number }>({ type: "start", directory, bucket }, "ready");
  return {
    env: { S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_BUCKET: bucket, S3_REGION: "us-east-1", S3_ACCESS_KEY_ID: "S3RVER", S3_SECRET_ACCESS_KEY: "S3RVER" },
    stop: async () => {
      await worker.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

async function main() {
  const startedAt = new Date();
  const ownerUrl = await freshDatabase();
  const { database } = loadConfig({ DATABASE_URL: ownerUrl });
  if (database.kind !== "postgres") throw new Error("the benchmark runs on PostgreSQL");
  const appUrl = database.appUrl;
  // --cpu-prof: each server writes a V8 CPU profile into bench/results/profiles/ when it stops.
  const nodeArgs = values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${join(ROOT, "bench/results/profiles")}`] : [];
  // Media go to an S3-protocol server of their own, as in production, not the server's embedded one.
  const s3 = await startS3();
  // Each scenario gets a freshly started server, so none inherits another's heap, sockets or caches.
  const withServer = async <T>(fn: (server: Awaited<ReturnType<typeof startServer>>) => Promise<T>, env: Record<string, string> = {}): Promise<T> => {
    const dataDir = join(os.tmpdir(), `aiutami-bench-${Date.now()}`);
    // All load comes from 127.0.0.1 and a few accounts, far faster than any person: the per-address and
    // per-account limits would cap what is measured. METRICS_TOKEN opens /metrics to the scrapes.
    const limitsOff = { LOGIN_MAX_FAILURES_PER_ADDRESS: "100000", RATE_LIMIT_SIGN_UP_PER_ADDRESS: "off", RATE_LIMIT_HIRES_PER_ACCOUNT: "off", RATE_LIMIT_HIRES_PER_ADDRESS: "off", RATE_LIMIT_TENANTS_PER_ACCOUNT: "off", RATE_LIMIT_TENANTS_PER_ADDRESS: "off" };
    const server = await startServer({ DATABASE_URL: ownerUrl, REDIS_URL: redisUrl, DATA_DIR: dataDir, METRICS_TOKEN, ...limitsOff, ...s3.env, ...env }, { nodeArgs });
    try {
      return await fn(server);
    } finally {
      await server.stop();
    }
  };
  const figures: Record<string, unknown> = {};
  try {
    if (scenarios.includes("delivery")) {
      console.log(`delivery: ${params.sockets} provider sockets, ${params.rate} hires/s for ${params.duration} s, then the throughput ladder and the bare Socket.IO baseline...`);
      const live = await withServer((server) =>
        runLive({ server, appUrl, sockets: params.sockets, rate: params.rate, seconds: params.duration, throughputRates: params.throughputRates, throughputSeconds: params.throughputDuration }),
      );
      figures.delivery = live.delivery;
      figures.throughput = live.throughput;
    }
    if (scenarios.includes("capacity")) {
      console.log(`capacity: ramping idle authenticated sockets to ${params.capacitySockets}, then the naive hub with ${params.naiveUsers} users...`);
      figures.capacity = await withServer((server) => runCapacity({ server, appUrl, redisUrl, sockets: params.capacitySockets, step: 2000, naiveUsers: params.naiveUsers }));
    }
    if (scenarios.includes("search")) {
      console.log(`search: generating ${params.providers} providers, then ${params.queries} radius searches with a kind filter...`);
      figures.search = await withServer((server) => runSearch({ providers: params.providers, queries: params.queries, ownerUrl, appUrl, baseUrl: server.baseUrl }));
    }
    if (scenarios.includes("photos")) {
      console.log(`photos: ${params.photoSequential} sequential 12 MP uploads, then ${params.photoConcurrent} at once...`);
      figures.photos = await withServer((server) => runPhotos({ baseUrl: server.baseUrl, pid: server.pid, sequential: params.photoSequential, concurrent: params.photoConcurrent }));
    }
    if (scenarios.includes("login")) {
      console.log(`login: ${params.loginAttempts} wrong passwords and ${params.loginAttempts} unknown emails, in turns...`);
      figures.login = await withServer((server) => runLogin({ baseUrl: server.baseUrl, attempts: params.loginAttempts }));
    }
    if (scenarios.includes("outage")) {
      console.log(`outage: Redis unreachable for ${params.outageSeconds} s while hires go on...`);
      const target = new URL(redisUrl);
      const redisProxy = await new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) }).start();
      try {
        figures.outage = await withServer((server) => runOutage({ baseUrl: server.baseUrl, appUrl, redisProxy, seconds: params.outageSeconds }), { REDIS_URL: redisProxy.redisUrlLike(redisUrl) });
      } finally {
        await redisProxy.stop();
      }
    }
    if (scenarios.includes("idempotency")) {
      console.log(`idempotency: 3 x ${params.idempotencyHires} hires without a key and with one, in waves of 200...`);
      figures.idempotency = await withServer((server) => runIdempotency({ baseUrl: server.baseUrl, appUrl, hires: params.idempotencyHires }));
    }
  } finally {
    await s3.stop();
  }

  const setup = { media: "s3rver in its own process (as MinIO or S3 in production)", nodeFlags: `${SERVER_NODE_FLAGS.join(" ")} (as npm start)` };
  const result = { startedAt: startedAt.toISOString(), seconds: Math.round((Date.now() - startedAt.getTime()) / 1000), machine: await machine(), params, setup, ...figures };
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  const file = join(ROOT, "bench/results", `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  const rows: [string, string, string][] = [];
  const d = figures.delivery as Awaited<ReturnType<typeof runLive>>["delivery"] | undefined;
  if (d) {
    rows.push([`delivery ${d.sockets} sockets @ ${d.rate}/s p50/p95/p99/max`, `${d.p50Ms} / ${d.p95Ms} / ${d.p99Ms} / ${d.maxMs} ms`, "p50 <= 5, p99 <= 30"]);
    rows.push(["delivery from commit p50 / p99", `${d.commitToReceipt.p50Ms} / ${d.commitToReceipt.p99Ms} ms`, ""]);
    rows.push(["sent / delivered / lost / duplicated", `${d.sent} / ${d.delivered} / ${d.lost} / ${d.duplicated}`, "0 lost, 0 dup"]);
    rows.push(["bare Socket.IO p50, ratio", `${d.baselineP50Ms} ms, ${d.ratioToBaseline}x`, "<= 2x"]);
  }
  const t = figures.throughput as Awaited<ReturnType<typeof runLive>>["throughput"] | undefined;
  if (t) rows.push(["throughput (p99 < 100 ms)", `${t.hiresPerSec} hires/s`, ">= 1000"]);
  const c = figures.capacity as Awaited<ReturnType<typeof runCapacity>> | undefined;
  if (c) {
    rows.push([`capacity ${c.sockets} idle sockets: RSS / heap`, `${c.rssMb} MB / ${c.heapMb} MB`, "RSS <= 400 MB"]);
    rows.push(["per socket RSS / heap, event loop p99", `${c.rssKbPerSocket} KB / ${c.heapKbPerSocket} KB, ${c.eventLoopP99Ms} ms`, ""]);
    rows.push(["hub Redis connections (naive)", `${c.redisConnections} (${c.naiveRedisConnections} for ${c.naiveUsers} users)`, "<= 4"]);
  }
  const s = figures.search as Awaited<ReturnType<typeof runSearch>> | undefined;
  if (s) {
    rows.push(["search p50 / p95 / p99", `${s.p50Ms} / ${s.p95Ms} / ${s.p99Ms} ms`, "p95 <= 15 ms"]);
    rows.push(["search providers, fixture", `${s.providers} in ${s.fixtureSeconds} s`, "< 60 s"]);
    rows.push(["search indexes (EXPLAIN)", s.indexesUsed.join(", "), "geo GiST"]);
  }
  const p = figures.photos as Awaited<ReturnType<typeof runPhotos>> | undefined;
  if (p) {
    rows.push(["photo 12 MP, per image (p50)", `${p.msPerImage} ms`, "<= 400 ms"]);
    rows.push([`photos x${p.concurrentUploads} at once, peak RSS`, `${p.peakRssMb} MB (from ${p.baselineRssMb} MB)`, "bounded"]);
    rows.push(["pixel bomb (400 MP) refused, RSS growth", `${p.pixelBombRssGrowthMb} MB`, "< 100 MB"]);
  }
  const l = figures.login as Awaited<ReturnType<typeof runLogin>> | undefined;
  if (l) {
    rows.push(["log-in p50, wrong password / unknown email", `${l.wrongPasswordP50Ms} / ${l.unknownEmailP50Ms} ms`, ""]);
    rows.push(["log-in unknown / wrong ratio", `${l.unknownToWrongRatio}`, "0.4 - 2.5 (about 1)"]);
  }
  const o = figures.outage as Awaited<ReturnType<typeof runOutage>> | undefined;
  if (o) {
    rows.push([`Redis outage ${o.outageSeconds} s: heap growth, event loop p99`, `${o.heapGrowthMb} MB, ${o.eventLoopP99Ms} ms`, "< 64 MB, < 250 ms"]);
    rows.push(["Redis outage: all delivered after it ended", `${o.catchUpMs} ms (${o.hiresDuringOutage} hires)`, "< 15000 ms"]);
  }
  const i = figures.idempotency as Awaited<ReturnType<typeof runIdempotency>> | undefined;
  if (i) rows.push(["hire with / without Idempotency-Key", `${i.keyedMsPerHire} / ${i.plainMsPerHire} ms, ${i.keyedToPlainRatio}x`, ""]);
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${"figure".padEnd(width)}  ${"measured".padEnd(34)}  target`);
  for (const [name, value, target] of rows) console.log(`${name.padEnd(width)}  ${value.padEnd(34)}  ${target}`);
  console.log(`\nwritten ${file}`);
}

await main();
