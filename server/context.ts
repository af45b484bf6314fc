import type { LimitFunction } from "p-limit";
import type { Database } from "../db/client";
import type { SessionCache } from "./auth/session-cache";
import type { LoginThrottle } from "./auth/throttle";
import type { SessionUser, ValidSession } from "./auth/sessions";
import type { Clock } from "./clock";
import type { Config } from "./config";
import type { Logger } from "./logger";
import type { MediaStorage } from "./media/storage";
import type { HireWriter } from "./hires/writer";
import type { Metrics } from "./metrics";
import type { NotificationRelay } from "./notifications/relay";
import type { RateLimits } from "./rate-limits";
import type { Redis } from "./redis";

/** Long-lived parts shared by every request. */
export type AppDeps = {
  db: Database;
  redis: Redis;
  log: Logger;
  config: Config;
  clock: Clock;
  loginThrottle: LoginThrottle;
  /** Calls per account and per address for sign-up, hires and tenant creation. */
  rateLimits: RateLimits;
  /** Session rows for a few seconds; revocations go through it (`revoke`). */
  sessionCache: SessionCache;
  storage: MediaStorage;
  /** At most PHOTO_MAX_CONCURRENT_DECODES pictures decode at once; the rest wait their turn. */
  photoDecodeSlots: LimitFunction;
  /** Appends committed notifications to the recipients' streams (its retry loop runs in the relay role). */
  relay: NotificationRelay;
  /** Writes hires, several to a statement when they arrive together (group commit). */
  hireWriter: HireWriter;
  metrics: Metrics;
};

export type RequestMeta = {
  id: string;
  ip: string | null;
  userAgent: string | null;
  /** The `x-tenant-id` header: a tenant id or slug. */
  tenantRef: string | null;
  /** Where the session came from; a cookie means a browser, so mutations need an allowed Origin. */
  credentialSource: "cookie" | "bearer" | null;
  originAllowed: boolean;
  /** The `Idempotency-Key` header as sent (checked by the procedures that take one), or null. */
  idempotencyKey: string | null;
  /**
   * When the HTTP request arrived (`performance.now()`): its calls' deadline (CALL_DEADLINE_MS) counts
   * from here. Unset (a caller made in code, used for many calls): each call's counts from its start.
   */
  startedAt?: number;
};

export type Auth = { session: ValidSession; user: SessionUser };

/** What a procedure can do to the HTTP response: set or clear the session cookie, set a header. */
export type ResponseHooks = { setCookie(cookie: string): void; setHeader(name: string, value: string): void };

const NO_RESPONSE: ResponseHooks = { setCookie: () => {}, setHeader: () => {} };

/**
 * The context without any HTTP: tests and jobs call this directly.
 * @example const ctx = createContextInner({ deps, auth: null });
 */
export function createContextInner(opts: {
  deps: AppDeps;
  auth: Auth | null;
  request?: Partial<RequestMeta>;
  response?: ResponseHooks;
  /** Set when building the context failed (e.g. the session check found no database): raised by the first middleware, with the request id. */
  failure?: unknown;
}) {
  const request: RequestMeta = {
    id: opts.request?.id ?? crypto.randomUUID(),
    ip: opts.request?.ip ?? null,
    userAgent: opts.request?.userAgent ?? null,
    tenantRef: opts.request?.tenantRef ?? null,
    credentialSource: opts.request?.credentialSource ?? (opts.auth ? "bearer" : null),
    originAllowed: opts.request?.originAllowed ?? true,
    idempotencyKey: opts.request?.idempotencyKey ?? null,
    startedAt: opts.request?.startedAt,
  };
  return {
    ...opts.deps,
    log: opts.deps.log.child({ reqId: request.id }),
    auth: opts.auth,
    request,
    response: opts.response ?? NO_RESPONSE,
    failure: opts.failure,
  };
}

export type Context = ReturnType<typeof createContextInner>;
