import { z } from "zod";
import { tenantRoles } from "../../db/schema";
import { Email } from "../auth/schemas";
import { parsesAsTenantId } from "./slug";

export const TenantRole = z.enum(tenantRoles);

export const Slug = z
  .string()
  .trim()
  .toLowerCase()
  .min(2, "must be at least 2 characters")
  .max(63, "must be at most 63 characters")
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, "must be lower-case letters, digits and inner hyphens")
  .refine((s) => !parsesAsTenantId(s), "must not look like a tenant id");

export const CreateTenantInput = z.object({
  name: z.string().trim().min(2, "must be at least 2 characters").max(120, "must be at most 120 characters"),
  slug: Slug.optional(),
});
export type CreateTenantInput = z.infer<typeof CreateTenantInput>;

export const TenantOutput = z.object({ id: z.uuid(), slug: z.string(), name: z.string() });

export const MemberOutput = z.object({
  userId: z.uuid(),
  email: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  role: TenantRole,
  joinedAt: z.iso.datetime(),
});

export const RemoveMemberInput = z.object({ userId: z.uuid() });

export const SetRoleInput = z.object({ userId: z.uuid(), role: TenantRole });
export type SetRoleInput = z.infer<typeof SetRoleInput>;

export const InviteMemberInput = z.object({ email: Email, role: TenantRole });
export type InviteMemberInput = z.infer<typeof InviteMemberInput>;

export const InvitationIdInput = z.object({ id: z.uuid() });

/**
 * An invitation as the tenant's staff see it: the email they typed and nothing read from an account
 * with that email, so it answers the same whether or not one exists.
 */
export const TenantInvitationOutput = z.object({
  id: z.uuid(),
  email: z.string(),
  role: TenantRole,
  invitedBy: z.object({ userId: z.uuid(), firstName: z.string(), lastName: z.string() }).nullable(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});

/** An invitation as its invitee sees it: which tenant, which role, and who sent it. */
export const MyInvitationOutput = z.object({
  id: z.uuid(),
  tenant: TenantOutput,
  role: TenantRole,
  invitedBy: z.object({ firstName: z.string(), lastName: z.string() }).nullable(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
