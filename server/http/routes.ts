import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import pLimit from "p-limit";
import type { OpenedDatabase } from "../../db/migrate";
import type { Config } from "../config";
import type { AppDeps } from "../context";
import { serveDemo } from "../demo/serve";
import type { MediaStorage } from "../media/storage";
import { MEDIA_KEY_PATTERN } from "../profiles/photos";
import type { RedisHandle } from "../redis";
import { createCors } from "./cors";
import { metricsAccess } from "./metrics-access";
import { requestIdOf } from "./request-meta";
import { createTrpcHandler, MULTIPART_OVERHEAD } from "./trpc-handler";

export function sendJson(res: ServerResponse, status: number, body: unknown) {
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

/** A path as the client sent it, decoded; null when its percent-encoding is malformed. */
function decodePath(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** Streams a stored rendition (HEAD: its headers only); only keys of the product's own shape are served. */
async function serveMedia(storage: MediaStorage, key: string, res: ServerResponse, head: boolean) {
  const object = MEDIA_KEY_PATTERN.test(key) ? await storage.get(key) : null;
  if (!object) return sendJson(res, 404, { error: { message: "No such picture." } });
  res.statusCode = 200;
  res.setHeader("content-type", object.contentType);
  res.setHeader("cache-control", object.cacheControl);
  res.setHeader("x-content-type-options", "nosniff");
  if (object.contentLength !== undefined) res.setHeader("content-length", object.contentLength);
  if (head) {
    object.body.destroy();
    return void res.end();
  }
  // pipeline, not pipe: a store that fails mid-body ends this response, never the process.
  await pipeline(object.body, res);
}

/** `GET /`: the demo page when it is on, otherwise where things are. */
function serveIndex(config: Config, res: ServerResponse) {
  if (config.demoPage) {
    res.statusCode = 302;
    res.setHeader("location", "/demo");
    return void res.end();
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

/** `GET /readyz`: 200 when PostgreSQL and Redis both answer within 2 s, else 503 naming what fails. */
async function serveReadiness(database: OpenedDatabase, redis: RedisHandle, res: ServerResponse) {
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

/** `GET /metrics`, behind METRICS_TOKEN (or loopback in development). */
async function serveMetrics(config: Config, deps: AppDeps, req: IncomingMessage, res: ServerResponse, requestId: string) {
  const access = metricsAccess(config.metrics, req);
  if (!access.ok) {
    if (access.status === 401) res.setHeader("www-authenticate", 'Bearer realm="metrics"');
    return sendJson(res, access.status, { error: { message: access.message, requestId } });
  }
  const text = await deps.metrics.registry.metrics();
  res.setHeader("content-type", deps.metrics.registry.contentType);
  res.end(text);
}

/**
 * `POST /trpc/profiles.uploadPhoto`, admitted a few at a time: an upload's body is read only once it holds
 * a slot, so memory is bounded by the slots, not by how many clients upload at once (waiting bodies stay in
 * socket buffers). A declared oversize body is refused before any of it is read; the handler also counts.
 */
function createUploadRoute(config: Config, deps: AppDeps, requestIdFor: (req: IncomingMessage) => string) {
  const uploadLimit = config.media.maxBytes + MULTIPART_OVERHEAD;
  const trpcUpload = createTrpcHandler(deps, requestIdFor, uploadLimit);
  const uploadSlots = pLimit(config.media.maxConcurrentUploads);
  return (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    if (Number(req.headers["content-length"] ?? 0) > uploadLimit) {
      res.setHeader("connection", "close");
      return sendJson(res, 413, { error: { message: `The upload is larger than ${config.media.maxBytes} bytes.`, data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413, requestId } } });
    }
    return uploadSlots(
      () =>
        new Promise<void>((done) => {
          res.once("close", done);
          if (req.destroyed) return done();
          trpcUpload(req, res);
        }),
    );
  };
}

export type Routes = {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Requests not yet answered: shutdown waits for them. */
  inFlight(): number;
};

/**
 * Every HTTP route of the process: health, readiness, metrics, the demo page, media, and the tRPC API
 * (uploads admitted a few at a time). All of them run under one error boundary: whatever a route throws,
 * synchronously or later, the caller gets a 500 with the request id and the process keeps serving.
 */
export function createRoutes(opts: { config: Config; deps: AppDeps; database: OpenedDatabase; redis: RedisHandle; storage: MediaStorage }): Routes {
  const { config, deps, database, redis, storage } = opts;
  const log = deps.log;
  const requestIds = new WeakMap<IncomingMessage, string>();
  const requestIdFor = (req: IncomingMessage) => requestIds.get(req) ?? crypto.randomUUID();
  const trpc = createTrpcHandler(deps, requestIdFor);
  const upload = createUploadRoute(config, deps, requestIdFor);
  const apiCors = createCors(config.allowedOrigins);
  let inFlight = 0;

  function route(req: IncomingMessage, res: ServerResponse, requestId: string): void | Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (path === "/" && (req.method === "GET" || req.method === "HEAD")) return serveIndex(config, res);
    if (config.demoPage && req.method === "GET" && path.startsWith("/demo") && serveDemo(path, res)) return;
    if (path === "/readyz") return serveReadiness(database, redis, res);
    if (path === "/metrics" && req.method === "GET") return serveMetrics(config, deps, req, res, requestId);
    if (path.startsWith("/trpc/")) {
      if (!config.roles.api) return sendJson(res, 404, { error: { message: "This process does not serve the API (ROLES).", requestId } });
      if (apiCors(req, res)) return;
      if (path === "/trpc/profiles.uploadPhoto") return upload(req, res, requestId);
      return trpc(req, res);
    }
    if (path.startsWith("/media/") && (req.method === "GET" || req.method === "HEAD") && config.media.publicBaseUrl === null) {
      const key = decodePath(path.slice("/media/".length));
      if (key === null) return sendJson(res, 400, { error: { message: "The picture's path is not valid percent-encoding.", requestId } });
      return serveMedia(storage, key, res, req.method === "HEAD").catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE") return; // the client left
        log.error({ err, reqId: requestId }, "media read failed");
        if (!res.headersSent) sendJson(res, 502, { error: { message: "The picture store did not answer.", requestId } });
        else res.destroy();
      });
    }
    sendJson(res, 404, { error: { message: `No route for ${req.method} ${path}`, requestId } });
  }

  /** The error boundary: a route's failure is this request's 500, never the process's end. */
  function fail(err: unknown, req: IncomingMessage, res: ServerResponse, requestId: string) {
    log.error({ err, reqId: requestId, method: req.method, url: req.url }, "request failed");
    if (res.headersSent) return void res.destroy();
    sendJson(res, 500, { error: { message: `Internal server error (request id ${requestId})`, data: { code: "INTERNAL_SERVER_ERROR", httpStatus: 500, requestId } } });
  }

  return {
    handle(req, res) {
      const requestId = requestIdOf(req);
      requestIds.set(req, requestId);
      res.setHeader("x-request-id", requestId);
      inFlight++;
      res.once("close", () => inFlight--);
      try {
        const answered = route(req, res, requestId);
        if (answered) answered.catch((err: unknown) => fail(err, req, res, requestId));
      } catch (err) {
        fail(err, req, res, requestId);
      }
    },
    inFlight: () => inFlight,
  };
}
