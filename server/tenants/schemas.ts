import { z } from "zod";
import { tenantRoles } from "../../db/schema";
import { Email } from "../auth/schemas";

export const TenantRole = z.enum(tenantRoles);

const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const Slug = z
  .string()
  .trim()
  .toLowerCase()
  .min(2, "must be at least 2 characters")
  .max(63, "must be at most 63 characters")
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, "must be lower-case letters, digits and inner hyphens")
  .refine((s) => !UUID_LIKE.test(s), "must not look like a tenant id");

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

export const AddMemberInput = z.object({ email: Email, role: TenantRole });
export type AddMemberInput = z.infer<typeof AddMemberInput>;

export const RemoveMemberInput = z.object({ userId: z.uuid() });

export const SetRoleInput = z.object({ userId: z.uuid(), role: TenantRole });
export type SetRoleInput = z.infer<typeof SetRoleInput>;
