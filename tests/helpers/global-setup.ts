import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { migratePostgresDatabase } from "../../db/migrate";

/**
 * Everything a test run names on the shared machine carries this run's own id, so two runs (two clones,
 * CI beside a developer, a benchmark) never touch each other's databases, Redis keys or temp folders:
 * - one fresh PostgreSQL database per project and run, `aiutami_t<run>_<project>`, migrated and then only
 *   used as the template of each test file's own database (`<that name>_f<file>`, tests/helpers/file-database.ts);
 *   all of them dropped at the end;
 * - one Redis logical database per run, leased in db 0 (`aiutami-test-lease:<n>`) and emptied at the end;
 * - one temp folder per run (TMPDIR for the workers and every process they spawn), removed at the end.
 * Leftovers of a run that was killed are removed by a later run once they are a day old.
 */
const RUN_ID = (process.env.AIUTAMI_TEST_RUN_ID ??= `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`);
const STALE_MS = 24 * 3600_000;
const LEASE_SECONDS = 120;
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

type RunState = { projects: number; redisDb?: number; leaseTimer?: NodeJS.Timeout; leaseRenewer?: Redis; tempRoot?: string; setUp?: Promise<void> };
const state: RunState = ((globalThis as { __aiutamiTestRun?: RunState }).__aiutamiTestRun ??= { projects: 0 });

/** The run id's time part, for telling a stale leftover from another live run's. */
function runStartedAt(id: string): number {
  return parseInt(id.slice(0, -4), 36);
}

async function leaseRedisDb(base: string): Promise<number> {
  const lease = new Redis(base, { db: 0, maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await lease.connect();
    const candidates: number[] = [];
    for (let db = 1; db <= 15; db++) candidates.push(db);
    // Prefer an empty database: a developer may point a server at a low number by hand.
    const sizes = await Promise.all(candidates.map(async (db) => {
      const probe = lease.duplicate({ db, lazyConnect: true });
      try {
        await probe.connect();
        return [db, await probe.dbsize()] as const;
      } finally {
        probe.disconnect();
      }
    }));
    sizes.sort((a, b) => a[1] - b[1] || b[0] - a[0]);
    for (const [db] of sizes) {
      if ((await lease.set(`aiutami-test-lease:${db}`, RUN_ID, "EX", LEASE_SECONDS, "NX")) === "OK") return db;
    }
    throw new Error("every Redis logical database (1-15) is leased by another test run; wait for one to finish");
  } finally {
    lease.disconnect();
  }
}

async function setUpRun() {
  const tempRoot = join(tmpdir(), `aiutami-test-${RUN_ID}`);
  for (const name of readdirSync(tmpdir())) {
    const m = /^aiutami-test-([0-9a-z]+)$/.exec(name);
    if (!m || m[1] === RUN_ID) continue;
    const path = join(tmpdir(), name);
    if (Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
  }
  mkdirSync(tempRoot, { recursive: true, mode: 0o777 });
  state.tempRoot = tempRoot;
  process.env.TMPDIR = tempRoot; // workers and every process they spawn inherit it

  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const dbs = await sql<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE 'aiutami\\_t%'`;
    for (const { datname } of dbs) {
      const m = /^aiutami_t([0-9a-z]+)_/.exec(datname);
      if (m?.[1] && m[1] !== RUN_ID.toLowerCase() && Date.now() - runStartedAt(m[1]) > STALE_MS) {
        await sql.unsafe(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    }
  } finally {
    await sql.end();
  }

  if (!process.env.TEST_REDIS_URL) {
    const base = "redis://127.0.0.1:6379";
    state.redisDb = await leaseRedisDb(base);
    const renew = new Redis(base, { db: 0, lazyConnect: true, maxRetriesPerRequest: 1 });
    renew.on("error", () => {});
    state.leaseRenewer = renew;
    state.leaseTimer = setInterval(() => void renew.set(`aiutami-test-lease:${state.redisDb}`, RUN_ID, "EX", LEASE_SECONDS).catch(() => {}), 30_000);
    state.leaseTimer.unref();
  }
}

async function tearDownRun() {
  if (state.leaseTimer) clearInterval(state.leaseTimer);
  state.leaseRenewer?.disconnect();
  if (state.redisDb !== undefined) {
    const redis = new Redis("redis://127.0.0.1:6379", { db: state.redisDb, maxRetriesPerRequest: 1 });
    try {
      await redis.flushdb();
      await redis.select(0);
      const key = `aiutami-test-lease:${state.redisDb}`;
      if ((await redis.get(key)) === RUN_ID) await redis.del(key);
    } finally {
      redis.disconnect();
    }
  }
  if (state.tempRoot) rmSync(state.tempRoot, { recursive: true, force: true });
}

export function redisUrlOfRun(): string {
  if (process.env.TEST_REDIS_URL) return process.env.TEST_REDIS_URL;
  return `redis://127.0.0.1:6379/${state.redisDb}`;
}

export default async function setup(project: TestProject) {
  state.projects++;
  await (state.setUp ??= setUpRun());
  const name = process.env.TEST_DATABASE_NAME ?? `aiutami_t${RUN_ID.toLowerCase()}_${project.name}`;
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await sql.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await sql.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migratePostgresDatabase(url.toString());
  project.provide("databaseTemplateUrl", url.toString());
  project.provide("databaseAdminUrl", adminUrl);
  project.provide("redisUrl", redisUrlOfRun());

  return async () => {
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      // The files' own databases, where a killed worker left one behind.
      const clones = await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE starts_with(datname, ${`${name}_f`})`;
      for (const { datname } of clones) await admin.unsafe(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      if (!process.env.TEST_DATABASE_NAME) await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    if (--state.projects === 0) await tearDownRun();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    /** The project's migrated database: the template of each file's own, which tests reach by `fileDatabaseUrl()`. */
    databaseTemplateUrl: string;
    databaseAdminUrl: string;
    redisUrl: string;
  }
}
