import { and, desc, eq, lt, sql } from "drizzle-orm";
import { uuidv7 } from "uuidv7";
import { rowsOf, type Database } from "../../db/client";
import { hires, type hireStatuses } from "../../db/schema";
import { auditActorArgs, auditActorFields, type AuditActor } from "../audit/service";
import { IdPosition, openCursor, sealCursor } from "../cursor";
import { AppError } from "../errors";
import { replayOf, type IdempotencyRequest } from "../idempotency";
import { takePage } from "../pagination";
import { toNotification, type NotificationRecord } from "../notifications/service";
import { roleRefused, tenantNotFound, type TenantRole } from "../tenants/resolve";
import { MAX_HIRE_LEAD_MS, type CreateHireInput, type HireOutput } from "./schemas";
import type { HireWriter, Json } from "./writer";

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

/** A jsonb column: postgres.js parses it, PGlite may hand back the text. */
const jsonOf = <T>(value: Json | null): T => (typeof value === "string" ? JSON.parse(value) : value) as T;

/** What a hire function returns about the notification it wrote (app_create_hire, app_transition_hire). */
type CommittedRow = { tenant_id: string; tenant_slug: string; tenant_name: string; seq: string | number | null; notified_at: Date | string | null; payload: Json | null };

/**
 * The notification a hire statement committed, as the relay publishes it: the stream carries what the
 * statement stored (its seq, time and payload), so it is what the inbox lists.
 */
function committedNotification(row: CommittedRow, n: { id: string; userId: string; type: string }): NotificationRecord {
  return toNotification({
    id: n.id,
    userId: n.userId,
    seq: Number(row.seq),
    tenant: { id: row.tenant_id, slug: row.tenant_slug, name: row.tenant_name },
    type: n.type,
    payload: jsonOf(row.payload),
    createdAt: new Date(row.notified_at!),
    readAt: null,
  });
}

/**
 * A client hires a published provider of the tenant named by `tenantRef`. One statement (db function
 * app_create_hire, through the group-committing HireWriter) enters the tenant, checks the role and the
 * provider, and writes the hire, the provider's notification and the audit row: one transaction, under
 * the same row-level security as statements sent one by one. A refusal writes nothing. The caller
 * publishes the returned notification: the statement has committed when this returns.
 *
 * With an idempotency key the same statement claims it and stores the answer, so a key is recorded
 * exactly when its hire commits. A key used before answers that first hire (`replayOf`: another request
 * under it is refused), with nothing written and nothing to publish; the first call published it, or
 * the relay streams it when that call never learned of its commit.
 */
