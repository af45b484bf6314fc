import type { IncomingMessage, ServerResponse } from "node:http";
import type { TRPCError } from "@trpc/server";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { orAbort } from "../../db/query-abort";
import { readSessionCookie } from "../auth/cookies";
import { startDeadline } from "../call-deadline";
import { validateSessionToken } from "../auth/sessions";
import { createContextInner, type AppDeps } from "../context";
import { appRouter } from "../router";
import { createJsonCallHandler } from "./trpc-json";
import { bearerTokenOf, clientAddressOf, idempotencyKeyOf, isOriginAllowed, tenantRefOf } from "./request-meta";

/** The adapter's context: reads the session (bearer first, then cookie) and the request's metadata. */
export async function createHttpContext(deps: AppDeps, req: IncomingMessage, res: ServerResponse, requestId: string) {
  const startedAt = performance.now();
  const bearer = bearerTokenOf(req);
  const cookieToken = bearer ? undefined : readSessionCookie(req.headers.cookie);
  const token = bearer ?? cookieToken;
  let auth: Awaited<ReturnType<typeof validateSessionToken>> = null;
  let failure: unknown;
  // The session check counts against the calls' deadline (a database that does not answer fails it).
  const deadline = token ? startDeadline({ ms: deps.config.callDeadlineMs, startedAt }) : null;
  try {
    auth = token && deadline ? await orAbort(validateSessionToken({ db: deps.db, token, now: deps.clock(), policy: deps.config.session, cache: deps.sessionCache }), deadline.signal) : null;
  } catch (err) {
    failure = err; // answered by the call boundary, which knows the request id
  } finally {
    deadline?.done();
  }
  return createContextInner({
    deps,
    auth,
    request: {
      id: requestId,
      ip: clientAddressOf(req, deps.config.trustProxy),
      userAgent: typeof req.headers["user-agent"] === "string" ? req.headers["user-agent"] : null,
      tenantRef: tenantRefOf(req),
      credentialSource: bearer ? "bearer" : cookieToken ? "cookie" : null,
      originAllowed: isOriginAllowed(req, deps.config.allowedOrigins, deps.config.trustProxy),
      idempotencyKey: idempotencyKeyOf(req),
      startedAt,
    },
    // A streamed (jsonl) answer has sent its headers before a call ends: a header then is dropped (the
    // session is revoked on the server either way, and the token travels in the body).
    response: {
      setCookie: (cookie) => void (res.headersSent || res.appendHeader("set-cookie", cookie)),
      setHeader: (name, value) => void (res.headersSent || res.setHeader(name, value)),
    },
    failure,
  });
}

const FETCH_FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

function refuseMethod(req: IncomingMessage, res: ServerResponse, requestId: string) {
  res.statusCode = 405;
  res.setHeader("allow", "GET, POST");
  res.setHeader("content-type", "application/json");
  const message = `Unsupported ${req.method}-request: tRPC takes GET for queries and POST for mutations.`;
  res.end(JSON.stringify({ error: { message, code: -32005, data: { code: "METHOD_NOT_SUPPORTED", httpStatus: 405, requestId } } }));
}

/** JSON calls are small; uploads get their own handler with the picture's byte cap (plus multipart framing). */
export const JSON_BODY_LIMIT = 1_000_000;
export const MULTIPART_OVERHEAD = 64 * 1024;

/**
 * tRPC over HTTP. Plain JSON calls (single or batched queries and mutations: what the SDK and most
 * clients send) take the direct path of trpc-json.ts; anything else goes through tRPC's own adapter.
 */
export function createTrpcHandler(deps: AppDeps, requestIdOf: (req: IncomingMessage) => string, maxBodySize = JSON_BODY_LIMIT) {
  const onError = ({ error, path, req }: { error: TRPCError; path?: string; req: IncomingMessage }) => {
    // Failures inside procedures are logged by the call boundary; this catches the rest
    // (context creation, unparsable requests).
    if (error.code === "INTERNAL_SERVER_ERROR" && !path) deps.log.error({ err: error.cause ?? error, reqId: requestIdOf(req) }, "request failed");
  };
  const createContext = (req: IncomingMessage, res: ServerResponse) => createHttpContext(deps, req, res, requestIdOf(req));
  // The batch cap holds on both paths: the direct one refuses with a message naming it, and the adapter
  // (what the direct path leaves to it) with tRPC's own 400.
  const maxBatchSize = deps.config.trpcMaxBatch;
  const adapter = createHTTPHandler({ router: appRouter, basePath: "/trpc/", maxBodySize, maxBatchSize, createContext: ({ req, res }) => createContext(req, res), onError });
  const direct = createJsonCallHandler({ router: appRouter, basePath: "/trpc/", maxBodySize, maxBatchSize, requestIdOf, createContext, onError });
  return (req: IncomingMessage, res: ServerResponse) => {
    // The adapter makes a Fetch Request of every call, and Fetch refuses these methods by throwing,
    // which tRPC answers as a 500. They are the caller's mistake: a 405 like any other wrong method.
    if (FETCH_FORBIDDEN_METHODS.has(req.method ?? "")) return refuseMethod(req, res, requestIdOf(req));
    direct(req, res).then(
      (handled) => handled || adapter(req, res),
      (err: unknown) => {
        const requestId = requestIdOf(req);
        deps.log.error({ err, reqId: requestId }, "request failed");
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader("content-type", "application/json");
          res.setHeader("vary", "trpc-accept, accept");
          const message = `Internal server error (request id ${requestId})`;
          res.end(JSON.stringify({ error: { message, code: -32603, data: { code: "INTERNAL_SERVER_ERROR", httpStatus: 500, requestId } } }));
        } else res.destroy();
      },
    );
  };
}
