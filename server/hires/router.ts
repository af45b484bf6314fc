import type { Logger } from "../logger";
import type { NotificationRelay } from "../notifications/relay";
import type { NotificationRecord } from "../notifications/service";
import { auditActorOf, idempotent, rateLimited, router, tenantProcedure, tenantStatementProcedure } from "../trpc";
import type { Step } from "./rules";
import { CreateHireInput, HireIdInput, HireOutput, ListHiresInput, ListHiresOutput } from "./schemas";
import { createHire, getHire, listHires, transitionHire } from "./service";

/**
 * One procedure per step, each a single statement applying the step's row of HIRE_RULES
 * (server/hires/rules.ts): the tenant roles that may call it, and the parties who may take it.
 */
function step(action: Step) {
  return tenantStatementProcedure
    .input(HireIdInput)
    .output(HireOutput)
    .mutation(async ({ ctx, input }) => {
      const { hire, notifications } = await transitionHire({ db: ctx.db, tenantRef: ctx.tenantRef, actor: auditActorOf(ctx), user: ctx.auth.user, id: input.id, action, now: ctx.clock() });
      await publishCommitted(ctx, notifications);
      return hire;
    });
}

/** After the commit: a failed append is the relay's to retry, never the call's failure. */
function publishCommitted(ctx: { relay: NotificationRelay; log: Logger }, notifications: NotificationRecord[]) {
  return ctx.relay.publish(notifications).catch((err: unknown) => ctx.log.error({ err }, "after-commit work failed"));
}

export const hiresRouter = router({
  /** A client hires a published provider of this tenant; the provider is notified live. */
  create: tenantStatementProcedure
    .input(CreateHireInput)
    .use(rateLimited("hiresCreate"))
    .use(idempotent)
    .output(HireOutput)
    .mutation(async ({ ctx, input }) => {
      const { hire, notifications } = await createHire({ writer: ctx.hireWriter, tenantRef: ctx.tenantRef, actor: auditActorOf(ctx), client: ctx.auth.user, input, now: ctx.clock(), idempotency: ctx.idempotency });
      await publishCommitted(ctx, notifications);
      return hire;
    }),
  accept: step("accept"),
  decline: step("decline"),
  cancel: step("cancel"),
  complete: step("complete"),

  list: tenantProcedure
    .input(ListHiresInput)
    .output(ListHiresOutput)
    .query(({ ctx, input }) => listHires({ db: ctx.db, tenantId: ctx.tenant.id, userId: ctx.auth.user.id, ...input, cursorSecret: ctx.config.appSecret.value })),

  get: tenantProcedure
    .input(HireIdInput)
    .output(HireOutput)
    .query(({ ctx, input }) => getHire({ db: ctx.db, tenantId: ctx.tenant.id, id: input.id, userId: ctx.auth.user.id, role: ctx.role })),
});
