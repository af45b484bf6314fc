import { router, tenantAdminProcedure } from "../trpc";
import { AuditListInput, AuditListOutput } from "./schemas";
import { listAudit } from "./service";

export const auditRouter = router({
  /** The tenant's audit trail, newest first. Owners and admins only; admins see only their own session ids. */
  list: tenantAdminProcedure
    .input(AuditListInput)
    .output(AuditListOutput)
    .query(({ ctx, input }) => listAudit({ db: ctx.db, tenantId: ctx.tenant.id, reader: { userId: ctx.auth.user.id, role: ctx.role }, ...input, cursorSecret: ctx.config.appSecret.value })),
});
