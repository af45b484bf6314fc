import "./zod-messages";
import { initTRPC, TRPCError } from "@trpc/server";
import type { Transaction } from "../db/client";
import { bindToSignal, orAbort } from "../db/query-abort";
import { startDeadline } from "./call-deadline";
import type { Context } from "./context";
import { AppError, databaseRefusal, isTemporaryFailure, serviceUnavailable, toTRPCError, unstorableStringPath, ZodError, zodIssues, type FieldIssue } from "./errors";
import { bindScope } from "./db-scope";
import type { RateLimitName } from "./rate-limits";
import { IDEMPOTENT_REPLAYED_HEADER, idempotencyRequestOf } from "./idempotency/request";
import { enterTenant, roleRefused, TENANT_REF_PATTERN, tenantNotFound, type TenantRole } from "./tenants/resolve";

const t = initTRPC.context<Context>().create({
  /**
   * One error shape for every caller: a readable message, the request id, field issues for bad
   * input, and never a stack trace or SQL. Unexpected failures say only "internal error".
   */
  errorFormatter({ shape, error, ctx }) {
    const cause = error.cause;
    let issues: FieldIssue[] | undefined;
    let message = error.message;
    if (cause instanceof ZodError) {
      issues = zodIssues(cause);
      message = `Invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`;
    } else if (cause instanceof AppError) {
      issues = cause.details.issues;
    }
    const requestId = ctx?.request.id;
    if (error.code === "INTERNAL_SERVER_ERROR") {
      message = requestId ? `Internal server error (request id ${requestId})` : "Internal server error";
    }
    return {
      code: shape.code,
      message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        requestId,
        issues,
        retryAfterSeconds: cause instanceof AppError ? cause.details.retryAfterSeconds : undefined,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Logs each call once and turns the services' AppError into the matching tRPC error. */
const callBoundary = t.middleware(async ({ ctx, path, type, next }) => {
  const started = performance.now();
  if (ctx.failure !== undefined) {
    // The session check failed: temporarily (the database down, or past the deadline) or not.
    const failure = ctx.failure instanceof AppError ? ctx.failure : isTemporaryFailure(ctx.failure) ? serviceUnavailable(ctx.failure) : undefined;
    if (failure) {
      ctx.log.warn({ path, type, err: (ctx.failure as Error).message }, "could not prepare the call");
      throw toTRPCError(failure);
    }
    ctx.log.error({ path, type, err: ctx.failure }, "could not prepare the call");
    throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: ctx.failure });
  }
  const result = await next();
  const ms = Math.round((performance.now() - started) * 10) / 10;
  if (result.ok) {
    ctx.metrics.calls.observe({ path, type, code: "OK" }, ms / 1000);
    ctx.log.info({ path, type, ms, userId: ctx.auth?.user.id }, "call");
    return result;
  }
  const cause = result.error.cause;
  if (cause instanceof AppError) {
    const mapped = toTRPCError(cause);
    ctx.metrics.calls.observe({ path, type, code: mapped.code }, ms / 1000);
    ctx.log.info({ path, type, ms, code: cause.code, msg: cause.message }, "call refused");
    throw mapped;
  }
  if (result.error.code === "INTERNAL_SERVER_ERROR") {
    // The database or Redis failed or timed out (statement_timeout, lock_timeout): say so plainly, with
    // when to retry. A transaction that could not commit wrote nothing.
    if (isTemporaryFailure(cause)) {
      ctx.log.warn({ path, type, ms, err: (cause as Error).message }, "call failed for now");
      throw toTRPCError(serviceUnavailable(cause));
    }
    // A statement the database refused (its transaction, if any, rolled back), for a value the schemas
    // let through: answered as what it is, and logged as the gap it is.
    const refusal = databaseRefusal(cause);
    ctx.log.error({ path, type, ms, err: cause ?? result.error, answered: refusal?.code }, refusal ? "call refused by the database" : "call failed");
    if (refusal) throw toTRPCError(refusal);
  } else {
    ctx.metrics.calls.observe({ path, type, code: result.error.code }, ms / 1000);
    ctx.log.info({ path, type, ms, code: result.error.code }, "call refused");
  }
  return result;
});

/**
 * Two checks for every procedure. A browser sends cookies to any site's requests, so a mutation riding
 * on one needs an allowed Origin. And no string in the input may hold what PostgreSQL cannot store (a
 * NUL, or an unpaired surrogate, which JSON can carry): refused as a 400 naming the field instead of
 * failing in the database. That check wraps the input's reader, so it runs when the input parser reads
 * the input: after the session, tenant and role checks, and never for a procedure without input.
 */
const requestGuard = t.middleware(({ ctx, type, getRawInput, next }) => {
  if (type === "mutation" && ctx.request.credentialSource === "cookie" && !ctx.request.originAllowed) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: "Cross-site request refused: a cookie-authenticated mutation needs an allowed Origin header.",
    });
  }
  return next({
    getRawInput: async () => {
      const raw = await getRawInput();
      const found = unstorableStringPath(raw);
      if (found) {
        const issue = { path: found.map(String).join(".") || "(input)", message: "must not contain a NUL character or an unpaired surrogate" };
        throw new AppError("BAD_REQUEST", `Invalid input: ${issue.path}: ${issue.message}`, { issues: [issue] });
      }
      return raw;
    },
  });
});

