import { validateSessionToken } from "../../server/auth/sessions";
import type { Auth } from "../../server/context";
import { callerAs, type TestEnv } from "./test-app";

let counter = 0;
/** A unique suffix per call, so parallel test files never collide on emails or slugs. */
export function unique(prefix = "t"): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}${Math.random().toString(36).slice(2, 6)}`;
}

export const TEST_PASSWORD = "a-long-test-passphrase";

export type TestUser = { id: string; email: string; token: string; auth: Auth };

/** Signs a new user up through the API and returns their token and validated session. */
export async function createUser(env: TestEnv, fields: { firstName?: string; phone?: string } = {}): Promise<TestUser> {
  const email = `${unique("user")}@example.test`;
  const result = await callerAs(env, null).auth.signUp({
    email,
    password: TEST_PASSWORD,
    firstName: fields.firstName ?? "Test",
    lastName: "User",
    ...(fields.phone ? { phone: fields.phone } : {}),
  });
  const auth = await validateSessionToken({ db: env.deps.db, token: result.token, now: env.deps.clock(), policy: env.config.session });
  if (!auth) throw new Error("fresh session did not validate");
  return { id: result.user.id, email, token: result.token, auth };
}

export type TestTenant = { id: string; slug: string; owner: TestUser };

/** A tenant with a fresh owner, and optionally members of the given roles. */
export async function createTenant(env: TestEnv, owner?: TestUser): Promise<TestTenant> {
  const o = owner ?? (await createUser(env));
  const tenant = await callerAs(env, o.auth).tenants.create({ name: `Agency ${unique()}` });
  return { id: tenant.id, slug: tenant.slug, owner: o };
}

export type Role = "owner" | "admin" | "provider" | "client";

/**
 * Makes `user` a member of `tenant` the only way there is: the owner invites their email, and they
 * accept. Answers the invitation's id.
 */
export async function joinTenant(env: TestEnv, tenant: TestTenant, user: TestUser, role: Role): Promise<string> {
  const invitation = await callerAs(env, tenant.owner.auth, { tenant: tenant.slug }).tenants.members.invite({ email: user.email, role });
  await callerAs(env, user.auth).tenants.invitations.accept({ id: invitation.id });
  return invitation.id;
}

/** A new user who joined `tenant` with `role` (invited by its owner, and accepted). */
export async function addMember(env: TestEnv, tenant: TestTenant, role: Role): Promise<TestUser> {
  const user = await createUser(env);
  await joinTenant(env, tenant, user, role);
  return user;
}
