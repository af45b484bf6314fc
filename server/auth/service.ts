import { and, desc, eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { memberships, sessions, tenants, users } from "../../db/schema";
import { withUserScope } from "../db-scope";
import { AppError, pgErrorCode, PG_UNIQUE_VIOLATION } from "../errors";
import { hashPassword, verifyAgainstDummy, verifyPassword } from "./passwords";
import type { LogInInput, SignUpInput } from "./schemas";
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

/** Every tenant the user belongs to, with their role: the `tenants_associated` of the original log-in. */
export function listUserTenants(db: Database, userId: string) {
  return withUserScope(db, userId, (tx) =>
    tx
      .select({ id: tenants.id, slug: tenants.slug, name: tenants.name, role: memberships.role })
      .from(memberships)
      .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
      .where(eq(memberships.userId, userId))
      .orderBy(tenants.name),
  );
}

/**
 * Creates the account and its first session. The password is hashed before the email is looked at, so
 * a taken email and a free one cost the same work; a taken one still answers CONFLICT (the API returns a
 * working token on sign-up, which no answer for someone else's email can honestly carry: see
 * docs/security.md). Sign-ups are rate-limited per address by the router.
 */
export async function signUp(opts: {
  db: Database;
  input: SignUpInput;
  now: Date;
  policy: SessionPolicy;
  client: Client;
  throttle: LoginThrottle;
}) {
  const passwordHash = await hashPassword(opts.input.password);
  const result = await opts.db.transaction(async (tx) => {
    let user;
    try {
      [user] = await tx
        .insert(users)
        .values({
          email: opts.input.email,
          passwordHash,
          firstName: opts.input.firstName,
          lastName: opts.input.lastName,
          phone: opts.input.phone ?? null,
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
    const { token } = await createSession({ db: tx, userId: user.id, now: opts.now, policy: opts.policy, ...opts.client });
    return { token, user, tenants: [] };
  });
  await opts.throttle.rememberAddress(result.user.email, opts.client.ip);
  return result;
}

/**
 * Checks the password (argon2id) once the throttle has admitted the attempt: it reserves first, so
 * attempts in flight together get at most the limit of checks. An unknown email costs the same hash
 * work, the same counting and the same answer as a wrong password.
 */
export async function logIn(opts: {
  db: Database;
  input: LogInInput;
  now: Date;
  policy: SessionPolicy;
  client: Client;
  throttle: LoginThrottle;
  /** Called once per password check, right or wrong (the metric `aiutami_login_password_checks_total`). */
  onPasswordCheck?: () => void;
}) {
  const { email, password } = opts.input;
  const reservation = await opts.throttle.reserve(email, opts.client.ip);
  const [found] = await opts.db
    .select({ ...userColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, email))
    .limit(1);
  const ok = found ? await verifyPassword(found.passwordHash, password) : await verifyAgainstDummy(password);
  opts.onPasswordCheck?.();
  if (!found || !ok) throw new AppError("UNAUTHORIZED", "Email or password is incorrect.");
  await reservation.succeeded();
  const { passwordHash: _hash, ...user } = found;
  const { token } = await createSession({ db: opts.db, userId: user.id, now: opts.now, policy: opts.policy, ...opts.client });
  return { token, user, tenants: await listUserTenants(opts.db, user.id) };
}

export async function listSessions(opts: { db: Database; userId: string; currentId: string; policy: SessionPolicy }) {
  const rows = await opts.db
    .select({
      id: sessions.id,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      ip: sessions.ip,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(eq(sessions.userId, opts.userId))
    .orderBy(desc(sessions.lastSeenAt));
  return rows.map((r) => ({
    id: r.id,
    current: r.id === opts.currentId,
    createdAt: r.createdAt.toISOString(),
    lastSeenAt: r.lastSeenAt.toISOString(),
    expiresAt: sessionExpiry(r, opts.policy).toISOString(),
    ip: r.ip,
    userAgent: r.userAgent,
  }));
}

/** Revokes one of the caller's own sessions; someone else's id answers as unknown. */
export async function revokeSession(opts: { db: Database; userId: string; sessionId: string }) {
  const deleted = await opts.db
    .delete(sessions)
    .where(and(eq(sessions.id, opts.sessionId), eq(sessions.userId, opts.userId)))
    .returning({ id: sessions.id });
  if (deleted.length === 0) throw new AppError("NOT_FOUND", "No such session among yours.");
}
