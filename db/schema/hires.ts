import { doublePrecision, index, pgEnum, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { createdAt, id, updatedAt } from "./columns";
import { tenantId } from "./tenants";
import { users } from "./users";

export const hireStatuses = ["requested", "accepted", "declined", "cancelled", "completed"] as const;
export const hireStatus = pgEnum("hire_status", hireStatuses);

/** A client hiring a provider. The client's name and phone are snapshotted as they were at that moment. */
export const hires = pgTable(
  "hires",
  {
    id: id(),
    tenantId: tenantId(),
    clientId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    providerId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    status: hireStatus().notNull().default("requested"),
    jobDescription: text().notNull(),
    location: text().notNull(),
    lat: doublePrecision(),
    lng: doublePrecision(),
    startsAt: timestamp({ withTimezone: true }).notNull(),
    endsAt: timestamp({ withTimezone: true }),
    clientFullName: text().notNull(),
    clientPhone: text(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index().on(t.tenantId, t.clientId, t.id), index().on(t.tenantId, t.providerId, t.id), index().on(t.tenantId, t.id)],
);