export async function createHire(opts: {
  writer: HireWriter;
  tenantRef: string;
  actor: AuditActor;
  client: Person;
  input: CreateHireInput;
  now: Date;
  idempotency?: IdempotencyRequest | null;
}): Promise<{ hire: HireOutput; notifications: NotificationRecord[] }> {
  const { input, client, actor } = opts;
  if (Date.parse(input.startsAt) < opts.now.getTime() - 5 * 60_000) {
    throw new AppError("BAD_REQUEST", "startsAt is in the past.", { issues: [{ path: "startsAt", message: "must not be in the past" }] });
  }
  if (Date.parse(input.startsAt) > opts.now.getTime() + MAX_HIRE_LEAD_MS) {
    throw new AppError("BAD_REQUEST", "startsAt is more than two years ahead.", { issues: [{ path: "startsAt", message: "must be at most two years ahead" }] });
  }
  // The client's name and phone as they are now (from their session): the snapshot on the hire.
  const fullName = `${client.firstName} ${client.lastName}`;
  const now = new Date();
  const hireId = uuidv7();
  const notificationId = uuidv7();
  const startsAt = new Date(input.startsAt);
  const endsAt = input.endsAt ? new Date(input.endsAt) : null;
  const lat = input.lat ?? null;
  const lng = input.lng ?? null;
  // What the original system sent the provider; the statement adds the tenant's id and returns the whole.
  const payload = {
    hireId,
    userId: input.providerId,
    clientId: client.id,
    fullName,
    phoneNumber: client.phone,
    location: input.location,
    time: startsAt.toISOString(),
    endsAt: endsAt ? endsAt.toISOString() : null,
    jobDescription: input.jobDescription,
  };
  // The answer, but for the tenant's id, which only the statement knows (it adds it to a key's stored answer).
  const hire: Omit<HireOutput, "tenantId"> = {
    id: hireId,
    clientId: client.id,
    providerId: input.providerId,
    status: "requested",
    jobDescription: input.jobDescription,
    location: input.location,
    lat,
    lng,
    startsAt: startsAt.toISOString(),
    endsAt: endsAt ? endsAt.toISOString() : null,
    clientFullName: fullName,
    clientPhone: client.phone,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  const idem = opts.idempotency ?? null;
  const row = await opts.writer.create({
    user: client.id, ref: opts.tenantRef,
    hire_id: hireId, provider: input.providerId, job: input.jobDescription, location: input.location, lat, lng,
    starts_at: startsAt.toISOString(), ends_at: endsAt ? endsAt.toISOString() : null, client_name: fullName, client_phone: client.phone, now: now.toISOString(),
    notification_id: notificationId, payload,
    audit_id: uuidv7(), audit_changes: { status: "requested", providerId: input.providerId }, ...auditActorFields(actor),
    idempotency: idem && { procedure: idem.procedure, key: idem.key, fingerprint: idem.fingerprint, now: idem.now.toISOString(), expires_at: idem.expiresAt.toISOString(), response: hire },
  });
  if (!row || row.outcome === "no_tenant") throw tenantNotFound(opts.tenantRef);
  if (row.outcome === "replay" && idem) {
    return { hire: replayOf<HireOutput>(idem, { fingerprint: row.replay_fingerprint!, response: row.replay_response === null ? null : jsonOf(row.replay_response) }), notifications: [] };
  }
  if (row.outcome === "not_client") throw roleRefused(["client"], row.member_role);
  if (row.outcome === "no_provider") {
    throw new AppError("NOT_FOUND", "No published provider with that id in this tenant.", { issues: [{ path: "providerId", message: "is not a published provider here" }] });
  }
  return { hire: { ...hire, tenantId: row.tenant_id }, notifications: [committedNotification(row, { id: notificationId, userId: input.providerId, type: "hire.requested" })] };
}

/** Who is acting, from their session: no query needed for a name. */
export type Person = { id: string; firstName: string; lastName: string; phone: string | null };

async function findVisibleHire(db: Database, opts: { tenantId: string; id: string; userId: string; role: TenantRole }) {
  const [row] = await db.select(hireColumns).from(hires).where(and(eq(hires.tenantId, opts.tenantId), eq(hires.id, opts.id)));
  const staff = opts.role === "owner" || opts.role === "admin";
  if (!row || (!staff && row.clientId !== opts.userId && row.providerId !== opts.userId)) return null;
  return row;
}

type StoredHire = {
  id: string; tenant_id: string; client_id: string; provider_id: string; status: Status; job_description: string; location: string;
  lat: number | null; lng: number | null; starts_at: string; ends_at: string | null; client_full_name: string; client_phone: string | null;
  created_at: string; updated_at: string;
};
type TransitionRow = {
  outcome: "done" | "no_tenant" | "wrong_role" | "not_found" | "not_party" | "conflict";
  tenant_id: string; tenant_slug: string; tenant_name: string; member_role: TenantRole; current_status: Status | null;
  hire: Json | null; recipient: string | null; seq: string | number | null; notified_at: Date | string | null; payload: Json | null;
};

/**
 * One step of a hire, in one statement (db function app_transition_hire): enter the tenant named by
 * `tenantRef`, check the caller's role (`roles`; null: any member), and move the hire. The UPDATE
 * carries the allowed states and the party in its WHERE, so of two racing steps only one matches: the
 * other finds the new state and answers CONFLICT naming it. A refusal writes nothing. The caller
 * publishes the returned notification: the statement has committed when this returns.
 */
export async function transitionHire(opts: {
  db: Database;
  tenantRef: string;
  roles: TenantRole[] | null;
  actor: AuditActor;
  user: Person;
  id: string;
  action: Transition;
  now: Date;
}): Promise<{ hire: HireOutput; notifications: NotificationRecord[] }> {
  const { user, actor } = opts;
  const rule = TRANSITIONS[opts.action];
  const notificationId = uuidv7();
  const result = await opts.db.execute(sql`
    select outcome, tenant_id, tenant_slug, tenant_name, member_role, current_status, hire, recipient, seq, notified_at, payload from app_transition_hire(
      ${user.id}::uuid, ${opts.tenantRef}::text, ${opts.id}::uuid, ${opts.roles ? `{${opts.roles.join(",")}}` : null}::tenant_role[],
      ${`{${rule.from.join(",")}}`}::hire_status[], ${rule.to}::hire_status, ${rule.by.includes("client")}::boolean, ${rule.by.includes("provider")}::boolean,
      ${`${user.firstName} ${user.lastName}`}::text, ${opts.action}::text, ${opts.now.toISOString()}::timestamptz,
      ${notificationId}::uuid, ${uuidv7()}::uuid, ${auditActorArgs(actor)})`);
  const [row] = rowsOf<TransitionRow>(result);
  if (!row || row.outcome === "no_tenant") throw tenantNotFound(opts.tenantRef);
  switch (row.outcome) {
    case "wrong_role":
      throw roleRefused(opts.roles ?? [], row.member_role);
    case "not_found":
      throw new AppError("NOT_FOUND", "No such hire among yours.");
    case "not_party":
      throw new AppError("FORBIDDEN", `Only the ${rule.by.join(" or the ")} of this hire can ${opts.action} it.`);
    case "conflict":
      throw new AppError("CONFLICT", `The hire is ${row.current_status}: it cannot be ${rule.to} from that state.`);
  }
  const stored = jsonOf<StoredHire>(row.hire);
  const hire = toHire({
    id: stored.id,
    tenantId: stored.tenant_id,
    clientId: stored.client_id,
    providerId: stored.provider_id,
    status: stored.status,
    jobDescription: stored.job_description,
    location: stored.location,
    lat: stored.lat,
    lng: stored.lng,
    startsAt: new Date(stored.starts_at),
    endsAt: stored.ends_at ? new Date(stored.ends_at) : null,
    clientFullName: stored.client_full_name,
    clientPhone: stored.client_phone,
    createdAt: new Date(stored.created_at),
    updatedAt: new Date(stored.updated_at),
  });
  return { hire, notifications: [committedNotification(row, { id: notificationId, userId: row.recipient!, type: `hire.${rule.to}` })] };
}

export async function getHire(opts: { db: Database; tenantId: string; id: string; userId: string; role: TenantRole }): Promise<HireOutput> {
  const row = await findVisibleHire(opts.db, opts);
  if (!row) throw new AppError("NOT_FOUND", "No such hire among yours.");
  return toHire(row);
}

/** Newest first; the cursor is signed for this tenant, user, side and status (server/cursor.ts). */
export async function listHires(opts: { db: Database; tenantId: string; userId: string; as: "client" | "provider"; status?: Status; cursor?: string; limit: number; cursorSecret: string }) {
  const scope = `hires.list:${opts.tenantId}:${opts.userId}:${opts.as}:${opts.status ?? ""}`;
  const after = opts.cursor ? openCursor(opts.cursorSecret, scope, opts.cursor, IdPosition).id : undefined;
  const rows = await opts.db
    .select(hireColumns)
    .from(hires)
    .where(
      and(
        eq(hires.tenantId, opts.tenantId),
        eq(opts.as === "client" ? hires.clientId : hires.providerId, opts.userId),
        opts.status ? eq(hires.status, opts.status) : undefined,
        after ? lt(hires.id, after) : undefined,
      ),
    )
    .orderBy(desc(hires.id))
    .limit(opts.limit + 1);
  const { page, nextCursor } = takePage(rows, opts.limit, (r) => sealCursor(opts.cursorSecret, scope, { id: r.id }));
  return { items: page.map(toHire), nextCursor };
}
