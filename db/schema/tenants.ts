import { pgEnum, pgTable, primaryKey, index, text, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns";
import { users } from "./users";

/** Care agencies. Each runs its own marketplace; row-level security keeps them apart. */
export const tenants = pgTable("tenants", {
  id: id(),
  slug: text().notNull().unique(),
  name: text().notNull(),
  createdAt: createdAt(),
});

/** The owning tenant of a tenant-owned row: what row-level security compares with the bound tenant. */
export const tenantId = () =>
  uuid()
    .notNull()
    .references(() => tenants.id, { onDelete: "cascade" });

export const tenantRoles = ["owner", "admin", "provider", "client"] as const;
export const tenantRole = pgEnum("tenant_role", tenantRoles);

export const memberships = pgTable(
  "memberships",
  {
    tenantId: tenantId(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: tenantRole().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] }), index().on(t.userId)],
);