/**
 * Every call answers within CALL_DEADLINE_MS of its request's arrival. Past it, the call answers
 * SERVICE_UNAVAILABLE with retryAfterSeconds (from the call boundary, which maps the AppError), and its
 * work stops where it can: the procedure's database handle and hire writer abandon their queries and
 * waiting hires. A client that goes away aborts the same way (tRPC's signal).
 */
const callDeadline = t.middleware(async ({ ctx, signal, next }) => {
  const deadline = startDeadline({ ms: ctx.config.callDeadlineMs, startedAt: ctx.request.startedAt, parent: signal ?? undefined });
  try {
    return await orAbort(next({ ctx: { db: bindToSignal(ctx.db, deadline.signal), hireWriter: ctx.hireWriter.bound(deadline.signal) } }), deadline.signal);
  } catch (err) {
    // Aborted by tRPC's signal: the client went away, and nobody reads this answer.
    if (signal?.aborted && err === deadline.signal.reason) {
      throw new TRPCError({ code: "CLIENT_CLOSED_REQUEST", message: "The client went away before the answer.", cause: err });
    }
    throw err;
  } finally {
    deadline.done();
  }
});

export const publicProcedure = t.procedure.use(callBoundary).use(callDeadline).use(requestGuard);

/**
 * Signed in, with no transaction: `ctx.db` is the pool. For calls whose statements touch only tables
 * without row-level security (sessions) and each commit on their own, so the work that follows them
 * (revoking the session cache, telling the user's devices) comes after the commit.
 */
export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.auth) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first: no valid session on this request." });
  }
  return next({ ctx: { auth: ctx.auth } });
});

/** Queues work for after the call's transaction commits (never after a rollback); the answer waits for it. */
export type AfterCommit = (work: () => Promise<unknown>) => void;

function afterCommitQueue() {
  const queued: Array<() => Promise<unknown>> = [];
  const afterCommit: AfterCommit = (work) => {
    queued.push(work);
  };
  const run = async () => {
    for (const work of queued) await work();
  };
  return { afterCommit, run };
}

/**
 * Signed in, and the whole call in one transaction bound to the user (no tenant): `ctx.db` sees the
 * user's own rows across their tenants (memberships, invitations, notifications). Work that must follow
 * the commit, such as telling the user's other devices, goes through `ctx.afterCommit`.
 */
export const userProcedure = authedProcedure.use(async ({ ctx, next }) => {
  const queue = afterCommitQueue();
  const result = await ctx.db.transaction(async (tx: Transaction) => {
    await bindScope(tx, { userId: ctx.auth.user.id });
    const inner = await next({ ctx: { db: tx, afterCommit: queue.afterCommit } });
    if (!inner.ok) throw inner.error;
    return inner;
  });
  await queue.run();
  return result;
});

/** The `x-tenant-id` header, or a BAD_REQUEST naming what is wrong with it. */
function tenantRefOf(ctx: Context): string {
  const ref = ctx.request.tenantRef;
  if (!ref) throw new TRPCError({ code: "BAD_REQUEST", message: "x-tenant-id header is required (a tenant id or slug)." });
  if (!TENANT_REF_PATTERN.test(ref)) {
    throw new TRPCError({ code: "BAD_REQUEST", message: "x-tenant-id header must be a tenant id or slug." });
  }
  return ref;
}

/**
 * Resolves `x-tenant-id` among the user's tenants and runs the procedure in one transaction
 * bound to that tenant: RLS then shows only its rows. A failed procedure rolls the whole
 * transaction back, so nothing is half-written. `ctx.afterCommit` as in userProcedure.
 */
export const tenantProcedure = authedProcedure.use(async ({ ctx, next }) => {
  const ref = tenantRefOf(ctx);
  const queue = afterCommitQueue();
  const result = await ctx.db.transaction(async (tx: Transaction) => {
    const membership = await enterTenant({ db: tx, userId: ctx.auth.user.id, ref });
    if (!membership) throw tenantNotFound(ref);
    const inner = await next({ ctx: { db: tx, tenant: membership.tenant, role: membership.role, afterCommit: queue.afterCommit } });
    if (!inner.ok) throw inner.error;
    return inner;
  });
  await queue.run();
  return result;
});

