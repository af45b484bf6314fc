import { sha256 } from "@oslojs/crypto/sha2";
import { constantTimeEqual } from "@oslojs/crypto/subtle";
import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";
import { eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { sessions, users } from "../../db/schema";
import type { SessionCache } from "./session-cache";

/** How long a session lives: idle timeout and hard limit, both from the config. */
export type SessionPolicy = { inactivityMs: number; absoluteMs: number };

export type SessionUser = {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  phone: string | null;
};

export type ValidSession = {
  id: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
};

/** last_seen_at is written at most this often, so reads do not turn into writes. */
const LAST_SEEN_REFRESH_MS = 60 * 60 * 1000;
const TOKEN_PATTERN = /^[a-z2-7]{26}\.[a-z2-7]{52}$/;

function randomBase32(bytes: number): string {
  return encodeBase32LowerCaseNoPadding(crypto.getRandomValues(new Uint8Array(bytes)));
}

function hashSecret(secret: string): Uint8Array {
  return sha256(new TextEncoder().encode(secret));
}

/** The earlier of the idle deadline and the absolute one. */
export function sessionExpiry(s: { createdAt: Date; lastSeenAt: Date }, policy: SessionPolicy): Date {
  return new Date(Math.min(s.lastSeenAt.getTime() + policy.inactivityMs, s.createdAt.getTime() + policy.absoluteMs));
}

export type FindEndedSessionsOptions = { db: Database; sessionIds: string[]; now: Date; policy: SessionPolicy };

/**
 * Of `sessionIds`, those that no longer hold at `now`: unknown (logged out, revoked, deleted) or past
 * their expiry. A query that fails throws, so a database that is down ends no session.
 */
export async function findEndedSessions({ db, sessionIds, now, policy }: FindEndedSessionsOptions): Promise<string[]> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .select({ id: sessions.id, createdAt: sessions.createdAt, lastSeenAt: sessions.lastSeenAt })
    .from(sessions)
    .where(inArray(sessions.id, sessionIds));
  const alive = new Set(rows.filter((r) => sessionExpiry(r, policy).getTime() > now.getTime()).map((r) => r.id));
  return sessionIds.filter((id) => !alive.has(id));
}

export type CreateSessionOptions = {
  db: Database;
  userId: string;
  now: Date;
  policy: SessionPolicy;
  ip?: string | null;
  userAgent?: string | null;
};

/**
 * Creates a session and returns its token `<id>.<secret>`: a 128-bit id and a 256-bit secret
 * from the CSPRNG. Only SHA-256(secret) is stored.
 */
export async function createSession({ db, userId, now, policy, ip, userAgent }: CreateSessionOptions): Promise<{ token: string; session: ValidSession }> {
  const id = randomBase32(16);
  const secret = randomBase32(32);
  await db.insert(sessions).values({
    id,
    userId,
    secretHash: hashSecret(secret),
    createdAt: now,
    lastSeenAt: now,
    ip: ip ?? null,
    userAgent: userAgent?.slice(0, 512) ?? null,
  });
  const record = { id, userId, createdAt: now, lastSeenAt: now };
  return { token: `${id}.${secret}`, session: { ...record, expiresAt: sessionExpiry(record, policy) } };
}

function buildSessionLookup(db: Database) {
  return db
    .select({
      id: sessions.id,
      userId: sessions.userId,
      secretHash: sessions.secretHash,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      user: { id: users.id, email: users.email, firstName: users.firstName, lastName: users.lastName, phone: users.phone },
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder("id")))
    .limit(1)
    .prepare("session_by_id");
}

// Every request checks its session: the query is built once per database handle, not per request.
const lookups = new WeakMap<Database, ReturnType<typeof buildSessionLookup>>();
function sessionLookup(db: Database) {
  let lookup = lookups.get(db);
  if (!lookup) lookups.set(db, (lookup = buildSessionLookup(db)));
  return lookup;
}

export type ValidateSessionTokenOptions = {
  db: Database;
  token: string;
  now: Date;
  policy: SessionPolicy;
  /** Rows read a moment ago, when this process keeps them (the API does; see SessionCache). */
  cache?: SessionCache;
};

/**
 * Checks a token: known id, matching secret (constant-time), not idle too long, not past its
 * absolute lifetime. Expired sessions are deleted on sight. Returns null for anything invalid.
 */
export async function validateSessionToken({ db, token, now, policy, cache }: ValidateSessionTokenOptions): Promise<{ session: ValidSession; user: SessionUser } | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  const [id, secret] = token.split(".") as [string, string];
  let row = cache?.get(id);
  if (!row) {
    const seen = cache?.generation ?? 0;
    const [found] = await sessionLookup(db).execute({ id });
    row = found && { ...found, id };
    if (row) cache?.set(row, seen);
  }
  if (!row || !constantTimeEqual(hashSecret(secret), row.secretHash)) return null;

  const expiresAt = sessionExpiry(row, policy);
  if (now.getTime() >= expiresAt.getTime()) {
    cache?.forget({ userId: row.userId, sessionIds: [id] });
    await db.delete(sessions).where(eq(sessions.id, id));
    return null;
  }
  let lastSeenAt = row.lastSeenAt;
  if (now.getTime() - lastSeenAt.getTime() >= LAST_SEEN_REFRESH_MS) {
    lastSeenAt = now;
    await db.update(sessions).set({ lastSeenAt }).where(eq(sessions.id, id));
    // The cached row now carries the new time, so the next call does not write again.
    row.lastSeenAt = lastSeenAt;
  }
  const session = { id, userId: row.userId, createdAt: row.createdAt, lastSeenAt };
  return { session: { ...session, expiresAt: sessionExpiry(session, policy) }, user: row.user };
}
