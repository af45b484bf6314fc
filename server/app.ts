import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { OpenedDatabase } from "../db/migrate";
import { LoginThrottle } from "./auth/throttle";
import { systemClock, type Clock } from "./clock";
import type { Config } from "./config";
import type { AppDeps } from "./context";
import { requestIdOf } from "./http/request-meta";
import { createTrpcHandler } from "./http/trpc-handler";
import type { Logger } from "./logger";
import type { RedisHandle } from "./redis";

export type App = {
  server: Server;
  deps: AppDeps;
  /** Resolves once the server listens; the port is the real one (useful with PORT=0). */
  listen(): Promise<{ port: number }>;
  /** Stops accepting, lets in-flight calls finish, then closes Redis and the database. */
  close(): Promise<void>;
};

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms).unref()),
  ]);
}

export function createApp(opts: {
  config: Config;
  log: Logger;
  database: OpenedDatabase;
  redis: RedisHandle;
  clock?: Clock;
}): App {
  const { config, log, database, redis } = opts;
  const deps: AppDeps = {
    db: database.db,
    redis: redis.redis,
    log,
    config,
    clock: opts.clock ?? systemClock,
    loginThrottle: new LoginThrottle(redis.redis, config.loginThrottle),
  };
  const requestIds = new WeakMap<IncomingMessage, string>();
  const trpc = createTrpcHandler(deps, (req) => requestIds.get(req) ?? crypto.randomUUID());
  let inFlight = 0;

  async function readiness(res: ServerResponse) {
    const checks = await Promise.all([
      withTimeout(database.ping(), 2000, "database").then(() => null, (e: Error) => ["database", e.message] as const),
      withTimeout(redis.redis.ping(), 2000, "redis").then(() => null, (e: Error) => ["redis", e.message] as const),
    ]);
    const failing = checks.filter((c) => c !== null);
    if (failing.length === 0) return sendJson(res, 200, { status: "ready", database: "ok", redis: "ok" });
    sendJson(res, 503, {
      status: "not ready",
      failing: failing.map(([name]) => name),
      reasons: Object.fromEntries(failing),
    });
  }

  const server = createServer((req, res) => {
    const requestId = requestIdOf(req);
    requestIds.set(req, requestId);
    res.setHeader("x-request-id", requestId);
    inFlight++;
    res.once("close", () => inFlight--);
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === "/readyz") return void readiness(res);
    if (path.startsWith("/trpc/")) return trpc(req, res);
    sendJson(res, 404, { error: { message: `No route for ${req.method} ${path}`, requestId } });
  });
  server.keepAliveTimeout = 5_000;

  return {
    server,
    deps,
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
      server.closeIdleConnections();
      const deadline = Date.now() + config.shutdownTimeoutMs - 1000;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      server.closeAllConnections();
      await closed;
      await redis.close();
      await database.close();
    },
  };
}
