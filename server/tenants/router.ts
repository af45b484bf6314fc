import { z } from "zod";
import { NoInput } from "../common-schemas";
import { TenantMembershipOutput } from "../auth/schemas";
import { listUserTenants } from "../auth/service";
import { auditActorOf, idempotent, rateLimited, router, tenantAdminProcedure, userProcedure } from "../trpc";
import { acceptInvitation, declineInvitation, inviteMember, listMyInvitations, listTenantInvitations, revokeInvitation } from "./invitations";
import {
  CreateTenantInput,
  InvitationIdInput,
  InviteMemberInput,
  MemberOutput,
  MyInvitationOutput,
  RemoveMemberInput,
  SetRoleInput,
  TenantInvitationOutput,
  TenantOutput,
  TenantRole,
} from "./schemas";
import { createTenant, listMembers, removeMember, setMemberRole } from "./service";

const Ok = z.object({ ok: z.literal(true) });

export const tenantsRouter = router({
  /** Creates a care agency; the caller becomes its owner. */
  create: userProcedure
    .input(CreateTenantInput)
    .use(rateLimited("tenantsCreate"))
    .use(idempotent)
    .output(TenantOutput)
    .mutation(({ ctx, input }) => createTenant({ db: ctx.db, userId: ctx.auth.user.id, input, actor: auditActorOf(ctx), idempotency: ctx.idempotency })),

  /** The tenants the caller belongs to, with their role in each. */
  mine: userProcedure
    .input(NoInput)
    .output(z.array(TenantMembershipOutput))
    .query(({ ctx }) => listUserTenants({ db: ctx.db, userId: ctx.auth.user.id })),

  members: router({
    list: tenantAdminProcedure
      .input(NoInput)
      .output(z.array(MemberOutput))
      .query(({ ctx }) => listMembers({ db: ctx.db, tenantId: ctx.tenant.id })),

    /** Invites an email with a role; its holder becomes a member only by accepting (`tenants.invitations.accept`). */
    invite: tenantAdminProcedure
      .input(InviteMemberInput)
      .output(TenantInvitationOutput)
      .mutation(({ ctx, input }) =>
        inviteMember({ db: ctx.db, tenantId: ctx.tenant.id, actorRole: ctx.role, actor: auditActorOf(ctx), input, now: ctx.clock() }),
      ),

    /** The tenant's invitations waiting for an answer. */
    invitations: tenantAdminProcedure
      .input(NoInput)
      .output(z.array(TenantInvitationOutput))
      .query(({ ctx }) => listTenantInvitations({ db: ctx.db, tenantId: ctx.tenant.id, now: ctx.clock() })),

    revokeInvitation: tenantAdminProcedure
      .input(InvitationIdInput)
      .output(Ok)
      .mutation(async ({ ctx, input }) => {
        await revokeInvitation({ db: ctx.db, tenantId: ctx.tenant.id, actorRole: ctx.role, actor: auditActorOf(ctx), id: input.id, now: ctx.clock() });
        return { ok: true as const };
      }),

    remove: tenantAdminProcedure
      .input(RemoveMemberInput)
      .output(Ok)
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

  /** The caller's own invitations, across tenants (no `x-tenant-id`). */
  invitations: router({
    list: userProcedure
      .input(NoInput)
      .output(z.array(MyInvitationOutput))
      .query(({ ctx }) => listMyInvitations({ db: ctx.db, user: ctx.auth.user, now: ctx.clock() })),

    /** Joins the tenant with the invitation's role; answers the membership as `tenants.mine` lists it. */
    accept: userProcedure
      .input(InvitationIdInput)
      .use(idempotent)
      .output(TenantMembershipOutput)
      .mutation(({ ctx, input }) => acceptInvitation({ db: ctx.db, user: ctx.auth.user, actor: auditActorOf(ctx), id: input.id, now: ctx.clock(), idempotency: ctx.idempotency })),

    decline: userProcedure
      .input(InvitationIdInput)
      .output(Ok)
      .mutation(async ({ ctx, input }) => {
        await declineInvitation({ db: ctx.db, user: ctx.auth.user, actor: auditActorOf(ctx), id: input.id, now: ctx.clock() });
        return { ok: true as const };
      }),
  }),
});
