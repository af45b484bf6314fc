import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { inject } from "vitest";
import { openPostgres, type OpenedDatabase } from "../../db/migrate";
import { createApp, createDeps, type App } from "../../server/app";
import { systemClock, type Clock } from "../../server/clock";
import { loadConfig, type Config } from "../../server/config";
import { createContextInner, type AppDeps, type Auth } from "../../server/context";
import { createLogger } from "../../server/logger";
import { connectRedis, type RedisHandle } from "../../server/redis";
import { appRouter } from "../../server/router";
import { createCallerFactory } from "../../server/trpc";
import { openMediaStorage } from "../../server/media/storage";
import { RELAXED_RATE_LIMITS } from "./rate-limits-off";
import { fileDatabaseUrl } from "./file-database";

export const createCaller = createCallerFactory(appRouter);

export type TestEnv = {
  config: Config;
  database: OpenedDatabase;
  redis: RedisHandle;
  deps: AppDeps;
  /** Moves the clock the services see; `now` starts at real time. */
  clock: { now: Date; advance(ms: number): void; fn: Clock };
  close(): Promise<void>;
};

/** Config for tests: the migrated test database (server role) and the machine's Redis. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATABASE_URL: fileDatabaseUrl(),
    REDIS_URL: inject("redisUrl"),
    DATABASE_POOL_SIZE: "5",
    PORT: "0",
    HOST: "127.0.0.1",
    // A real S3-protocol server (s3rver) per test file, in its own directory.
    DATA_DIR: mkdtempSync(join(tmpdir(), "aiutami-test-")),
    ...RELAXED_RATE_LIMITS,
    // One secret for every environment of a run, so a cursor from one server is valid on another.
    APP_SECRET: "aiutami-test-secret-for-signing-cursors-0001",
    ...overrides,
  });
}

/** The parts the server runs on, built the way main.ts builds them, with an adjustable clock. */
export async function createTestEnv(overrides: Record<string, string> = {}, opts: { redisName?: string } = {}): Promise<TestEnv> {
  const config = testConfig(overrides);
  if (config.database.kind !== "postgres") throw new Error("tests need PostgreSQL");
  const log = createLogger(config.logLevel);
  const database = openPostgres(config.database.appUrl, config.database.poolSize);
  const redis = await connectRedis({ ...config.redis, dataDir: ".data", log, name: opts.redisName });
  const clock = {
    now: systemClock(),
    advance(ms: number) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
    fn: () => clock.now,
  };
  const storage = await openMediaStorage(config);
  const deps = createDeps({ config, log, db: database.db, redis: redis.redis, storage, clock: () => clock.now });
  clock.fn = deps.clock;
  return {
    config,
    database,
    redis,
    deps,
    clock,
    close: async () => {
      await deps.relay.stop(); // its appends under way finish, and their marks are written, before the pool closes
      await redis.close();
      await storage.close();
      await database.close();
      if (config.media.s3.kind === "embedded") rmSync(config.media.s3.directory, { recursive: true, force: true });
    },
  };
}

/** A tRPC caller as a given user (or nobody), optionally naming a tenant as the x-tenant-id header would. */
export function callerAs(env: TestEnv, auth: Auth | null, opts: { tenant?: string; ip?: string; cookie?: boolean; originAllowed?: boolean } = {}) {
  return createCaller(
    createContextInner({
      deps: env.deps,
      auth,
      request: {
        tenantRef: opts.tenant ?? null,
        // Its own address per caller unless a test names one: log-in failures are counted per address
        // in the shared Redis for 15 minutes, and must not leak from one test (or run) into another.
        ip: opts.ip ?? `192.0.2.${Math.floor(Math.random() * 254) + 1}-${Math.random().toString(36).slice(2, 10)}`,
        userAgent: "vitest",
        credentialSource: auth ? (opts.cookie ? "cookie" : "bearer") : null,
        originAllowed: opts.originAllowed ?? true,
      },
    }),
  );
}

/** A real HTTP server on an ephemeral port, over the same database and Redis as `env`. */
export type TestServer = { app: App; baseUrl: string; stop(): Promise<void> };

export async function startHttpServer(env: TestEnv): Promise<TestServer> {
  const app = createApp({
    config: env.config,
    log: env.deps.log,
    database: { ...env.database, close: async () => {} },
    redis: { ...env.redis, close: async () => {} },
    storage: { ...env.deps.storage, close: async () => {} },
    clock: env.deps.clock,
  });
  const { port } = await app.listen();
  return { app, baseUrl: `http://127.0.0.1:${port}`, stop: () => app.close() };
}

export type TestApp = { env: TestEnv; server: TestServer; close(): Promise<void> };

/** An environment and its HTTP server; `close()` stops the server, then the environment. */
export async function startTestApp(overrides: Record<string, string> = {}, opts: { redisName?: string } = {}): Promise<TestApp> {
  const env = await createTestEnv(overrides, opts);
  const server = await startHttpServer(env).catch(async (err: unknown) => {
    await env.close();
    throw err;
  });
  return {
    env,
    server,
    close: async () => {
      await server.stop();
      await env.close();
    },
  };
}

/** A connection as the owner role (RLS does not apply): for tests that look behind the server's back. */
export function openOwnerSql(): postgres.Sql {
  return postgres(fileDatabaseUrl(), { max: 1, onnotice: () => {} });
}
