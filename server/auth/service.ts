import { and, desc, eq } from "drizzle-orm";
import type { Redis } from "ioredis";
import type { Database, Transaction } from "../../db/client";
import { memberships, sessions, tenants, users } from "../../db/schema";
import { withUserScope } from "../db-scope";
import { AppError, pgErrorCode, PG_UNIQUE_VIOLATION } from "../errors";
import type { Logger } from "../logger";
import type { StreamSettings } from "../notifications/doorbell";
import { announce } from "../notifications/stream";
import { hashPassword, verifyAgainstDummy, verifyPassword } from "./passwords";
import type { LogInInput, SignUpInput } from "./schemas";
import type { SessionCache } from "./session-cache";
import { createSession, sessionExpiry, type SessionPolicy } from "./sessions";
import type { LoginThrottle } from "./throttle";

type Client = { ip: string | null; userAgent: string | null };

const userColumns = {
  id: users.id,
  email: users.email,
  firstName: users.firstName,
  lastName: users.lastName,
  phone: users.phone,
};

/** `db`: a transaction bound to the user (userProcedure), which sees their memberships. */
export type ListUserTenantsOptions = { db: Transaction; userId: string };

/** Every tenant the user belongs to, with their role: the `tenants_associated` of the original log-in. */
export function listUserTenants({ db, userId }: ListUserTenantsOptions) {
  return db
    .select({ id: tenants.id, slug: tenants.slug, name: tenants.name, role: memberships.role })
    .from(memberships)
    .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
    .where(eq(memberships.userId, userId))
    .orderBy(tenants.name);
}

export type SignUpOptions = {
  /** The pool: sign-up opens its own transaction (see below). */
  db: Database;
  input: SignUpInput;
  now: Date;
  policy: SessionPolicy;
  client: Client;
  throttle: LoginThrottle;
};

/**
 * Creates the account and its first session. The password is hashed before the email is looked at, so
 * a taken email and a free one cost the same work; a taken one still answers CONFLICT (the API returns a
 * working token on sign-up, which no answer for someone else's email can honestly carry: see
 * docs/security.md). Sign-ups are rate-limited per address by the router.
 *
 * One of the services that open their own transaction (README, Layout): a public call, whose user and
 * session commit together, opened only after the hash (argon2id, tens of ms) so that no pooled
 * connection waits on it.
 */
export async function signUp({ db, input, now, policy, client, throttle }: SignUpOptions) {
  const passwordHash = await hashPassword(input.password);
  const result = await db.transaction(async (tx) => {
    let user;
    try {
      [user] = await tx
        .insert(users)
        .values({
          email: input.email,
          passwordHash,
          firstName: input.firstName,
          lastName: input.lastName,
          phone: input.phone ?? null,
        })
        .returning(userColumns);
    } catch (err) {
      if (pgErrorCode(err) === PG_UNIQUE_VIOLATION) {
        throw new AppError("CONFLICT", "An account with this email already exists: log in instead.", {
          issues: [{ path: "email", message: "is already registered" }],
        });
      }
      throw err;
    }
    if (!user) throw new Error("insert returned no user");
    const { token } = await createSession({ db: tx, userId: user.id, now, policy, ...client });
    return { token, user, tenants: [] };
  });
  await throttle.rememberAddress(result.user.email, client.ip);
  return result;
}

export type LogInOptions = {
  /** The pool: log-in reads the user's tenants in a transaction of its own (see below). */
  db: Database;
  input: LogInInput;
  now: Date;
  policy: SessionPolicy;
  client: Client;
  throttle: LoginThrottle;
  /** Called once per password check, right or wrong (the metric `aiutami_login_password_checks_total`). */
  onPasswordCheck?: () => void;
};

/**
 * Checks the password (argon2id) once the throttle has admitted the attempt: it reserves first, so
 * attempts in flight together get at most the limit of checks. An unknown email costs the same hash
 * work, the same counting and the same answer as a wrong password.
 *
 * One of the services that open their own transaction (README, Layout): a public call knows its user
 * only once the password is right, so the tenants are read in a short transaction bound to that user.
 * The user and the session need none (no row-level security on them; one statement each).
 */
export async function logIn({ db, input, now, policy, client, throttle, onPasswordCheck }: LogInOptions) {
  const { email, password } = input;
  const reservation = await throttle.reserve(email, client.ip);
  const [found] = await db
    .select({ ...userColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, email))
    .limit(1);
  const ok = found ? await verifyPassword(found.passwordHash, password) : await verifyAgainstDummy(password);
  onPasswordCheck?.();
  if (!found || !ok) throw new AppError("UNAUTHORIZED", "Email or password is incorrect.");
  await reservation.succeeded();
  const { passwordHash: _hash, ...user } = found;
  const { token } = await createSession({ db, userId: user.id, now, policy, ...client });
  return { token, user, tenants: await withUserScope(db, user.id, (tx) => listUserTenants({ db: tx, userId: user.id })) };
}

export type ListSessionsOptions = { db: Database; userId: string; currentId: string; policy: SessionPolicy };

export async function listSessions({ db, userId, currentId, policy }: ListSessionsOptions) {
  const rows = await db
    .select({
      id: sessions.id,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      ip: sessions.ip,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(eq(sessions.userId, userId))
    .orderBy(desc(sessions.lastSeenAt));
  return rows.map((r) => ({
    id: r.id,
    current: r.id === currentId,
    createdAt: r.createdAt.toISOString(),
    lastSeenAt: r.lastSeenAt.toISOString(),
    expiresAt: sessionExpiry(r, policy).toISOString(),
    ip: r.ip,
    userAgent: r.userAgent,
  }));
}

/** Which of the user's sessions to end. */
export type SessionsToRevoke =
  /** This device's own session (log out): ended and announced even when another call ended it a moment ago. */
  | { kind: "current"; sessionId: string }
  /** One of the user's sessions by id (a device of auth.sessions.list): someone else's, or an unknown one, answers NOT_FOUND and nothing is announced. */
  | { kind: "one"; sessionId: string }
  /** Every session of the user, this one included (log out everywhere). */
  | { kind: "all" };

export type RevokeSessionsOptions = {
  /** The pool: the delete is one statement, committed before anyone is told. */
  db: Database;
  sessionCache: SessionCache;
  redis: Redis;
  stream: StreamSettings;
  log: Logger;
  userId: string;
  sessions: SessionsToRevoke;
};

/**
 * Ends sessions, for log-out, log-out everywhere and revoking a device: deletes their rows, drops them
 * from every process's session cache (SessionCache.revoke, after the delete has committed, so no process
 * caches the row again), and tells the user's open devices (each hub closes the sockets of those sessions).
 * The session cookie is the router's: it clears it when the caller's own session ends.
 * Returns the ids of the rows deleted.
 */
export async function revokeSessions({ db, sessionCache, redis, stream, log, userId, sessions: which }: RevokeSessionsOptions): Promise<string[]> {
  const ofUser = eq(sessions.userId, userId);
  const rows = await db
    .delete(sessions)
    .where(which.kind === "all" ? ofUser : and(eq(sessions.id, which.sessionId), ofUser))
    .returning({ id: sessions.id });
  if (which.kind === "one" && rows.length === 0) throw new AppError("NOT_FOUND", "No such session among yours.");
  const sessionIds = which.kind === "all" ? "all" : [which.sessionId];
  await sessionCache.revoke({ userId, sessionIds });
  await announce({ redis, stream, log, userId, event: { kind: "revoked", sessionIds } });
  return rows.map((r) => r.id);
}
