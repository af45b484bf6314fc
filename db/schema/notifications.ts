import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns";
import { tenantId } from "./tenants";
import { users } from "./users";

/**
 * One counter per recipient. A notification takes the next `seq` under this row's lock, inside the
 * transaction that creates it, so per user seq order is commit order: a reader that has seen seq N
 * knows every smaller seq is committed.
 */
export const userInbox = pgTable("user_inbox", {
  userId: uuid()
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  lastSeq: bigint({ mode: "number" }).notNull().default(0),
});

export type NotificationTenant = { id: string; slug: string; name: string };

/** The durable record of every notification: the outbox the relay streams from, and the inbox users page. */
export const notifications = pgTable(
  "notifications",
  {
    id: id(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    seq: bigint({ mode: "number" }).notNull(),
    tenantId: tenantId(),
    tenant: jsonb().$type<NotificationTenant>().notNull(),
    type: text().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
    readAt: timestamp({ withTimezone: true }),
    /** Set once the entry is in the recipient's Redis stream; null rows are the relay's work. */
    streamedAt: timestamp({ withTimezone: true }),
    streamAttempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex().on(t.userId, t.seq),
    index("notifications_unread_idx").on(t.userId, t.seq).where(sql`${t.readAt} is null`),
    index("notifications_unstreamed_idx").on(t.nextAttemptAt).where(sql`${t.streamedAt} is null`),
  ],
);
