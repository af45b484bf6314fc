import { index, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns";
import { tenantId } from "./tenants";

/** Who did what to which record, from where and when. Append-only for the server's role. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: id(),
    tenantId: tenantId(),
    actorUserId: uuid(),
    actorSessionId: text(),
    action: text().notNull(),
    entityType: text().notNull(),
    entityId: text().notNull(),
    changes: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    ip: text(),
    userAgent: text(),
    requestId: text(),
    createdAt: createdAt(),
  },
  (t) => [index().on(t.tenantId, t.id), index().on(t.tenantId, t.entityType, t.id)],
);
