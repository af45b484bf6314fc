import type { IncomingMessage, ServerResponse } from "node:http";
import cors from "cors";

/**
 * A response's CORS headers depend on the request's Origin, so every answer says `Vary: Origin`;
 * tRPC later sets its own `Vary` (trpc-accept, accept), which would replace it. This keeps both.
 */
function keepVaryOrigin(res: ServerResponse) {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name, value) => {
    if (name.toLowerCase() !== "vary") return setHeader(name, value);
    const fields = new Set(["Origin", ...String(value).split(",").map((f) => f.trim()).filter(Boolean)]);
    return setHeader(name, [...fields].join(", "));
  };
  setHeader("vary", "Origin");
}

/** Request headers a browser on another origin may send to /trpc (the SDK sends these). */
export const CORS_ALLOWED_HEADERS = ["content-type", "authorization", "x-tenant-id", "x-request-id", "trpc-accept", "idempotency-key"];
/** Response headers its scripts may read: the request id for support, Retry-After for backoff, whether an answer is a replay. */
export const CORS_EXPOSED_HEADERS = ["x-request-id", "retry-after", "idempotent-replayed"];

/**
 * CORS for the API, through the `cors` package (the one Socket.IO itself uses for the hub): an origin
 * listed in ALLOWED_ORIGINS gets `Access-Control-Allow-Origin` with credentials, so both the cookie and
 * the bearer flows work from it; any other origin gets no grant at all (and a cookie mutation from it is
 * still refused by the Origin check of the call itself). Preflights are answered here with 204.
 * Returns a function that answers `true` when it ended the request (any preflight). Its origin check is
 * synchronous, so `cors` has either ended the preflight or called next() by the time it returns.
 */
export function createCors(allowedOrigins: string[]) {
  const allowed = new Set(allowedOrigins);
  const middleware = cors({
    origin: (origin, done) => done(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ["GET", "POST"],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: 600,
    optionsSuccessStatus: 204,
  });
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    keepVaryOrigin(res);
    let passedOn = false;
    middleware(req, res, () => {
      passedOn = true;
    });
    if (passedOn && req.method === "OPTIONS") {
      // A preflight from an origin with no grant: answered, but with no Access-Control-* header, so
      // the browser refuses the call (rather than tRPC answering 415 to a body-less OPTIONS).
      res.statusCode = 204;
      res.end();
      return true;
    }
    return !passedOn;
  };
}
