import { sql } from "drizzle-orm";
import { check, index, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns";
import { users } from "./users";

/**
 * Care agencies. Each runs its own marketplace; row-level security keeps them apart.
 * A slug is lower-case letters, digits and inner hyphens, and never something PostgreSQL reads as a
 * uuid once its hyphens are dropped: `x-tenant-id` names a tenant by id or by slug, and neither may
 * stand for the other (server/tenants/slug.ts holds the same rule for input).
 */
export const tenants = pgTable(
  "tenants",
  {
    id: id(),
    slug: text().notNull().unique(),
    name: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    check("tenants_slug_format", sql`${t.slug} ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'`),
    check("tenants_slug_not_an_id", sql`replace(${t.slug}, '-', '') !~* '^[0-9a-f]{32}$'`),
  ],
);

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

export const invitationStatuses = ["pending", "accepted", "declined", "revoked"] as const;
export const invitationStatus = pgEnum("invitation_status", invitationStatuses);

/**
 * An invitation to join a tenant with a role, addressed to an email as staff typed it (trimmed and
 * lower-cased, like users.email). It names no account: whoever holds an account with that email sees
 * it and may accept it, until it expires. At most one pending invitation per tenant and email.
 */
export const tenantInvitations = pgTable(
  "tenant_invitations",
  {
    id: id(),
    tenantId: tenantId(),
    email: text().notNull(),
    role: tenantRole().notNull(),
    status: invitationStatus().notNull().default("pending"),
    /** The staff member who sent it; null once their account is deleted. */
    invitedBy: uuid().references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    /** When it was accepted, declined or revoked. */
    closedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex("tenant_invitations_pending_idx").on(t.tenantId, t.email).where(sql`status = 'pending'`),
    index("tenant_invitations_email_pending_idx").on(t.email).where(sql`status = 'pending'`),
  ],
);
