import { and, desc, eq, gt, type SQL } from "drizzle-orm";
import type { Database, Transaction } from "../../db/client";
import { memberships, tenantInvitations, tenants, users } from "../../db/schema";
import { recordAudit, type AuditActor } from "../audit/service";
import { bindScope } from "../db-scope";
import { runOnce, type IdempotencyRequest } from "../idempotency";
import { AppError } from "../errors";
import type { TenantRole } from "./resolve";
import type { InviteMemberInput } from "./schemas";
import { assertMayManage, type MemberChange } from "./service";

/** How long an invitation waits for its answer. */
export const INVITATION_LIFETIME_MS = 14 * 86_400_000;

type InvitationStatus = (typeof tenantInvitations.$inferSelect)["status"];

const staffView = {
  id: tenantInvitations.id,
  email: tenantInvitations.email,
  role: tenantInvitations.role,
  invitedBy: tenantInvitations.invitedBy,
  inviterFirstName: users.firstName,
  inviterLastName: users.lastName,
  createdAt: tenantInvitations.createdAt,
  expiresAt: tenantInvitations.expiresAt,
};

type StaffRow = { id: string; email: string; role: TenantRole; invitedBy: string | null; inviterFirstName: string | null; inviterLastName: string | null; createdAt: Date; expiresAt: Date };

function toStaffView(r: StaffRow) {
  return {
    id: r.id,
    email: r.email,
    role: r.role,
    invitedBy: r.invitedBy && r.inviterFirstName !== null && r.inviterLastName !== null ? { userId: r.invitedBy, firstName: r.inviterFirstName, lastName: r.inviterLastName } : null,
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
  };
}

export type InviteMemberOptions = MemberChange & { input: InviteMemberInput; now: Date };

/**
 * Invites an email into the tenant with a role. It reads nothing of an account with that email, so the
 * answer is the same whether one exists or not; the invitation waits for whoever holds (or signs up with)
 * that email. Inviting it again replaces the pending invitation (a new id, a new expiry). Refused only for
 * an email of a current member, whom the staff can list anyway.
 */
export async function inviteMember({ db, tenantId, actorRole, actor, input, now }: InviteMemberOptions) {
  assertMayManage(actorRole, input.role);
  const { email, role } = input;
  const [member] = await db
    .select({ userId: memberships.userId })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, tenantId), eq(users.email, email)))
    .limit(1);
  if (member) {
    throw new AppError("CONFLICT", "That email belongs to a member of this tenant already.", { issues: [{ path: "email", message: "is already a member" }] });
  }
  const [replaced] = await db
    .select({ id: tenantInvitations.id, role: tenantInvitations.role })
    .from(tenantInvitations)
    .where(and(eq(tenantInvitations.tenantId, tenantId), eq(tenantInvitations.email, email), eq(tenantInvitations.status, "pending")))
    .for("update");
  if (replaced) {
    // Replacing withdraws it, which needs the same right as revokeInvitation.
    assertMayManage(actorRole, replaced.role);
    await db.update(tenantInvitations).set({ status: "revoked", closedAt: now }).where(eq(tenantInvitations.id, replaced.id));
  }
  const [created] = await db
    .insert(tenantInvitations)
    .values({ tenantId, email, role, invitedBy: actor.userId, createdAt: now, expiresAt: new Date(now.getTime() + INVITATION_LIFETIME_MS) })
    .onConflictDoNothing()
    .returning({ id: tenantInvitations.id });
  if (!created) {
    // Another invitation to the same email committed between the two statements above.
    throw new AppError("CONFLICT", "Another invitation to that email was sent at the same moment: list the pending invitations.", { issues: [{ path: "email", message: "was just invited" }] });
  }
  await recordAudit({
    db,
    actor,
    tenantId,
    action: "invitation.create",
    entityType: "invitation",
    entityId: created.id,
    changes: { email, role, ...(replaced ? { replaces: replaced.id } : {}) },
  });
  const [invitation] = await staffInvitations(db, eq(tenantInvitations.id, created.id));
  return invitation!;
}

