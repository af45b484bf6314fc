import { sql } from "drizzle-orm";
import { rowsOf, type Transaction } from "../../db/client";
import type { tenantRoles } from "../../db/schema";
import { AppError } from "../errors";

export type TenantRole = (typeof tenantRoles)[number];
export type TenantRef = { id: string; slug: string; name: string };

export const TENANT_REF_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/i;

/**
 * The tenant resolver in one round trip (db function app_enter_tenant): binds the user, finds the
 * tenant among theirs by id or slug, and binds it for row-level security. Null, with no tenant
 * bound, for an unknown tenant and for one the user is not in alike. Must run in a transaction.
 */
export type EnterTenantOptions = { db: Transaction; userId: string; ref: string };

export async function enterTenant({ db, userId, ref }: EnterTenantOptions): Promise<{ tenant: TenantRef; role: TenantRole } | null> {
  const rows = await db.execute<{ tenant_id: string; tenant_slug: string; tenant_name: string; member_role: TenantRole }>(
    sql`select tenant_id, tenant_slug, tenant_name, member_role from app_enter_tenant(${userId}::uuid, ${ref})`,
  );
  const [row] = rowsOf<{ tenant_id: string; tenant_slug: string; tenant_name: string; member_role: TenantRole }>(rows);
  return row ? { tenant: { id: row.tenant_id, slug: row.tenant_slug, name: row.tenant_name }, role: row.member_role } : null;
}

/** An unknown tenant and one that is not yours answer alike. */
export function tenantNotFound(ref: string): AppError {
  return new AppError("NOT_FOUND", `Tenant "${ref}" not found among your tenants.`);
}

/** A member whose role in the tenant is not one of `roles`. */
export function roleRefused(roles: TenantRole[], role: TenantRole): AppError {
  return new AppError("FORBIDDEN", `This needs the ${roles.join(" or ")} role in this tenant; you are ${role}.`);
}
