import { tenantRoles, type hireStatuses } from "../../db/schema";
import type { TenantRole } from "../tenants/resolve";

export type HireStatus = (typeof hireStatuses)[number];
/** A party of a hire: its client, or its provider. */
export type HireParty = "client" | "provider";
export type Step = "accept" | "decline" | "cancel" | "complete";

/** A step: the tenant roles that may call it, the parties of the hire who may take it, from which states, to which. */
export type StepRule = { roles: TenantRole[]; by: HireParty[]; from: HireStatus[]; to: Exclude<HireStatus, "requested"> };

/**
 * Who may do what to a hire, the one table of it (docs/decisions/009-hire-rules.md). The database
 * functions apply the row they are given (app_create_hire, app_transition_hire) and name no role or
 * state themselves; everything not listed is refused. Who may see a hire is app_hire_visible's
 * (db/functions/hires/hire-visible.sql): its parties, and the tenant's owners and admins.
 */
export const HIRE_RULES: { create: { roles: TenantRole[]; status: "requested" }; steps: Record<Step, StepRule> } = {
  /** A client hires a published provider of the tenant; the hire starts as requested. */
  create: { roles: ["client"], status: "requested" },
  steps: {
    accept: { roles: ["provider"], by: ["provider"], from: ["requested"], to: "accepted" },
    decline: { roles: ["provider"], by: ["provider"], from: ["requested"], to: "declined" },
    cancel: { roles: ["client"], by: ["client"], from: ["requested", "accepted"], to: "cancelled" },
    // Any member may call it; the hire's parties decide who takes it.
    complete: { roles: [...tenantRoles], by: ["client", "provider"], from: ["accepted"], to: "completed" },
  },
};
