import { and, desc, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client";
import { notifications, userInbox, type NotificationTenant } from "../../db/schema";
import { openCursor, sealCursor } from "../cursor";
import { withUserScope } from "../db-scope";
import { takePage } from "../pagination";
import type { Notification } from "./schemas";

/** A committed notification as the stream and the sockets carry it. */
export type NotificationRecord = Notification & { userId: string };

export const notificationColumns = {
  id: notifications.id,
  userId: notifications.userId,
  seq: notifications.seq,
  type: notifications.type,
  tenant: notifications.tenant,
  payload: notifications.payload,
  createdAt: notifications.createdAt,
  readAt: notifications.readAt,
};

type Row = { id: string; userId: string; seq: number; type: string; tenant: NotificationTenant; payload: Record<string, unknown>; createdAt: Date; readAt: Date | null };

export function toNotification(row: Row): NotificationRecord {
  return {
    id: row.id,
    userId: row.userId,
    seq: Number(row.seq),
    type: row.type,
    tenant: row.tenant,
    payload: row.payload,
    createdAt: row.createdAt.toISOString(),
    readAt: row.readAt ? row.readAt.toISOString() : null,
  } as NotificationRecord;
}

/** The newest seq the user has: where a new device starts. */
export async function latestSeq(db: Database, userId: string): Promise<number> {
  const [row] = await db.select({ seq: userInbox.lastSeq }).from(userInbox).where(eq(userInbox.userId, userId));
  return row ? Number(row.seq) : 0;
}

const SeqPosition = z.object({ seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) }).strict();

/** Newest first; the cursor is signed for this user and these filters (server/cursor.ts). */
export function listNotifications(db: Database, opts: { userId: string; unreadOnly: boolean; tenant?: string; cursor?: string; limit: number; cursorSecret: string }) {
  const scope = `notifications.list:${opts.userId}:${opts.unreadOnly}:${opts.tenant ?? ""}`;
  // Verified before the transaction opens: a forged cursor reaches no SQL.
  const before = opts.cursor ? openCursor(opts.cursorSecret, scope, opts.cursor, SeqPosition).seq : undefined;
  return withUserScope(db, opts.userId, async (tx) => {
    const rows = await tx
      .select(notificationColumns)
      .from(notifications)
      .where(
        and(
          eq(notifications.userId, opts.userId),
          opts.unreadOnly ? isNull(notifications.readAt) : undefined,
          opts.tenant ? eq(notifications.tenantId, opts.tenant) : undefined,
          before !== undefined ? lt(notifications.seq, before) : undefined,
        ),
      )
      .orderBy(desc(notifications.seq))
      .limit(opts.limit + 1);
    const { page, nextCursor } = takePage(rows, opts.limit, (r) => sealCursor(opts.cursorSecret, scope, { seq: Number(r.seq) }));
    return { items: page.map(toNotification), nextCursor };
  });
}

export function countUnread(db: Database, userId: string) {
  return withUserScope(db, userId, async (tx) => {
    const [row] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(notifications)
      .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)));
    return { count: row?.count ?? 0 };
  });
}

/** Marks the user's own notifications read (ids of others are ignored). Returns the ids that changed. */
export function markRead(db: Database, opts: { userId: string; ids?: string[]; now: Date }) {
  return withUserScope(db, opts.userId, async (tx) => {
    const rows = await tx
      .update(notifications)
      .set({ readAt: opts.now })
      .where(and(eq(notifications.userId, opts.userId), isNull(notifications.readAt), opts.ids ? inArray(notifications.id, opts.ids) : undefined))
      .returning({ id: notifications.id });
    return rows.map((r) => r.id);
  });
}

/** Notifications of one user after `afterSeq` (up to `uptoSeq`), in order: the hub's catch-up from PostgreSQL. */
export function notificationsAfter(db: Database, opts: { userId: string; afterSeq: number; uptoSeq?: number; limit: number }) {
  return withUserScope(db, opts.userId, async (tx) => {
    const rows = await tx
      .select(notificationColumns)
      .from(notifications)
      .where(and(eq(notifications.userId, opts.userId), gt(notifications.seq, opts.afterSeq), opts.uptoSeq ? sql`${notifications.seq} <= ${opts.uptoSeq}` : undefined))
      .orderBy(notifications.seq)
      .limit(opts.limit);
    return rows.map(toNotification);
  });
}

/** The seq of one of the user's notifications, by id (a device's `lastId`); null when it is not theirs. */
export function seqOfNotification(db: Database, opts: { userId: string; id: string }) {
  return withUserScope(db, opts.userId, async (tx) => {
    const [row] = await tx.select({ seq: notifications.seq }).from(notifications).where(and(eq(notifications.userId, opts.userId), eq(notifications.id, opts.id)));
    return row ? Number(row.seq) : null;
  });
}