/**
 * The same membership check without holding a transaction for the whole call: for work that
 * takes long outside the database (decoding a picture, writing to S3), which would otherwise pin a
 * pooled connection. The procedure runs its short tenant-bound transactions through `ctx.inTenant`.
 */
export const tenantMemberProcedure = authedProcedure.use(async ({ ctx, next }) => {
  const ref = tenantRefOf(ctx);
  const userId = ctx.auth.user.id;
  const membership = await ctx.db.transaction((tx) => enterTenant({ db: tx, userId, ref }));
  if (!membership) throw tenantNotFound(ref);
  const inTenant = <T>(fn: (tx: Transaction) => Promise<T>): Promise<T> =>
    ctx.db.transaction(async (tx) => {
      await bindScope(tx, { userId, tenantId: membership.tenant.id });
      return fn(tx);
    });
  return next({ ctx: { tenant: membership.tenant, role: membership.role, inTenant } });
});

/**
 * The tenant named by `x-tenant-id`, checked for shape only: for a procedure whose single statement
 * resolves the tenant, checks the role and does the work in one round trip (hiring). It answers
 * refusals with tenantNotFound() and roleRefused(), as the tenant procedures do.
 */
export const tenantStatementProcedure = authedProcedure.use(({ ctx, next }) => next({ ctx: { tenantRef: tenantRefOf(ctx) } }));

/** Refuses members whose role in the tenant is not one of `roles`; used after a tenant middleware. */
function roleGuard(roles: TenantRole[]) {
  return t.middleware(({ ctx, next }) => {
    // Runs only after tenantProcedure or tenantMemberProcedure, which put the role on the context.
    const role = (ctx as unknown as { role: TenantRole }).role;
    if (!roles.includes(role)) throw roleRefused(roles, role);
    return next();
  });
}

/** Owners and admins: member management, the audit log. */
export const tenantAdminProcedure = tenantProcedure.use(roleGuard(["owner", "admin"]));
/** Members with the provider role: their own profile. */
export const providerProcedure = tenantProcedure.use(roleGuard(["provider"]));
/** Providers, for uploads that run outside one long transaction. */
export const providerMediaProcedure = tenantMemberProcedure.use(roleGuard(["provider"]));

/**
 * Counts the call against the procedure's limits per address and per account (`RATE_LIMIT_*`) before it
 * does any work; over them it answers TOO_MANY_REQUESTS with `retryAfterSeconds`. Each call of a batch
 * counts as one. Used after `.input()`, so only calls with valid input count.
 */
export function rateLimited(name: RateLimitName) {
  return t.middleware(async ({ ctx, next }) => {
    await ctx.rateLimits.take(name, { userId: ctx.auth?.user.id ?? null, address: ctx.request.ip });
    return next();
  });
}

/**
 * Idempotent creates (server/idempotency): `.use(idempotent)` on an authenticated procedure, after its
 * `.input()`, checks the `Idempotency-Key` header (a BAD_REQUEST naming it when malformed) and gives the
 * procedure `ctx.idempotency`: null without the header, otherwise the key scoped to the user and this
 * procedure's path, with the fingerprint of the request (its tenant and validated input). The service
 * then claims it in the create's own transaction, with `runOnce({ db: ctx.db, request: ctx.idempotency, create })` (or, for
 * hires, inside app_create_hire), so the key commits exactly when the create does.
 */
export const idempotent = t.middleware(({ ctx, path, input, next }) => {
  if (!ctx.auth) throw new Error(`idempotent needs an authenticated procedure (${path})`);
  // The tenant the call names: tenantStatementProcedure leaves the reference, the others the tenant.
  const named = ctx as unknown as { tenantRef?: string; tenant?: { id: string } };
  const idempotency = idempotencyRequestOf({
    rawKey: ctx.request.idempotencyKey,
    userId: ctx.auth.user.id,
    procedure: path,
    tenant: named.tenantRef ?? named.tenant?.id ?? null,
    input,
    now: ctx.clock(),
    onReplay: () => {
      ctx.response.setHeader(IDEMPOTENT_REPLAYED_HEADER, "true");
      ctx.log.info({ path, idempotencyKey: ctx.request.idempotencyKey }, "idempotent replay");
    },
  });
  return next({ ctx: { idempotency } });
});

/** Who did it and from where, for the audit log. */
export function auditActorOf(ctx: {
  auth: { user: { id: string }; session: { id: string } };
  request: { id: string; ip: string | null; userAgent: string | null };
}) {
  return {
    userId: ctx.auth.user.id,
    sessionId: ctx.auth.session.id,
    ip: ctx.request.ip,
    userAgent: ctx.request.userAgent,
    requestId: ctx.request.id,
  };
}
