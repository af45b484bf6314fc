import { createServer, type Server } from "node:http";
import pLimit from "p-limit";
import type { Database } from "../db/client";
import type { OpenedDatabase } from "../db/migrate";
import { SessionCache } from "./auth/session-cache";
import { LoginThrottle } from "./auth/throttle";
import { systemClock, type Clock } from "./clock";
import type { Config } from "./config";
import type { AppDeps } from "./context";
import { HireWriter } from "./hires/writer";
import { createRoutes } from "./http/routes";
import { createHub, type Hub } from "./hub/hub";
import type { Logger } from "./logger";
import type { MediaStorage } from "./media/storage";
import { createMetrics } from "./metrics";
import { NotificationRelay } from "./notifications/relay";
import { RateLimits } from "./rate-limits";
import type { Redis, RedisHandle } from "./redis";

export type App = {
  server: Server;
  deps: AppDeps;
  /** The Socket.IO hub, when this process has the hub role. */
  hub: Hub | null;
  /** Resolves once the server listens; the port is the real one (useful with PORT=0). */
  listen(): Promise<{ port: number }>;
  /** Stops accepting, lets in-flight calls finish, then closes Redis and the database. */
  close(): Promise<void>;
};

/** The long-lived parts every request shares, built once per process (and by tests). */
export function createDeps(opts: { config: Config; log: Logger; db: Database; redis: Redis; storage: MediaStorage; clock?: Clock }): AppDeps {
  return {
    db: opts.db,
    redis: opts.redis,
    log: opts.log,
    config: opts.config,
    clock: opts.clock ?? systemClock,
    loginThrottle: new LoginThrottle(opts.redis, opts.config.loginThrottle),
    rateLimits: new RateLimits(opts.redis, opts.config.rateLimits),
    sessionCache: new SessionCache(opts.redis, opts.log, { ttlMs: opts.config.sessionCacheMs, pollMs: 250, maxEntries: 50_000 }),
    storage: opts.storage,
    photoDecodeSlots: pLimit(opts.config.media.maxConcurrentDecodes),
    relay: new NotificationRelay({ db: opts.db, redis: opts.redis, log: opts.log, stream: opts.config.stream }),
    hireWriter: new HireWriter(opts.db, opts.log),
    metrics: createMetrics(),
  };
}

export function createApp(opts: {
  config: Config;
  log: Logger;
  database: OpenedDatabase;
  redis: RedisHandle;
  storage: MediaStorage;
  clock?: Clock;
}): App {
  const { config, log, database, redis, storage } = opts;
  const deps = createDeps({ config, log, db: database.db, redis: redis.redis, storage, clock: opts.clock });
  const routes = createRoutes({ config, deps, database, redis, storage });
  const server = createServer(routes.handle);
  const hub = config.roles.hub ? createHub(server, deps, redis.duplicate) : null;
  if (hub) deps.metrics.hubGauges(hub.stats);
  deps.metrics.hireWriterCounters(deps.hireWriter.stats);
  if (config.roles.relay) deps.relay.start();
  if (config.roles.api) deps.sessionCache.start();
  server.keepAliveTimeout = 5_000;
  // A client has this long to send a whole request, so a slow sender cannot hold an upload slot.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;

  return {
    server,
    deps,
    hub,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.port, config.host, () => {
          const address = server.address();
          resolve({ port: typeof address === "object" && address ? address.port : config.port });
        });
      }),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await hub?.close();
      server.closeIdleConnections();
      const deadline = Date.now() + config.shutdownTimeoutMs - 1000;
      while (routes.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      server.closeAllConnections();
      await closed;
      await deps.relay.stop();
      deps.sessionCache.stop();
      await redis.close();
      await storage.close();
      await database.close();
    },
  };
}
