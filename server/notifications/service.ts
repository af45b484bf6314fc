import { and, desc, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database, Transaction } from "../../db/client";
import { notifications, userInbox, type NotificationTenant } from "../../db/schema";
import { openCursor, sealCursor } from "../cursor";
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

export type LatestSeqOptions = { db: Database; userId: string };

/** The newest seq the user has: where a new device starts. */
export async function latestSeq({ db, userId }: LatestSeqOptions): Promise<number> {
  const [row] = await db.select({ seq: userInbox.lastSeq }).from(userInbox).where(eq(userInbox.userId, userId));
  return row ? Number(row.seq) : 0;
}

const SeqPosition = z.object({ seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) }).strict();

/**
 * `db` below is a transaction bound to the user (userProcedure's, or the hub's withUserScope): row-level
 * security shows a user only their own notifications.
 */
export type ListNotificationsOptions = { db: Transaction; userId: string; unreadOnly: boolean; tenant?: string; cursor?: string; limit: number; cursorSecret: string };

/** Newest first; the cursor is signed for this user and these filters (server/cursor.ts). */
export async function listNotifications({ db, userId, unreadOnly, tenant, cursor, limit, cursorSecret }: ListNotificationsOptions) {
  const scope = `notifications.list:${userId}:${unreadOnly}:${tenant ?? ""}`;
  // Verified before any query reads it: a forged cursor reaches no SQL.
  const before = cursor ? openCursor(cursorSecret, scope, cursor, SeqPosition).seq : undefined;
  const rows = await db
    .select(notificationColumns)
    .from(notifications)
    .where(
      and(
        eq(notifications.userId, userId),
        unreadOnly ? isNull(notifications.readAt) : undefined,
        tenant ? eq(notifications.tenantId, tenant) : undefined,
        before !== undefined ? lt(notifications.seq, before) : undefined,
      ),
    )
    .orderBy(desc(notifications.seq))
    .limit(limit + 1);
  const { page, nextCursor } = takePage(rows, limit, (r) => sealCursor(cursorSecret, scope, { seq: Number(r.seq) }));
  return { items: page.map(toNotification), nextCursor };
}

export type CountUnreadOptions = { db: Transaction; userId: string };

/**
 * The user's unread count, and the seq of their latest notification, read in one statement (one snapshot):
 * the count covers exactly the notifications up to that seq, so a device adds the unread ones it received
 * after it, whichever arrived first, the answer or the notification.
 */
export async function countUnread({ db, userId }: CountUnreadOptions) {
  const [row] = await db
    .select({
      count: sql<number>`count(*)::int`,
      seq: sql<string>`coalesce((select ${userInbox.lastSeq} from ${userInbox} where ${userInbox.userId} = ${userId}), 0)`,
    })
    .from(notifications)
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)));
  return { count: row?.count ?? 0, seq: Number(row?.seq ?? 0) };
}

export type MarkReadOptions = {
  db: Transaction;
  userId: string;
  /** Which of the user's notifications; all their unread ones when absent. */
  ids?: string[];
  now: Date;
};

/** Marks the user's own notifications read (ids of others are ignored). Returns the ids that changed. */
export async function markRead({ db, userId, ids, now }: MarkReadOptions) {
  const rows = await db
    .update(notifications)
    .set({ readAt: now })
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt), ids ? inArray(notifications.id, ids) : undefined))
    .returning({ id: notifications.id });
  return rows.map((r) => r.id);
}

export type NotificationsAfterOptions = { db: Transaction; userId: string; afterSeq: number; uptoSeq?: number; limit: number };

/** Notifications of one user after `afterSeq` (up to `uptoSeq`), in order: the hub's catch-up from PostgreSQL. */
export async function notificationsAfter({ db, userId, afterSeq, uptoSeq, limit }: NotificationsAfterOptions) {
  const rows = await db
    .select(notificationColumns)
    .from(notifications)
    .where(and(eq(notifications.userId, userId), gt(notifications.seq, afterSeq), uptoSeq ? sql`${notifications.seq} <= ${uptoSeq}` : undefined))
    .orderBy(notifications.seq)
    .limit(limit);
  return rows.map(toNotification);
}

export type SeqOfNotificationOptions = { db: Transaction; userId: string; id: string };

/** The seq of one of the user's notifications, by id (a device's `lastId`); null when it is not theirs. */
export async function seqOfNotification({ db, userId, id }: SeqOfNotificationOptions) {
  const [row] = await db.select({ seq: notifications.seq }).from(notifications).where(and(eq(notifications.userId, userId), eq(notifications.id, id)));
  return row ? Number(row.seq) : null;
}
