import { index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { users } from "./users";

/**
 * One row per create that ran under an `Idempotency-Key` (server/idempotency): written in the same
 * transaction as the create itself, so it exists exactly when the create committed. A retry with the
 * same key, by the same user, to the same procedure, answers `response` instead of running again, until
 * `expires_at` (24 h); a retry whose request `fingerprint` differs is refused.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The tRPC path, e.g. `hires.create`: a key is scoped per user and per procedure. */
    procedure: text().notNull(),
    key: text().notNull(),
    /** SHA-256 (hex) of the request: its tenant and its validated input, canonically serialised. */
    fingerprint: text().notNull(),
    /** The first answer, as the procedure's output schema shapes it. Null only inside the create's own transaction. */
    response: jsonb(),
    createdAt: timestamp({ withTimezone: true }).notNull(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.procedure, t.key] }), index().on(t.userId, t.expiresAt)],
);
