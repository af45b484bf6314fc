import { and, desc, eq, gt, type SQL } from "drizzle-orm";
import type { Database } from "../../db/client";
import { memberships, tenantInvitations, tenants, users } from "../../db/schema";
import { recordAudit, type AuditActor } from "../audit/service";
import { bindScope, withUserScope } from "../db-scope";
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

/**
 * Invites an email into the tenant with a role. It reads nothing of an account with that email, so the
 * answer is the same whether one exists or not; the invitation waits for whoever holds (or signs up with)
 * that email. Inviting it again replaces the pending invitation (a new id, a new expiry). Refused only for
 * an email of a current member, whom the staff can list anyway.
 */
export async function inviteMember(opts: MemberChange & { input: InviteMemberInput; now: Date }) {
  assertMayManage(opts.actorRole, opts.input.role);
  const { email, role } = opts.input;
  const [member] = await opts.db
    .select({ userId: memberships.userId })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, opts.tenantId), eq(users.email, email)))
    .limit(1);
  if (member) {
    throw new AppError("CONFLICT", "That email belongs to a member of this tenant already.", { issues: [{ path: "email", message: "is already a member" }] });
  }
  const [replaced] = await opts.db
    .select({ id: tenantInvitations.id, role: tenantInvitations.role })
    .from(tenantInvitations)
    .where(and(eq(tenantInvitations.tenantId, opts.tenantId), eq(tenantInvitations.email, email), eq(tenantInvitations.status, "pending")))
    .for("update");
  if (replaced) {
    // Replacing withdraws it, which needs the same right as revokeInvitation.
    assertMayManage(opts.actorRole, replaced.role);
    await opts.db.update(tenantInvitations).set({ status: "revoked", closedAt: opts.now }).where(eq(tenantInvitations.id, replaced.id));
  }
  const [created] = await opts.db
    .insert(tenantInvitations)
    .values({ tenantId: opts.tenantId, email, role, invitedBy: opts.actor.userId, createdAt: opts.now, expiresAt: new Date(opts.now.getTime() + INVITATION_LIFETIME_MS) })
    .onConflictDoNothing()
    .returning({ id: tenantInvitations.id });
  if (!created) {
    // Another invitation to the same email committed between the two statements above.
    throw new AppError("CONFLICT", "Another invitation to that email was sent at the same moment: list the pending invitations.", { issues: [{ path: "email", message: "was just invited" }] });
  }
  await recordAudit(opts.db, opts.actor, {
    tenantId: opts.tenantId,
    action: "invitation.create",
    entityType: "invitation",
    entityId: created.id,
    changes: { email, role, ...(replaced ? { replaces: replaced.id } : {}) },
  });
  const [invitation] = await staffInvitations(opts.db, eq(tenantInvitations.id, created.id));
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

/** The tenant's invitations still waiting for an answer, newest first. */
export function listTenantInvitations(opts: { db: Database; tenantId: string; now: Date }) {
  return staffInvitations(opts.db, and(eq(tenantInvitations.tenantId, opts.tenantId), eq(tenantInvitations.status, "pending"), gt(tenantInvitations.expiresAt, opts.now)));
}

/** Withdraws a pending invitation. Only an owner may withdraw one that grants the owner role. */
export async function revokeInvitation(opts: MemberChange & { id: string; now: Date }) {
  const [found] = await opts.db
    .select({ email: tenantInvitations.email, role: tenantInvitations.role })
    .from(tenantInvitations)
    .where(and(eq(tenantInvitations.tenantId, opts.tenantId), eq(tenantInvitations.id, opts.id), eq(tenantInvitations.status, "pending")))
    .for("update");
  if (!found) throw new AppError("NOT_FOUND", "No pending invitation of this tenant has that id.", { issues: [{ path: "id", message: "is not a pending invitation" }] });
  assertMayManage(opts.actorRole, found.role);
  await opts.db.update(tenantInvitations).set({ status: "revoked", closedAt: opts.now }).where(eq(tenantInvitations.id, opts.id));
  await recordAudit(opts.db, opts.actor, {
    tenantId: opts.tenantId,
    action: "invitation.revoke",
    entityType: "invitation",
    entityId: opts.id,
    changes: { email: found.email, role: found.role },
  });
}

type Invitee = { db: Database; user: { id: string; email: string }; actor: AuditActor; now: Date };

/** The caller's pending invitations across tenants, newest first: whoever signs up or logs in with the email sees them. */
export async function listMyInvitations(opts: Omit<Invitee, "actor">) {
  const rows = await withUserScope(opts.db, opts.user.id, (tx) =>
    tx
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
      .where(and(eq(tenantInvitations.email, opts.user.email), eq(tenantInvitations.status, "pending"), gt(tenantInvitations.expiresAt, opts.now)))
      .orderBy(desc(tenantInvitations.createdAt)),
  );
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
 * Closes one of the caller's own pending invitations, in a transaction bound to its tenant (so the audit
 * row and, on acceptance, the membership are written there), and answers its tenant and role. Someone
 * else's invitation and one that does not exist answer the same NOT_FOUND.
 */
async function answerInvitation<T>(
  opts: Invitee & { id: string; answer: "accepted" | "declined"; idempotency?: IdempotencyRequest | null },
  then: (tx: Database, inv: { tenantId: string; role: TenantRole; invitedBy: string | null }) => Promise<T>,
) {
  return opts.db.transaction(async (tx) => {
    await bindScope(tx, { userId: opts.user.id });
    // With an Idempotency-Key, a retry of an accept that committed answers the membership it made.
    return runOnce(tx, opts.idempotency ?? null, () => answerInTransaction(tx, opts, then));
  });
}

async function answerInTransaction<T>(
  tx: Database,
  opts: Invitee & { id: string; answer: "accepted" | "declined" },
  then: (tx: Database, inv: { tenantId: string; role: TenantRole; invitedBy: string | null }) => Promise<T>,
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
  await recordAudit(tx, actor, {
    tenantId: found.tenantId,
    action: opts.answer === "accepted" ? "invitation.accept" : "invitation.decline",
    entityType: "invitation",
    entityId: opts.id,
    changes: { role: found.role },
  });
  return then(tx, found);
}

/** Accepts one of the caller's invitations: they become a member with its role. Notifies nobody (yet). */
export function acceptInvitation(opts: Invitee & { id: string; idempotency?: IdempotencyRequest | null }) {
  return answerInvitation({ ...opts, answer: "accepted" }, async (tx, inv) => {
    const [joined] = await tx.insert(memberships).values({ tenantId: inv.tenantId, userId: opts.user.id, role: inv.role }).onConflictDoNothing().returning({ role: memberships.role });
    if (!joined) throw new AppError("CONFLICT", "You are a member of this tenant already: decline the invitation instead.");
    await recordAudit(tx, opts.actor, {
      tenantId: inv.tenantId,
      action: "membership.add",
      entityType: "membership",
      entityId: opts.user.id,
      changes: { role: inv.role, invitationId: opts.id, invitedBy: inv.invitedBy },
    });
    const [tenant] = await tx.select({ id: tenants.id, slug: tenants.slug, name: tenants.name }).from(tenants).where(eq(tenants.id, inv.tenantId));
    return { ...tenant!, role: inv.role };
  });
}

/** Declines one of the caller's invitations; the tenant may send another. */
export async function declineInvitation(opts: Invitee & { id: string }) {
  await answerInvitation({ ...opts, answer: "declined" }, async () => undefined);
}
