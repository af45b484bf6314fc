import { z } from "zod";
import { tenantRoles } from "../../db/schema";
import { isCommonPassword } from "./passwords";

/** Trimmed and lower-cased, so " Ann@Example.com" and "ann@example.com" are one account. */
export const Email = z.string().trim().toLowerCase().max(254).pipe(z.email({ message: "must be an email address" }));

export const NewPassword = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(128, "must be at most 128 characters")
  .refine((p) => !isCommonPassword(p), "is too common: choose one that is harder to guess");

export const PersonName = z.string().trim().min(1, "is required").max(100, "must be at most 100 characters");

export const Phone = z
  .string()
  .trim()
  .regex(/^\+?[0-9][0-9 ().-]{4,31}$/, "must be a phone number such as +39 06 1234 5678");

export const SignUpInput = z.object({
  email: Email,
  password: NewPassword,
  firstName: PersonName,
  lastName: PersonName,
  phone: Phone.optional(),
});
export type SignUpInput = z.infer<typeof SignUpInput>;

export const LogInInput = z.object({
  email: Email,
  // No strength rules at log-in: they would tell an attacker which passwords cannot exist.
  password: z.string().min(1, "is required").max(128, "must be at most 128 characters"),
});
export type LogInInput = z.infer<typeof LogInInput>;

export const UserOutput = z.object({
  id: z.uuid(),
  email: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  phone: z.string().nullable(),
});

export const TenantMembershipOutput = z.object({
  id: z.uuid(),
  slug: z.string(),
  name: z.string(),
  role: z.enum(tenantRoles),
});

/** The CareEasy log-in response: the token, the user, and every tenant they belong to. */
export const AuthResultOutput = z.object({
  token: z.string(),
  user: UserOutput,
  tenants: z.array(TenantMembershipOutput),
});

export const MeOutput = z.object({
  user: UserOutput,
  tenants: z.array(TenantMembershipOutput),
  session: z.object({ id: z.string(), expiresAt: z.iso.datetime() }),
});

export const SessionOutput = z.object({
  id: z.string(),
  current: z.boolean(),
  createdAt: z.iso.datetime(),
  lastSeenAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
});

export const SessionIdInput = z.object({ id: z.string().regex(/^[a-z2-7]{26}$/, "must be a session id") });
