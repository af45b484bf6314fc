import { z } from "zod";
import { NoInput } from "../common-schemas";
import { TenantMembershipOutput } from "../auth/schemas";
import { listUserTenants } from "../auth/service";
import { auditActorOf, authedProcedure, idempotent, router, tenantAdminProcedure } from "../trpc";
import {
  AddMemberInput,
  CreateTenantInput,
  MemberOutput,
  RemoveMemberInput,
  SetRoleInput,
  TenantOutput,
  TenantRole,
} from "./schemas";
import { addMember, createTenant, listMembers, removeMember, setMemberRole } from "./service";

export const tenantsRouter = router({
  /** Creates a care agency; the caller becomes its owner. */
  create: authedProcedure
    .input(CreateTenantInput)
    .use(idempotent)
    .output(TenantOutput)
    .mutation(({ ctx, input }) => createTenant({ db: ctx.db, userId: ctx.auth.user.id, input, actor: auditActorOf(ctx), idempotency: ctx.idempotency })),

  /** The tenants the caller belongs to, with their role in each. */
  mine: authedProcedure
    .input(NoInput)
    .output(z.array(TenantMembershipOutput))
    .query(({ ctx }) => listUserTenants(ctx.db, ctx.auth.user.id)),

  members: router({
    list: tenantAdminProcedure
      .input(NoInput)
      .output(z.array(MemberOutput))
      .query(({ ctx }) => listMembers(ctx.db, ctx.tenant.id)),

    add: tenantAdminProcedure
      .input(AddMemberInput)
      .output(MemberOutput)
      .mutation(({ ctx, input }) =>
        addMember({ db: ctx.db, tenantId: ctx.tenant.id, actorRole: ctx.role, actor: auditActorOf(ctx), input }),
      ),

    remove: tenantAdminProcedure
      .input(RemoveMemberInput)
      .output(z.object({ ok: z.literal(true) }))
      .mutation(async ({ ctx, input }) => {
        await removeMember({ db: ctx.db, tenantId: ctx.tenant.id, actorRole: ctx.role, actor: auditActorOf(ctx), userId: input.userId });
        return { ok: true as const };
      }),

    setRole: tenantAdminProcedure
      .input(SetRoleInput)
      .output(z.object({ userId: z.uuid(), role: TenantRole }))
      .mutation(({ ctx, input }) =>
        setMemberRole({ db: ctx.db, tenantId: ctx.tenant.id, actorRole: ctx.role, actor: auditActorOf(ctx), input }),
      ),
  }),
});