async function staffInvitations(db: Database, where: SQL | undefined) {
  const rows = await db
    .select(staffView)
    .from(tenantInvitations)
    .leftJoin(users, eq(users.id, tenantInvitations.invitedBy))
    .where(where)
    .orderBy(desc(tenantInvitations.createdAt));
  return rows.map(toStaffView);
}

export type ListTenantInvitationsOptions = { db: Transaction; tenantId: string; now: Date };

/** The tenant's invitations still waiting for an answer, newest first. */
export function listTenantInvitations({ db, tenantId, now }: ListTenantInvitationsOptions) {
  return staffInvitations(db, and(eq(tenantInvitations.tenantId, tenantId), eq(tenantInvitations.status, "pending"), gt(tenantInvitations.expiresAt, now)));
}

export type RevokeInvitationOptions = MemberChange & { id: string; now: Date };

/** Withdraws a pending invitation. Only an owner may withdraw one that grants the owner role. */
export async function revokeInvitation({ db, tenantId, actorRole, actor, id, now }: RevokeInvitationOptions) {
  const [found] = await db
    .select({ email: tenantInvitations.email, role: tenantInvitations.role })
    .from(tenantInvitations)
    .where(and(eq(tenantInvitations.tenantId, tenantId), eq(tenantInvitations.id, id), eq(tenantInvitations.status, "pending")))
    .for("update");
  if (!found) throw new AppError("NOT_FOUND", "No pending invitation of this tenant has that id.", { issues: [{ path: "id", message: "is not a pending invitation" }] });
  assertMayManage(actorRole, found.role);
  await db.update(tenantInvitations).set({ status: "revoked", closedAt: now }).where(eq(tenantInvitations.id, id));
  await recordAudit({
    db,
    actor,
    tenantId,
    action: "invitation.revoke",
    entityType: "invitation",
    entityId: id,
    changes: { email: found.email, role: found.role },
  });
}

/** The invitee's side: the call's transaction bound to the user (userProcedure), and who they are. */
type Invitee = { db: Transaction; user: { id: string; email: string }; actor: AuditActor; now: Date };

export type ListMyInvitationsOptions = Omit<Invitee, "actor">;

/** The caller's pending invitations across tenants, newest first: whoever signs up or logs in with the email sees them. */
export async function listMyInvitations({ db, user, now }: ListMyInvitationsOptions) {
  const rows = await db
    .select({
      id: tenantInvitations.id,
      tenantId: tenants.id,
      tenantSlug: tenants.slug,
      tenantName: tenants.name,
      role: tenantInvitations.role,
      inviterFirstName: users.firstName,
      inviterLastName: users.lastName,
      createdAt: tenantInvitations.createdAt,
      expiresAt: tenantInvitations.expiresAt,
    })
    .from(tenantInvitations)
    .innerJoin(tenants, eq(tenants.id, tenantInvitations.tenantId))
    .leftJoin(users, eq(users.id, tenantInvitations.invitedBy))
    .where(and(eq(tenantInvitations.email, user.email), eq(tenantInvitations.status, "pending"), gt(tenantInvitations.expiresAt, now)))
    .orderBy(desc(tenantInvitations.createdAt));
  return rows.map((r) => ({
    id: r.id,
    tenant: { id: r.tenantId, slug: r.tenantSlug, name: r.tenantName },
    role: r.role,
    invitedBy: r.inviterFirstName !== null && r.inviterLastName !== null ? { firstName: r.inviterFirstName, lastName: r.inviterLastName } : null,
    createdAt: r.createdAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
  }));
}

const CLOSED: Record<Exclude<InvitationStatus, "pending">, string> = {
  accepted: "was accepted already",
  declined: "was declined",
  revoked: "was withdrawn by the tenant",
};

/**
 * Closes one of the caller's own pending invitations, in the call's transaction, bound here to the
 * invitation's tenant (so the audit row and, on acceptance, the membership are written there), and
 * answers its tenant and role. Someone else's invitation and one that does not exist answer the same
 * NOT_FOUND.
 */
