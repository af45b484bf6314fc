import { and, eq } from "drizzle-orm";
import { uuidv7 } from "uuidv7";
import type { Database, Transaction } from "../../db/client";
import { memberships, tenants, users } from "../../db/schema";
import { recordAudit, type AuditActor } from "../audit/service";
import { bindScope } from "../db-scope";
import { AppError, pgErrorCode, PG_UNIQUE_VIOLATION } from "../errors";
import { runOnce, type IdempotencyRequest } from "../idempotency";
import type { TenantRole } from "./resolve";
import type { CreateTenantInput, SetRoleInput } from "./schemas";
import { slugCandidates } from "./slug";

export { slugify } from "./slug";

export type CreateTenantOptions = {
  /** The call's transaction (userProcedure); it is bound to the new tenant here. */
  db: Transaction;
  userId: string;
  input: CreateTenantInput;
  actor: AuditActor;
  idempotency?: IdempotencyRequest | null;
};

/**
 * Creates a tenant with the caller as its owner, in the call's transaction with its audit row (and its
 * idempotency key, when the call has one: a retry answers the first tenant).
 * A taken slug the caller asked for is a CONFLICT; a derived one gets a short random suffix. No slug
 * reads as a tenant id (server/tenants/slug.ts).
 */
export async function createTenant({ db, userId, input, actor, idempotency }: CreateTenantOptions) {
  const id = uuidv7();
  const candidates = slugCandidates(input);

  // The tenant does not exist yet, so no middleware could bind it: the transaction is bound to it here.
  await bindScope(db, { userId, tenantId: id });
  return runOnce({
    db,
    request: idempotency ?? null,
    create: async () => {
      for (const slug of candidates) {
        try {
          // A savepoint, so a taken slug does not abort the whole transaction.
          const tenant = await db.transaction(async (sp) => {
            const [row] = await sp
              .insert(tenants)
              .values({ id, slug, name: input.name })
              .returning({ id: tenants.id, slug: tenants.slug, name: tenants.name });
            return row;
          });
          if (!tenant) throw new Error("insert returned no tenant");
          await db.insert(memberships).values({ tenantId: id, userId, role: "owner" });
          await recordAudit({
            db,
            actor,
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
    },
  });
}

export type ListMembersOptions = { db: Transaction; tenantId: string };

export async function listMembers({ db, tenantId }: ListMembersOptions) {
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

/** What every change to a tenant's members takes: the call's tenant transaction, and who makes the change. */
export type MemberChange = { db: Transaction; tenantId: string; actorRole: TenantRole; actor: AuditActor };

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

export type RemoveMemberOptions = MemberChange & { userId: string };

export async function removeMember({ db, tenantId, actorRole, actor, userId }: RemoveMemberOptions) {
  const role = await findMemberRole(db, tenantId, userId);
  assertMayManage(actorRole, role);
  if (role === "owner") await assertNotLastOwner(db, tenantId, userId);
  await db.delete(memberships).where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
  await recordAudit({
    db,
    actor,
    tenantId,
    action: "membership.remove",
    entityType: "membership",
    entityId: userId,
    changes: { role },
  });
}

export type SetMemberRoleOptions = MemberChange & { input: SetRoleInput };

export async function setMemberRole({ db, tenantId, actorRole, actor, input }: SetMemberRoleOptions) {
  const from = await findMemberRole(db, tenantId, input.userId);
  assertMayManage(actorRole, from, input.role);
  if (from === input.role) return { userId: input.userId, role: from };
  if (from === "owner") await assertNotLastOwner(db, tenantId, input.userId);
  await db
    .update(memberships)
    .set({ role: input.role })
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, input.userId)));
  await recordAudit({
    db,
    actor,
    tenantId,
    action: "membership.set_role",
    entityType: "membership",
    entityId: input.userId,
    changes: { role: { from, to: input.role } },
  });
  return { userId: input.userId, role: input.role };
}

