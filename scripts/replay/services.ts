/**
 * The machine's PostgreSQL and Redis, isolated per replay: a database of its own with a unique name,
 * dropped at the end, and a logical Redis database that was empty and is claimed with a lock key, so two
 * replays (or a replay beside a test run) never share keys. Redis pub/sub channels span logical databases:
 * the server only uses them for cache invalidation, which a neighbour's messages cannot break.
 */
import { Redis } from "ioredis";
import postgres from "postgres";
import { ReplayError } from "./plan";

export async function createDatabase(adminUrl: string, name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql.unsafe(`CREATE DATABASE "${name}"`);
  } catch (err) {
    await sql.end();
    throw new ReplayError(`PostgreSQL at ${redact(adminUrl)}: cannot create database ${name}: ${(err as Error).message}`);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await sql.end();
      }
    },
  };
}

const LOCK_KEY = "aiutami-replay:lock";
const LOCK_MS = 120_000;

/**
 * Claims the highest-numbered logical database that holds no keys (0, the default of every local tool, is
 * never taken). The lock key is renewed while the replay runs; release() empties the database, which held
 * only this run's keys, and only while the lock is still this run's.
 */
export async function claimRedisDatabase(baseUrl: string, runId: string): Promise<{ url: string; release: () => Promise<void> }> {
  const admin = new Redis(baseUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  try {
    await admin.connect();
  } catch (err) {
    admin.disconnect();
    throw new ReplayError(`Redis at ${redact(baseUrl)}: ${(err as Error).message}`);
  }
  const reply = (await admin.config("GET", "databases")) as string[];
  const count = Number(reply[1] ?? 16);
  for (let db = count - 1; db >= 1; db--) {
    await admin.select(db);
    if ((await admin.set(LOCK_KEY, runId, "PX", LOCK_MS, "NX")) !== "OK") continue;
    if ((await admin.dbsize()) === 1) {
      const renew = setInterval(() => void admin.pexpire(LOCK_KEY, LOCK_MS).catch(() => {}), LOCK_MS / 4);
      const url = new URL(baseUrl);
      url.pathname = `/${db}`;
      return {
        url: url.toString(),
        release: async () => {
          clearInterval(renew);
          // Empty it only while the lock is still this run's (a stalled run whose lock expired leaves it).
          await admin.eval(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("FLUSHDB") end return 0`, 1, LOCK_KEY, runId);
          admin.disconnect();
        },
      };
    }
    await admin.eval(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`, 1, LOCK_KEY, runId);
  }
  admin.disconnect();
  throw new ReplayError(`Redis at ${redact(baseUrl)}: no empty logical database to claim (1-${count - 1} all hold keys or are claimed)`);
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}