function answerInvitation<T>(
  opts: Invitee & { id: string; answer: "accepted" | "declined"; idempotency?: IdempotencyRequest | null },
  then: (tx: Transaction, inv: { tenantId: string; role: TenantRole; invitedBy: string | null }) => Promise<T>,
) {
  // With an Idempotency-Key, a retry of an accept that committed answers the membership it made.
  return runOnce({ db: opts.db, request: opts.idempotency ?? null, create: () => answerInTransaction(opts.db, opts, then) });
}

async function answerInTransaction<T>(
  tx: Transaction,
  opts: Invitee & { id: string; answer: "accepted" | "declined" },
  then: (tx: Transaction, inv: { tenantId: string; role: TenantRole; invitedBy: string | null }) => Promise<T>,
): Promise<T> {
  const [found] = await tx
    .select({ tenantId: tenantInvitations.tenantId, role: tenantInvitations.role, status: tenantInvitations.status, expiresAt: tenantInvitations.expiresAt, invitedBy: tenantInvitations.invitedBy })
    .from(tenantInvitations)
    .where(and(eq(tenantInvitations.id, opts.id), eq(tenantInvitations.email, opts.user.email)));
  if (!found) throw new AppError("NOT_FOUND", "You have no invitation with that id.", { issues: [{ path: "id", message: "is not an invitation of yours" }] });
  if (found.status !== "pending") throw new AppError("CONFLICT", `This invitation ${CLOSED[found.status]}.`);
  if (found.expiresAt <= opts.now) throw new AppError("CONFLICT", "This invitation has expired: ask the tenant for a new one.");
  await bindScope(tx, { userId: opts.user.id, tenantId: found.tenantId });
  // The status guard makes this the one answer when two arrive at once, or a revocation races it.
  const [closed] = await tx
    .update(tenantInvitations)
    .set({ status: opts.answer, closedAt: opts.now })
    .where(and(eq(tenantInvitations.id, opts.id), eq(tenantInvitations.email, opts.user.email), eq(tenantInvitations.status, "pending")))
    .returning({ id: tenantInvitations.id });
  if (!closed) throw new AppError("CONFLICT", "This invitation was answered or withdrawn a moment ago.");
  // Someone who declines never joined: the tenant's staff learn that the invitation was declined, and
  // nothing of who declined (account, session, address, browser), which would tell them the account exists.
  const actor = opts.answer === "accepted" ? opts.actor : { userId: null, sessionId: null, ip: null, userAgent: null, requestId: opts.actor.requestId };
  await recordAudit({
    db: tx,
    actor,
    tenantId: found.tenantId,
    action: opts.answer === "accepted" ? "invitation.accept" : "invitation.decline",
    entityType: "invitation",
    entityId: opts.id,
    changes: { role: found.role },
  });
  return then(tx, found);
}

export type AcceptInvitationOptions = Invitee & { id: string; idempotency?: IdempotencyRequest | null };

/** Accepts one of the caller's invitations: they become a member with its role. Notifies nobody (yet). */
export function acceptInvitation({ db, user, actor, now, id, idempotency }: AcceptInvitationOptions) {
  return answerInvitation({ db, user, actor, now, id, idempotency, answer: "accepted" }, async (tx, inv) => {
    const [joined] = await tx.insert(memberships).values({ tenantId: inv.tenantId, userId: user.id, role: inv.role }).onConflictDoNothing().returning({ role: memberships.role });
    if (!joined) throw new AppError("CONFLICT", "You are a member of this tenant already: decline the invitation instead.");
    await recordAudit({
      db: tx,
      actor,
      tenantId: inv.tenantId,
      action: "membership.add",
      entityType: "membership",
      entityId: user.id,
      changes: { role: inv.role, invitationId: id, invitedBy: inv.invitedBy },
    });
    const [tenant] = await tx.select({ id: tenants.id, slug: tenants.slug, name: tenants.name }).from(tenants).where(eq(tenants.id, inv.tenantId));
    return { ...tenant!, role: inv.role };
  });
}

export type DeclineInvitationOptions = Invitee & { id: string };

/** Declines one of the caller's invitations; the tenant may send another. */
export async function declineInvitation({ db, user, actor, now, id }: DeclineInvitationOptions) {
  await answerInvitation({ db, user, actor, now, id, answer: "declined" }, async () => undefined);
}
