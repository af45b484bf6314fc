import { and, desc, eq, lt, sql } from "drizzle-orm";
import { uuidv7 } from "uuidv7";
import type { Database } from "../../db/client";
import { hires } from "../../db/schema";
import { auditActorColumns, type AuditActor } from "../audit/service";
import { IdPosition, openCursor, sealCursor } from "../cursor";
import { AppError } from "../errors";
import { replayOf, type IdempotencyRequest } from "../idempotency";
import { takePage } from "../pagination";
import { toNotification, type NotificationRecord } from "../notifications/service";
import { roleRefused, tenantNotFound, type TenantRole } from "../tenants/resolve";
import { HIRE_RULES, type HireStatus, type Step } from "./rules";
import { MAX_HIRE_LEAD_MS, type CreateHireInput, type HireOutput } from "./schemas";
import { hireJson, parseHire, runTransitionHire, type CreateHireOutcome, type TransitionHireOutcome } from "./statements";
import type { HireWriter } from "./writer";

/** Who is acting, from their session: no query needed for a name. */
export type Person = { id: string; firstName: string; lastName: string; phone: string | null };

const fullNameOf = (person: Person) => `${person.firstName} ${person.lastName}`;

type Committed = Extract<CreateHireOutcome | TransitionHireOutcome, { outcome: "created" | "done" }>;

/**
 * The notification a hire statement committed, as the relay publishes it: the stream carries what the
 * statement stored (its recipient, type, seq, time and payload), so it is what the inbox lists.
 */
function committedNotification(id: string, row: Committed): NotificationRecord {
  return toNotification({
    id,
    userId: row.recipient,
    seq: row.seq,
    tenant: { id: row.tenant_id, slug: row.tenant_slug, name: row.tenant_name },
    type: row.notification_type,
    payload: row.payload,
    createdAt: row.notified_at,
    readAt: null,
  });
}

/**
 * A client hires a published provider of the tenant named by `tenantRef`. One statement (app_create_hire,
 * through the group-committing HireWriter) enters the tenant, checks the role and the provider, and
 * writes the hire, the provider's notification and the audit row: one transaction, under the same
 * row-level security as statements sent one by one. A refusal writes nothing. The caller publishes the
 * returned notification: the statement has committed when this returns. Every time of the hire is `now`,
 * the call's clock.
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
  const { input, client, now } = opts;
  if (Date.parse(input.startsAt) < now.getTime() - 5 * 60_000) {
    throw new AppError("BAD_REQUEST", "startsAt is in the past.", { issues: [{ path: "startsAt", message: "must not be in the past" }] });
  }
  if (Date.parse(input.startsAt) > now.getTime() + MAX_HIRE_LEAD_MS) {
    throw new AppError("BAD_REQUEST", "startsAt is more than two years ahead.", { issues: [{ path: "startsAt", message: "must be at most two years ahead" }] });
  }
  // The answer, but for the tenant's id, which only the statement knows: also the row it inserts, and
  // what a key stores. The client's name and phone as they are now (from their session) are its snapshot.
  const hire: Omit<HireOutput, "tenantId"> = {
    id: uuidv7(),
    clientId: client.id,
    providerId: input.providerId,
    status: HIRE_RULES.create.status,
    jobDescription: input.jobDescription,
    location: input.location,
    lat: input.lat ?? null,
    lng: input.lng ?? null,
    startsAt: new Date(input.startsAt).toISOString(),
    endsAt: input.endsAt ? new Date(input.endsAt).toISOString() : null,
    clientFullName: fullNameOf(client),
    clientPhone: client.phone,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  const notificationId = uuidv7();
  const idem = opts.idempotency ?? null;
  const outcome = await opts.writer.create({
    ref: opts.tenantRef,
    roles: HIRE_RULES.create.roles,
    hire,
    notificationId,
    auditId: uuidv7(),
    actor: auditActorColumns(opts.actor),
    idempotency: idem && { procedure: idem.procedure, key: idem.key, fingerprint: idem.fingerprint, now: idem.now.toISOString(), expiresAt: idem.expiresAt.toISOString() },
  });
  switch (outcome.outcome) {
    case "no_tenant":
      throw tenantNotFound(opts.tenantRef);
    case "replay":
      if (!idem) throw new Error("app_create_hire answered a replay for a hire without a key");
      return { hire: replayOf<HireOutput>(idem, { fingerprint: outcome.replay_fingerprint, response: outcome.replay_response }), notifications: [] };
    case "wrong_role":
      throw roleRefused(HIRE_RULES.create.roles, outcome.member_role);
    case "no_provider":
      throw new AppError("NOT_FOUND", "No published provider with that id in this tenant.", { issues: [{ path: "providerId", message: "is not a published provider here" }] });
    case "created":
      return { hire: { ...hire, tenantId: outcome.tenant_id }, notifications: [committedNotification(notificationId, outcome)] };
  }
}

/**
 * One step of a hire, in one statement (app_transition_hire) applying the step's row of HIRE_RULES:
 * enter the tenant named by `tenantRef`, check the caller's role, lock the hire, check that the caller
 * may see it, is a party allowed to take the step, and finds it in a state the step leaves, and move it.
 * Of two racing steps the second finds the first's state and answers CONFLICT naming it. A refusal
 * writes nothing. The caller publishes the returned notification: the statement has committed when this
 * returns.
 */
