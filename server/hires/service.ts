import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { uuidv7 } from "uuidv7";
import type { Database } from "../../db/client";
import { hires, memberships, providerProfiles, users, type hireStatuses } from "../../db/schema";
import { recordAudit, type AuditActor } from "../audit/service";
import { AppError } from "../errors";
import { takePage } from "../pagination";
import { createNotification, type NotificationRecord } from "../notifications/service";
import type { TenantRef, TenantRole } from "../tenants/resolve";
import type { CreateHireInput, HireOutput } from "./schemas";

type Status = (typeof hireStatuses)[number];
export type Transition = "accept" | "decline" | "cancel" | "complete";

/** Who may take each step, from which states, to which state. Everything else is refused. */
export const TRANSITIONS: Record<Transition, { from: Status[]; to: Exclude<Status, "requested">; by: Array<"client" | "provider"> }> = {
  accept: { from: ["requested"], to: "accepted", by: ["provider"] },
  decline: { from: ["requested"], to: "declined", by: ["provider"] },
  cancel: { from: ["requested", "accepted"], to: "cancelled", by: ["client"] },
  complete: { from: ["accepted"], to: "completed", by: ["client", "provider"] },
};

const hireColumns = {
  id: hires.id,
  tenantId: hires.tenantId,
  clientId: hires.clientId,
  providerId: hires.providerId,
  status: hires.status,
  jobDescription: hires.jobDescription,
  location: hires.location,
  lat: hires.lat,
  lng: hires.lng,
  startsAt: hires.startsAt,
  endsAt: hires.endsAt,
  clientFullName: hires.clientFullName,
  clientPhone: hires.clientPhone,
  createdAt: hires.createdAt,
  updatedAt: hires.updatedAt,
};
type HireRow = { [K in keyof typeof hireColumns]: (typeof hireColumns)[K]["_"]["notNull"] extends true ? (typeof hireColumns)[K]["_"]["data"] : (typeof hireColumns)[K]["_"]["data"] | null };

