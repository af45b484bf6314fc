import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import pLimit from "p-limit";
import type { Database } from "../db/client";
import type { OpenedDatabase } from "../db/migrate";
import { SessionCache } from "./auth/session-cache";
import { LoginThrottle } from "./auth/throttle";
import { systemClock, type Clock } from "./clock";
import type { Config } from "./config";
import type { AppDeps } from "./context";
import { serveDemo } from "./demo/serve";
import { createCors } from "./http/cors";
import { requestIdOf } from "./http/request-meta";
import { HireWriter } from "./hires/writer";
import { createHub, type Hub } from "./hub/hub";
import { createTrpcHandler, MULTIPART_OVERHEAD } from "./http/trpc-handler";
import type { Logger } from "./logger";
import type { MediaStorage } from "./media/storage";
import { createMetrics } from "./metrics";
import { NotificationRelay } from "./notifications/relay";
import { MEDIA_KEY_PATTERN } from "./profiles/photos";
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

/** The long-lived parts every request shares, built once per process (and by tests). */
export function createDeps(opts: { config: Config; log: Logger; db: Database; redis: Redis; storage: MediaStorage; clock?: Clock }): AppDeps {
  return {
    db: opts.db,
    redis: opts.redis,
    log: opts.log,
    config: opts.config,
    clock: opts.clock ?? systemClock,
    loginThrottle: new LoginThrottle(opts.redis, opts.config.loginThrottle),
    sessionCache: new SessionCache(opts.redis, opts.log, { ttlMs: opts.config.sessionCacheMs, pollMs: 250, maxEntries: 50_000 }),
    storage: opts.storage,
    photoDecodeSlots: pLimit(opts.config.media.maxConcurrentDecodes),
    relay: new NotificationRelay({ db: opts.db, redis: opts.redis, log: opts.log, stream: opts.config.stream }),
    hireWriter: new HireWriter(opts.db, opts.log),
    metrics: createMetrics(),
  };
}

/** Streams a stored rendition; only keys of the product's own shape are served. */
async function serveMedia(storage: MediaStorage, key: string, res: ServerResponse) {
  const object = MEDIA_KEY_PATTERN.test(key) ? await storage.get(key) : null;
  if (!object) return sendJson(res, 404, { error: { message: "No such picture." } });
  res.statusCode = 200;
  res.setHeader("content-type", object.contentType);
  res.setHeader("cache-control", object.cacheControl);
  res.setHeader("x-content-type-options", "nosniff");
  if (object.contentLength !== undefined) res.setHeader("content-length", object.contentLength);
  object.body.pipe(res);
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
  const requestIds = new WeakMap<IncomingMessage, string>();
  const requestIdFor = (req: IncomingMessage) => requestIds.get(req) ?? crypto.randomUUID();
  const trpc = createTrpcHandler(deps, requestIdFor);
  const uploadLimit = config.media.maxBytes + MULTIPART_OVERHEAD;
  const trpcUpload = createTrpcHandler(deps, requestIdFor, uploadLimit);
  // Admission control: an upload's body is read only once it holds a slot, so memory is bounded
  // by the slots, not by how many clients upload at once. Waiting bodies stay in socket buffers.
  const uploadSlots = pLimit(config.media.maxConcurrentUploads);
  const apiCors = createCors(config.allowedOrigins);
  let inFlight = 0;

  /** `GET /`: the demo page when it is on, otherwise where things are. */
  function serveIndex(res: ServerResponse) {
    if (config.demoPage) {
      res.statusCode = 302;
      res.setHeader("location", "/demo");
      return res.end();
    }
    sendJson(res, 200, {
      service: "aiutami",
      api: "/trpc",
      socket: "/socket.io",
      health: "/healthz",
      readiness: "/readyz",
      metrics: "/metrics",
      demo: "off (DEMO_PAGE=true turns it on)",
    });
  }

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
    if (path === "/" && (req.method === "GET" || req.method === "HEAD")) return serveIndex(res);
    if (config.demoPage && req.method === "GET" && path.startsWith("/demo") && serveDemo(path, res)) return;
    if (path === "/readyz") return void readiness(res);
    if (path === "/metrics" && req.method === "GET") {
      return void deps.metrics.registry.metrics().then((text) => {
        res.setHeader("content-type", deps.metrics.registry.contentType);
        res.end(text);
      });
    }
    if (!config.roles.api && path.startsWith("/trpc/")) return sendJson(res, 404, { error: { message: "This process does not serve the API (ROLES).", requestId } });
    if (path.startsWith("/trpc/") && apiCors(req, res)) return;
    if (path === "/trpc/profiles.uploadPhoto") {
      // Refuse a declared oversize body before reading any of it; the handler also counts while reading.
      if (Number(req.headers["content-length"] ?? 0) > uploadLimit) {
        res.setHeader("connection", "close");
        return sendJson(res, 413, { error: { message: `The upload is larger than ${config.media.maxBytes} bytes.`, data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413, requestId } } });
      }
      return void uploadSlots(
        () =>
          new Promise<void>((done) => {
            res.once("close", done);
            if (req.destroyed) return done();
            trpcUpload(req, res);
          }),
      );
    }
    if (path.startsWith("/trpc/")) return trpc(req, res);
    if (path.startsWith("/media/") && req.method === "GET" && config.media.publicBaseUrl === null) {
      return void serveMedia(storage, decodeURIComponent(path.slice("/media/".length)), res).catch((err: unknown) => {
        log.error({ err, reqId: requestId }, "media read failed");
        if (!res.headersSent) sendJson(res, 502, { error: { message: "The picture store did not answer.", requestId } });
        else res.destroy();
      });
    }
    sendJson(res, 404, { error: { message: `No route for ${req.method} ${path}`, requestId } });
  });
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
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
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
