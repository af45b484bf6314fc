import { and, eq, or } from "drizzle-orm";
import type { Database } from "../../db/client";
import { memberships, tenants, type tenantRoles } from "../../db/schema";

export type TenantRole = (typeof tenantRoles)[number];
export type TenantRef = { id: string; slug: string; name: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const TENANT_REF_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/i;

/**
 * The ConnectionResolver: finds the tenant named by id or slug among the user's own.
 * Must run with the user bound (bindScope), so RLS shows only their memberships; a tenant that
 * does not exist and one the user is not in both come back as null.
 */
export async function findMembership(
  tx: Database,
  opts: { userId: string; ref: string },
): Promise<{ tenant: TenantRef; role: TenantRole } | null> {
  const byRef = UUID.test(opts.ref) ? or(eq(tenants.id, opts.ref), eq(tenants.slug, opts.ref)) : eq(tenants.slug, opts.ref.toLowerCase());
  const [row] = await tx
    .select({ id: tenants.id, slug: tenants.slug, name: tenants.name, role: memberships.role })
    .from(tenants)
    .innerJoin(memberships, and(eq(memberships.tenantId, tenants.id), eq(memberships.userId, opts.userId)))
    .where(byRef)
    .limit(1);
  return row ? { tenant: { id: row.id, slug: row.slug, name: row.name }, role: row.role } : null;
}
