import { sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { rowsOf, type Database } from "../../db/client";
import { hires, hireStatuses, tenantRoles } from "../../db/schema";
import type { AuditActorColumns } from "../audit/service";
import type { TenantRole } from "../tenants/resolve";
import { HireRequestedPayload, HireStepPayload } from "../notifications/schemas";
import type { StepRule, Step } from "./rules";
import { HireOutput } from "./schemas";

/*
 * The hire functions' inputs and outputs, declared once (docs/decisions/009-hire-rules.md). Each function
 * takes one jsonb argument, the JSON of a statement typed here, whose keys its SQL reads by name
 * (db/functions/hires/); what it answers is parsed with the outcome schemas here, so a function that
 * drifts from them fails loudly instead of answering a wrong shape. Nothing else calls them.
 */

/** One hire for app_create_hire: a hire written alone is an array of one. The client is the caller. */
export type CreateHireStatement = {
  /** The tenant as the caller named it (an id or a slug). */
  ref: string;
  /** The tenant roles that may create a hire (HIRE_RULES.create.roles). */
  roles: TenantRole[];
  /** The new hire as the call answers it, but for the tenant id, which only the statement knows. */
  hire: Omit<HireOutput, "tenantId">;
  notificationId: string;
  auditId: string;
  actor: AuditActorColumns;
  /** The call's key, claimed in the hire's own transaction; `now` is the key's clock. */
  idempotency: { procedure: string; key: string; fingerprint: string; now: string; expiresAt: string } | null;
};

/** One step for app_transition_hire. */
export type TransitionHireStatement = {
  user: string;
  ref: string;
  hireId: string;
  action: Step;
  /** The step's row of HIRE_RULES. */
  rule: StepRule;
  /** The caller's name as their session has it, for the notification. */
  byName: string;
  /** The time the change is stamped with (updatedAt, the audit row). */
  now: string;
  notificationId: string;
  auditId: string;
  actor: AuditActorColumns;
};

/** A jsonb column: postgres.js parses it, PGlite may hand back the text. */
const jsonb = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (typeof value === "string" ? JSON.parse(value) : value), schema);

const TenantRole = z.enum(tenantRoles);
/** The tenant the statement entered, and the notification it wrote (app_notify_hire). */
const Committed = {
  tenant_id: z.string(),
  tenant_slug: z.string(),
  tenant_name: z.string(),
  recipient: z.string(),
  seq: z.coerce.number().int().positive(),
  notified_at: z.coerce.date(),
};

export const CreateHireOutcome = z.discriminatedUnion("outcome", [
  z.object({ idx: z.number().int(), outcome: z.literal("created"), ...Committed, notification_type: z.literal("hire.requested"), payload: jsonb(HireRequestedPayload) }),
  /** The key was used before: nothing was written; the first request's fingerprint and answer. */
  z.object({ idx: z.number().int(), outcome: z.literal("replay"), replay_fingerprint: z.string(), replay_response: jsonb(HireOutput).nullable() }),
  z.object({ idx: z.number().int(), outcome: z.literal("no_tenant") }),
  z.object({ idx: z.number().int(), outcome: z.literal("wrong_role"), member_role: TenantRole }),
  z.object({ idx: z.number().int(), outcome: z.literal("no_provider") }),
]);
export type CreateHireOutcome = z.infer<typeof CreateHireOutcome>;

export const TransitionHireOutcome = z.discriminatedUnion("outcome", [
  z.object({
    outcome: z.literal("done"),
    ...Committed,
    hire: jsonb(HireOutput),
    notification_type: z.enum(["hire.accepted", "hire.declined", "hire.cancelled", "hire.completed"]),
    payload: jsonb(HireStepPayload),
  }),
  z.object({ outcome: z.literal("no_tenant") }),
  z.object({ outcome: z.literal("wrong_role"), member_role: TenantRole }),
  z.object({ outcome: z.literal("not_found") }),
  z.object({ outcome: z.literal("not_party") }),
  z.object({ outcome: z.literal("conflict"), current_status: z.enum(hireStatuses) }),
]);
export type TransitionHireOutcome = z.infer<typeof TransitionHireOutcome>;

/** Writes hires in one statement (app_create_hire) and answers each one's outcome, in their order. */
export async function runCreateHire(db: Database, statements: CreateHireStatement[]): Promise<CreateHireOutcome[]> {
  const rows = z.array(CreateHireOutcome).parse(rowsOf(await db.execute(sql`select * from app_create_hire(${JSON.stringify(statements)}::jsonb)`)));
  const byIdx = new Map(rows.map((row) => [row.idx, row]));
  return statements.map((_, i) => {
    const row = byIdx.get(i);
    if (!row) throw new Error(`app_create_hire answered no row for hire ${i} of ${statements.length}`);
    return row;
  });
}

/** One step of a hire in one statement (app_transition_hire). */
export async function runTransitionHire(db: Database, statement: TransitionHireStatement): Promise<TransitionHireOutcome> {
  const [row] = z.array(TransitionHireOutcome).length(1).parse(rowsOf(await db.execute(sql`select * from app_transition_hire(${JSON.stringify(statement)}::jsonb)`)));
  return row!;
}

/** A hires row as the API answers it (app_hire_json), for a select's column list; parse it with `parseHire`. */
export const hireJson: SQL<unknown> = sql`app_hire_json(${hires})`;
export const parseHire = (value: unknown): HireOutput => jsonb(HireOutput).parse(value);
