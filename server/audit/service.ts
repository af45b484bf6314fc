import { and, desc, eq, lt } from "drizzle-orm";
import type { Database } from "../../db/client";
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

/** Writes one audit row with the caller's transaction, so it commits or rolls back with the change. */
export async function recordAudit(tx: Database, actor: AuditActor, entry: AuditEntry): Promise<void> {
  await tx.insert(auditLog).values({
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

/**
 * Newest first, by id (UUIDv7, so by time). The cursor holds the last id of the previous page, signed
 * for this tenant and these filters (server/cursor.ts).
 */
export async function listAudit(opts: {
  db: Database;
  tenantId: string;
  reader: AuditReader;
  cursor?: string;
  actorId?: string;
  entityType?: string;
  action?: string;
  limit: number;
  cursorSecret: string;
}) {
  const scope = `audit.list:${opts.tenantId}:${scopeDigest({ actorId: opts.actorId, entityType: opts.entityType, action: opts.action })}`;
  const after = opts.cursor ? openCursor(opts.cursorSecret, scope, opts.cursor, IdPosition).id : undefined;
  const rows = await opts.db
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
        eq(auditLog.tenantId, opts.tenantId),
        after ? lt(auditLog.id, after) : undefined,
        opts.actorId ? eq(auditLog.actorUserId, opts.actorId) : undefined,
        opts.entityType ? eq(auditLog.entityType, opts.entityType) : undefined,
        opts.action ? eq(auditLog.action, opts.action) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(opts.limit + 1);
  const { page, nextCursor } = takePage(rows, opts.limit, (r) => sealCursor(opts.cursorSecret, scope, { id: r.id }));
  return { items: page.map((r) => ({ ...r, actorSessionId: sessionIdFor(opts.reader, r), createdAt: r.createdAt.toISOString() })), nextCursor };
}
