import { auditActorOf, clientProcedure, providerProcedure, router, tenantProcedure, tenantStatementProcedure } from "../trpc";
import { CreateHireInput, HireIdInput, HireOutput, ListHiresInput, ListHiresOutput } from "./schemas";
import { createHire, getHire, listHires, transitionHire, type Transition } from "./service";

/** One procedure per step; who may take it is decided by the hire's parties in the service. */
function step(base: typeof tenantProcedure, action: Transition) {
  return base
    .input(HireIdInput)
    .output(HireOutput)
    .mutation(async ({ ctx, input }) => {
      const { hire, notifications } = await transitionHire({
        db: ctx.db,
        tenant: ctx.tenant,
        actor: auditActorOf(ctx),
        user: ctx.auth.user,
        role: ctx.role,
        id: input.id,
        action,
      });
      ctx.afterCommit(() => ctx.relay.publish(notifications));
      return hire;
    });
}

export const hiresRouter = router({
  /** A client hires a published provider of this tenant; the provider is notified live. */
  create: tenantStatementProcedure
    .input(CreateHireInput)
    .output(HireOutput)
    .mutation(async ({ ctx, input }) => {
      const { hire, notifications } = await createHire({ db: ctx.db, tenantRef: ctx.tenantRef, actor: auditActorOf(ctx), client: ctx.auth.user, input, now: ctx.clock() });
      // Committed: a failed append is the relay's to retry, never this call's failure.
      await ctx.relay.publish(notifications).catch((err: unknown) => ctx.log.error({ err }, "after-commit work failed"));
      return hire;
    }),
  accept: step(providerProcedure, "accept"),
  decline: step(providerProcedure, "decline"),
  cancel: step(clientProcedure, "cancel"),
  complete: step(tenantProcedure, "complete"),

  list: tenantProcedure
    .input(ListHiresInput)
    .output(ListHiresOutput)
    .query(({ ctx, input }) => listHires({ db: ctx.db, tenantId: ctx.tenant.id, userId: ctx.auth.user.id, ...input })),

  get: tenantProcedure
    .input(HireIdInput)
    .output(HireOutput)
    .query(({ ctx, input }) => getHire({ db: ctx.db, tenantId: ctx.tenant.id, id: input.id, userId: ctx.auth.user.id, role: ctx.role })),
});