function toHire(row: HireRow): HireOutput {
  return {
    ...row,
    startsAt: row.startsAt.toISOString(),
    endsAt: row.endsAt ? row.endsAt.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

type Scope = { db: Database; tenant: TenantRef; actor: AuditActor };

/**
 * A client hires a published provider of the same tenant. The hire, the provider's notification
 * and the audit row are written in the caller's transaction; the notification goes to the stream
 * only after the commit (the caller's afterCommit).
 */
export async function createHire(opts: Scope & { client: Person; input: CreateHireInput; now: Date }): Promise<{ hire: HireOutput; notifications: NotificationRecord[] }> {
  const { db, tenant, input, client } = opts;
  if (Date.parse(input.startsAt) < opts.now.getTime() - 5 * 60_000) {
    throw new AppError("BAD_REQUEST", "startsAt is in the past.", { issues: [{ path: "startsAt", message: "must not be in the past" }] });
  }
  const [provider] = await db
    .select({ id: users.id })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .innerJoin(providerProfiles, and(eq(providerProfiles.tenantId, memberships.tenantId), eq(providerProfiles.userId, memberships.userId)))
    .where(and(eq(memberships.tenantId, tenant.id), eq(memberships.userId, input.providerId), eq(memberships.role, "provider"), eq(providerProfiles.published, true)))
    .limit(1);
  if (!provider) {
    throw new AppError("NOT_FOUND", "No published provider with that id in this tenant.", { issues: [{ path: "providerId", message: "is not a published provider here" }] });
  }
  // The client's name and phone as they are now (from their session): the snapshot on the hire.
  const fullName = `${client.firstName} ${client.lastName}`;
  const now = new Date();
  const row = {
    id: uuidv7(),
    tenantId: tenant.id,
    clientId: client.id,
    providerId: input.providerId,
    status: "requested" as const,
    jobDescription: input.jobDescription,
    location: input.location,
    lat: input.lat ?? null,
    lng: input.lng ?? null,
    startsAt: new Date(input.startsAt),
    endsAt: input.endsAt ? new Date(input.endsAt) : null,
    clientFullName: fullName,
    clientPhone: client.phone,
    createdAt: now,
    updatedAt: now,
  };
  const hire = toHire(row);
  // Three independent writes, sent together (postgres.js pipelines them on the transaction's connection).
  const [, notification] = await Promise.all([
    db.insert(hires).values(row),
    createNotification(db, {
      userId: hire.providerId,
      tenant,
      type: "hire.requested",
      payload: {
        hireId: hire.id,
        tenantId: tenant.id,
        userId: hire.providerId,
        clientId: hire.clientId,
        fullName,
        phoneNumber: hire.clientPhone,
        location: hire.location,
        time: hire.startsAt,
        endsAt: hire.endsAt,
        jobDescription: hire.jobDescription,
      },
    }),
    recordAudit(db, opts.actor, { tenantId: tenant.id, action: "hire.create", entityType: "hire", entityId: hire.id, changes: { status: "requested", providerId: hire.providerId } }),
  ]);
  return { hire, notifications: [notification] };
}

/** Who is acting, from their session: no query needed for a name. */
export type Person = { id: string; firstName: string; lastName: string; phone: string | null };

async function findVisibleHire(db: Database, opts: { tenantId: string; id: string; userId: string; role: TenantRole }) {
  const [row] = await db.select(hireColumns).from(hires).where(and(eq(hires.tenantId, opts.tenantId), eq(hires.id, opts.id)));
  const staff = opts.role === "owner" || opts.role === "admin";
  if (!row || (!staff && row.clientId !== opts.userId && row.providerId !== opts.userId)) return null;
  return row;
}

/**
 * One step of a hire. The UPDATE carries the allowed states and the party in its WHERE, so of two
 * racing steps only one matches: the other finds the new state and answers CONFLICT naming it.
 */
export async function transitionHire(opts: Scope & { user: Person; role: TenantRole; id: string; action: Transition }): Promise<{ hire: HireOutput; notifications: NotificationRecord[] }> {
  const userId = opts.user.id;
  const rule = TRANSITIONS[opts.action];
  const side = (row: { clientId: string; providerId: string }) => (row.clientId === userId ? "client" : row.providerId === userId ? "provider" : null);
  const partyCondition = sql`(${rule.by.includes("client") ? sql`${hires.clientId} = ${userId}` : sql`false`} or ${rule.by.includes("provider") ? sql`${hires.providerId} = ${userId}` : sql`false`})`;
  const [row] = await opts.db
    .update(hires)
    .set({ status: rule.to, updatedAt: new Date() })
    .where(and(eq(hires.tenantId, opts.tenant.id), eq(hires.id, opts.id), inArray(hires.status, rule.from), partyCondition))
    .returning(hireColumns);
  if (!row) {
    const current = await findVisibleHire(opts.db, { tenantId: opts.tenant.id, id: opts.id, userId, role: opts.role });
    if (!current) throw new AppError("NOT_FOUND", "No such hire among yours.");
    const mySide = side(current);
    if (!mySide || !rule.by.includes(mySide)) {
      throw new AppError("FORBIDDEN", `Only the ${rule.by.join(" or the ")} of this hire can ${opts.action} it.`);
    }
    throw new AppError("CONFLICT", `The hire is ${current.status}: it cannot be ${rule.to} from that state.`);
  }
  const hire = toHire(row);
  const actorSide = side(row)!;
  const recipient = actorSide === "client" ? hire.providerId : hire.clientId;
  const [notification] = await Promise.all([
    createNotification(opts.db, {
      userId: recipient,
      tenant: opts.tenant,
      type: `hire.${rule.to}`,
      payload: {
        hireId: hire.id,
        tenantId: opts.tenant.id,
        userId: recipient,
        status: rule.to,
        byUserId: userId,
        byName: `${opts.user.firstName} ${opts.user.lastName}`,
        time: hire.startsAt,
        jobDescription: hire.jobDescription,
      },
    }),
    recordAudit(opts.db, opts.actor, { tenantId: opts.tenant.id, action: `hire.${opts.action}`, entityType: "hire", entityId: hire.id, changes: { status: { to: rule.to } } }),
  ]);
  return { hire, notifications: [notification] };
}

export async function getHire(opts: { db: Database; tenantId: string; id: string; userId: string; role: TenantRole }): Promise<HireOutput> {
  const row = await findVisibleHire(opts.db, opts);
  if (!row) throw new AppError("NOT_FOUND", "No such hire among yours.");
  return toHire(row);
}

export async function listHires(opts: { db: Database; tenantId: string; userId: string; as: "client" | "provider"; status?: Status; cursor?: string; limit: number }) {
  const rows = await opts.db
    .select(hireColumns)
    .from(hires)
    .where(
      and(
        eq(hires.tenantId, opts.tenantId),
        eq(opts.as === "client" ? hires.clientId : hires.providerId, opts.userId),
        opts.status ? eq(hires.status, opts.status) : undefined,
        opts.cursor ? lt(hires.id, opts.cursor) : undefined,
      ),
    )
    .orderBy(desc(hires.id))
    .limit(opts.limit + 1);
  const { page, nextCursor } = takePage(rows, opts.limit, (r) => r.id);
  return { items: page.map(toHire), nextCursor };
}
