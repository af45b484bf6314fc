import { and, eq } from "drizzle-orm";
import { uuidv7 } from "uuidv7";
import type { Database } from "../../db/client";
import { memberships, tenants, users } from "../../db/schema";
import { recordAudit, type AuditActor } from "../audit/service";
import { bindScope } from "../db-scope";
import { AppError, pgErrorCode, PG_UNIQUE_VIOLATION } from "../errors";
import { runOnce, type IdempotencyRequest } from "../idempotency";
import type { TenantRole } from "./resolve";
import type { CreateTenantInput, SetRoleInput } from "./schemas";
import { slugCandidates } from "./slug";

export { slugify } from "./slug";

/**
 * Creates a tenant with the caller as its owner, in one transaction with its audit row (and its
 * idempotency key, when the call has one: a retry answers the first tenant).
 * A taken slug the caller asked for is a CONFLICT; a derived one gets a short random suffix. No slug
 * reads as a tenant id (server/tenants/slug.ts).
 */
export async function createTenant(opts: { db: Database; userId: string; input: CreateTenantInput; actor: AuditActor; idempotency?: IdempotencyRequest | null }) {
  const id = uuidv7();
  const candidates = slugCandidates(opts.input);

  return opts.db.transaction(async (tx) => {
    await bindScope(tx, { userId: opts.userId, tenantId: id });
    return runOnce(tx, opts.idempotency ?? null, async () => {
      for (const slug of candidates) {
        try {
          // A savepoint, so a taken slug does not abort the whole transaction.
          const tenant = await tx.transaction(async (sp) => {
            const [row] = await sp
              .insert(tenants)
              .values({ id, slug, name: opts.input.name })
              .returning({ id: tenants.id, slug: tenants.slug, name: tenants.name });
            return row;
          });
          if (!tenant) throw new Error("insert returned no tenant");
          await tx.insert(memberships).values({ tenantId: id, userId: opts.userId, role: "owner" });
          await recordAudit(tx, opts.actor, {
            tenantId: id,
            action: "tenant.create",
            entityType: "tenant",
            entityId: id,
            changes: { name: tenant.name, slug: tenant.slug },
          });
          return tenant;
        } catch (err) {
          if (pgErrorCode(err) !== PG_UNIQUE_VIOLATION) throw err;
        }
      }
      throw new AppError("CONFLICT", `The slug "${candidates[0]}" is taken: choose another.`, {
        issues: [{ path: "slug", message: "is taken" }],
      });
    });
  });
}

export async function listMembers(db: Database, tenantId: string) {
  const rows = await db
    .select({
      userId: memberships.userId,
      email: users.email,
      firstName: users.firstName,
      lastName: users.lastName,
      role: memberships.role,
      joinedAt: memberships.createdAt,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.tenantId, tenantId))
    .orderBy(memberships.createdAt);
  return rows.map((r) => ({ ...r, joinedAt: r.joinedAt.toISOString() }));
}

export type MemberChange = { db: Database; tenantId: string; actorRole: TenantRole; actor: AuditActor };

/** Only an owner may grant, change or take away the owner role. */
export function assertMayManage(actorRole: TenantRole, ...roles: TenantRole[]) {
  if (roles.includes("owner") && actorRole !== "owner") {
    throw new AppError("FORBIDDEN", "Only an owner can grant, change or remove the owner role.");
  }
}

/**
 * Locks the tenant's owner rows and fails when `userId` is the last of them, so two owners
 * demoting each other at once cannot leave the tenant with none.
 */
async function assertNotLastOwner(db: Database, tenantId: string, userId: string) {
  const owners = await db
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.role, "owner")))
    .for("update");
  if (owners.length === 1 && owners[0]?.userId === userId) {
    throw new AppError("CONFLICT", "The last owner cannot be removed or demoted: make someone else owner first.");
  }
}

async function findMemberRole(db: Database, tenantId: string, userId: string): Promise<TenantRole> {
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
    .limit(1);
  if (!row) throw new AppError("NOT_FOUND", "That user is not a member of this tenant.", { issues: [{ path: "userId", message: "is not a member" }] });
  return row.role;
}

export async function removeMember(opts: MemberChange & { userId: string }) {
  const role = await findMemberRole(opts.db, opts.tenantId, opts.userId);
  assertMayManage(opts.actorRole, role);
  if (role === "owner") await assertNotLastOwner(opts.db, opts.tenantId, opts.userId);
  await opts.db.delete(memberships).where(and(eq(memberships.tenantId, opts.tenantId), eq(memberships.userId, opts.userId)));
  await recordAudit(opts.db, opts.actor, {
    tenantId: opts.tenantId,
    action: "membership.remove",
    entityType: "membership",
    entityId: opts.userId,
    changes: { role },
  });
}

export async function setMemberRole(opts: MemberChange & { input: SetRoleInput }) {
  const from = await findMemberRole(opts.db, opts.tenantId, opts.input.userId);
  assertMayManage(opts.actorRole, from, opts.input.role);
  if (from === opts.input.role) return { userId: opts.input.userId, role: from };
  if (from === "owner") await assertNotLastOwner(opts.db, opts.tenantId, opts.input.userId);
  await opts.db
    .update(memberships)
    .set({ role: opts.input.role })
    .where(and(eq(memberships.tenantId, opts.tenantId), eq(memberships.userId, opts.input.userId)));
  await recordAudit(opts.db, opts.actor, {
    tenantId: opts.tenantId,
    action: "membership.set_role",
    entityType: "membership",
    entityId: opts.input.userId,
    changes: { role: { from, to: opts.input.role } },
  });
  return { userId: opts.input.userId, role: opts.input.role };
}