export async function transitionHire(opts: {
  db: Database;
  tenantRef: string;
  actor: AuditActor;
  user: Person;
  id: string;
  action: Step;
  now: Date;
}): Promise<{ hire: HireOutput; notifications: NotificationRecord[] }> {
  const rule = HIRE_RULES.steps[opts.action];
  const notificationId = uuidv7();
  const outcome = await runTransitionHire(opts.db, {
    user: opts.user.id,
    ref: opts.tenantRef,
    hireId: opts.id,
    action: opts.action,
    rule,
    byName: fullNameOf(opts.user),
    now: opts.now.toISOString(),
    notificationId,
    auditId: uuidv7(),
    actor: auditActorColumns(opts.actor),
  });
  switch (outcome.outcome) {
    case "no_tenant":
      throw tenantNotFound(opts.tenantRef);
    case "wrong_role":
      throw roleRefused(rule.roles, outcome.member_role);
    case "not_found":
      throw new AppError("NOT_FOUND", "No such hire among yours.");
    case "not_party":
      throw new AppError("FORBIDDEN", `Only the ${rule.by.join(" or the ")} of this hire can ${opts.action} it.`);
    case "conflict":
      throw new AppError("CONFLICT", `The hire is ${outcome.current_status}: it cannot be ${rule.to} from that state.`);
    case "done":
      return { hire: outcome.hire, notifications: [committedNotification(notificationId, outcome)] };
  }
}

/** A hire the caller may see (app_hire_visible: a party, or an owner or admin of the tenant). */
export async function getHire(opts: { db: Database; tenantId: string; id: string; userId: string; role: TenantRole }): Promise<HireOutput> {
  const [row] = await opts.db
    .select({ hire: hireJson })
    .from(hires)
    .where(
      and(
        eq(hires.tenantId, opts.tenantId),
        eq(hires.id, opts.id),
        sql`app_hire_visible(${hires.clientId}, ${hires.providerId}, ${opts.userId}::uuid, ${opts.role}::tenant_role)`,
      ),
    );
  if (!row) throw new AppError("NOT_FOUND", "No such hire among yours.");
  return parseHire(row.hire);
}

/** Newest first; the cursor is signed for this tenant, user, side and status (server/cursor.ts). */
export async function listHires(opts: { db: Database; tenantId: string; userId: string; as: "client" | "provider"; status?: HireStatus; cursor?: string; limit: number; cursorSecret: string }) {
  const scope = `hires.list:${opts.tenantId}:${opts.userId}:${opts.as}:${opts.status ?? ""}`;
  const after = opts.cursor ? openCursor(opts.cursorSecret, scope, opts.cursor, IdPosition).id : undefined;
  const rows = await opts.db
    .select({ id: hires.id, hire: hireJson })
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
  return { items: page.map((r) => parseHire(r.hire)), nextCursor };
}
