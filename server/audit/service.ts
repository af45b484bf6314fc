import { and, desc, eq, lt } from "drizzle-orm";
import type { Transaction } from "../../db/client";
import { auditLog } from "../../db/schema";
import { IdPosition, openCursor, scopeDigest, sealCursor } from "../cursor";
import { takePage } from "../pagination";
import type { TenantRole } from "../tenants/resolve";

export type AuditActor = {
  userId: string | null;
  sessionId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
};

/**
 * What changed, in the same shape in every feature: `changes` of a record created lists its first values
 * (`{ name, slug }`, `{ status, providerId }`), and a field that changed is `{ from, to }`
 * (`{ role: { from, to } }`, `{ status: { from, to } }`); other facts of the change sit beside them.
 */
export type AuditEntry = {
  tenantId: string;
  action: string;
  entityType: string;
  entityId: string;
  changes?: Record<string, unknown>;
};

/**
 * The actor's part of every audit row: its user, session, address, user agent (cut to the 512 characters
 * stored) and request id. recordAudit writes it; the hire functions, which write their audit rows in
 * their own statement, take it as their `actor` (app_write_audit), so both rows are alike.
 */
export function auditActorColumns(actor: AuditActor) {
  return {
    actorUserId: actor.userId,
    actorSessionId: actor.sessionId,
    ip: actor.ip,
    userAgent: actor.userAgent?.slice(0, 512) ?? null,
    requestId: actor.requestId,
  };
}
export type AuditActorColumns = ReturnType<typeof auditActorColumns>;

/** The row's entry, who wrote it, and the transaction of the change it describes. */
export type RecordAuditOptions = AuditEntry & { db: Transaction; actor: AuditActor };

/** Writes one audit row with the caller's transaction, so it commits or rolls back with the change. */
export async function recordAudit({ db, actor, ...entry }: RecordAuditOptions): Promise<void> {
  await db.insert(auditLog).values({
    tenantId: entry.tenantId,
    ...auditActorColumns(actor),
    action: entry.action,
    entityType: entry.entityType,
    entityId: entry.entityId,
    changes: entry.changes ?? {},
  });
}

/**
 * Whose session ids a reader sees: an owner everyone's, anyone else only their own. A session id names a
 * device's session (auth.sessions.revoke takes one); an admin has no use for another member's.
 */
export type AuditReader = { userId: string; role: TenantRole };

const sessionIdFor = (reader: AuditReader, entry: { actorUserId: string | null; actorSessionId: string | null }) =>
  reader.role === "owner" || entry.actorUserId === reader.userId ? entry.actorSessionId : null;

export type ListAuditOptions = {
  db: Transaction;
  tenantId: string;
  reader: AuditReader;
  cursor?: string;
  actorId?: string;
  entityType?: string;
  action?: string;
  limit: number;
  cursorSecret: string;
};

/**
 * Newest first, by id (UUIDv7, so by time). The cursor holds the last id of the previous page, signed
 * for this tenant and these filters (server/cursor.ts).
 */
export async function listAudit({ db, tenantId, reader, cursor, actorId, entityType, action, limit, cursorSecret }: ListAuditOptions) {
  const scope = `audit.list:${tenantId}:${scopeDigest({ actorId, entityType, action })}`;
  const after = cursor ? openCursor(cursorSecret, scope, cursor, IdPosition).id : undefined;
  const rows = await db
    .select({
      id: auditLog.id,
      actorUserId: auditLog.actorUserId,
      actorSessionId: auditLog.actorSessionId,
      action: auditLog.action,
      entityType: auditLog.entityType,
      entityId: auditLog.entityId,
      changes: auditLog.changes,
      ip: auditLog.ip,
      userAgent: auditLog.userAgent,
      requestId: auditLog.requestId,
      createdAt: auditLog.createdAt,
    })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.tenantId, tenantId),
        after ? lt(auditLog.id, after) : undefined,
        actorId ? eq(auditLog.actorUserId, actorId) : undefined,
        entityType ? eq(auditLog.entityType, entityType) : undefined,
        action ? eq(auditLog.action, action) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(limit + 1);
  const { page, nextCursor } = takePage(rows, limit, (r) => sealCursor(cursorSecret, scope, { id: r.id }));
  return { items: page.map((r) => ({ ...r, actorSessionId: sessionIdFor(reader, r), createdAt: r.createdAt.toISOString() })), nextCursor };
}
