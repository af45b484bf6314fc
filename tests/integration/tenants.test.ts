import { TRPCError } from "@trpc/server";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateSessionToken } from "../../server/auth/sessions";
import { INVITATION_LIFETIME_MS } from "../../server/tenants/invitations";
import { parsesAsTenantId } from "../../server/tenants/slug";
import { addMember, createTenant, createUser, joinTenant, TEST_PASSWORD, unique, type TestTenant, type TestUser } from "../helpers/factories";
import { callerAs, createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";

let env: TestEnv;
let owner: postgres.Sql;
let app: postgres.Sql;
beforeAll(async () => {
  env = await createTestEnv();
  owner = openOwnerSql();
  if (env.config.database.kind !== "postgres") throw new Error("needs postgres");
  app = postgres(env.config.database.appUrl, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await app.end();
  await owner.end();
  await env.close();
});

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TRPCError) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: "OK", message: "" };
}

describe("tenants.create and tenants.mine", () => {
  it("makes the creator owner, derives a slug from the name, and lists it among the user's tenants", async () => {
    const user = await createUser(env);
    const name = `Cura & Casa Città ${unique()}`;
    const tenant = await callerAs(env, user.auth).tenants.create({ name });
    expect(tenant.slug).toMatch(/^cura-casa-citta-[a-z0-9]+$/);
    expect(await callerAs(env, user.auth).tenants.mine()).toEqual([{ id: tenant.id, slug: tenant.slug, name, role: "owner" }]);
  });

  it("answers CONFLICT on a slug asked for that is taken, and suffixes a derived one", async () => {
    const user = await createUser(env);
    const slug = unique("agency");
    await callerAs(env, user.auth).tenants.create({ name: "First", slug });
    const err = await refusal(callerAs(env, user.auth).tenants.create({ name: "Second", slug }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toContain(slug);
    const derived = await callerAs(env, user.auth).tenants.create({ name: slug });
    expect(derived.slug).toMatch(new RegExp(`^${slug}-[a-z2-7]+$`));
  });

  it("refuses a slug that looks like an id", async () => {
    const user = await createUser(env);
    const err = await refusal(callerAs(env, user.auth).tenants.create({ name: "X agency", slug: "0190a3a4-1111-7222-8333-444455556666" }));
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.message).toMatch(/slug/);
  });
});

describe("members", () => {
  it("owners and admins invite, list, re-role and remove members", async () => {
    const tenant = await createTenant(env);
    const admin = await addMember(env, tenant, "admin");
    const asAdmin = callerAs(env, admin.auth, { tenant: tenant.slug });
    const provider = await createUser(env);
    const invited = await asAdmin.tenants.members.invite({ email: provider.email.toUpperCase(), role: "provider" });
    expect(invited).toMatchObject({ email: provider.email, role: "provider" });
    expect(await callerAs(env, provider.auth).tenants.invitations.accept({ id: invited.id })).toEqual({ id: tenant.id, slug: tenant.slug, name: expect.any(String), role: "provider" });
    expect((await asAdmin.tenants.members.list()).map((m) => m.role).sort()).toEqual(["admin", "owner", "provider"]);
    expect(await asAdmin.tenants.members.setRole({ userId: provider.id, role: "client" })).toEqual({ userId: provider.id, role: "client" });
    await asAdmin.tenants.members.remove({ userId: provider.id });
    expect((await asAdmin.tenants.members.list()).map((m) => m.userId)).not.toContain(provider.id);
    // The removed member no longer reaches the tenant.
    expect((await refusal(callerAs(env, provider.auth, { tenant: tenant.slug }).tenants.members.list())).code).toBe("NOT_FOUND");
  });

  it("providers and clients cannot manage members", async () => {
    const tenant = await createTenant(env);
    for (const role of ["provider", "client"] as const) {
      const member = await addMember(env, tenant, role);
      const as = callerAs(env, member.auth, { tenant: tenant.slug });
      expect((await refusal(as.tenants.members.list())).code).toBe("FORBIDDEN");
      expect((await refusal(as.tenants.members.invite({ email: `${unique()}@example.test`, role: "client" }))).code).toBe("FORBIDDEN");
      expect((await refusal(as.tenants.members.invitations())).code).toBe("FORBIDDEN");
      expect((await refusal(as.tenants.members.setRole({ userId: member.id, role: "owner" }))).code).toBe("FORBIDDEN");
    }
  });

  it("only owners grant or touch the owner role", async () => {
    const tenant = await createTenant(env);
    const admin = await addMember(env, tenant, "admin");
    const client = await addMember(env, tenant, "client");
    const asAdmin = callerAs(env, admin.auth, { tenant: tenant.slug });
    expect((await refusal(asAdmin.tenants.members.setRole({ userId: client.id, role: "owner" }))).code).toBe("FORBIDDEN");
    expect((await refusal(asAdmin.tenants.members.remove({ userId: tenant.owner.id }))).code).toBe("FORBIDDEN");
    expect((await refusal(asAdmin.tenants.members.setRole({ userId: tenant.owner.id, role: "client" }))).code).toBe("FORBIDDEN");
  });

  it("the last owner cannot be removed or demoted; with two owners one can go", async () => {
    const tenant = await createTenant(env);
    const asOwner = callerAs(env, tenant.owner.auth, { tenant: tenant.slug });
    const demote = await refusal(asOwner.tenants.members.setRole({ userId: tenant.owner.id, role: "admin" }));
    expect(demote.code).toBe("CONFLICT");
    expect(demote.message).toMatch(/last owner/);
    expect((await refusal(asOwner.tenants.members.remove({ userId: tenant.owner.id }))).code).toBe("CONFLICT");
    const second = await addMember(env, tenant, "owner");
    await asOwner.tenants.members.setRole({ userId: tenant.owner.id, role: "admin" });
    const members = await callerAs(env, second.auth, { tenant: tenant.slug }).tenants.members.list();
    expect(members.filter((m) => m.role === "owner").map((m) => m.userId)).toEqual([second.id]);
  });

  it("two owners demoting each other at once leave one owner", async () => {
    const tenant = await createTenant(env);
    const second = await addMember(env, tenant, "owner");
    const results = await Promise.all([
      refusal(callerAs(env, tenant.owner.auth, { tenant: tenant.slug }).tenants.members.setRole({ userId: second.id, role: "admin" })),
      refusal(callerAs(env, second.auth, { tenant: tenant.slug }).tenants.members.setRole({ userId: tenant.owner.id, role: "admin" })),
    ]);
    // The loser is refused either as the last-owner CONFLICT or, when the winner committed before
    // it resolved its own role, as a FORBIDDEN non-owner; never do both succeed.
    const codes = results.map((r) => r.code).sort();
    expect(codes[1]).toBe("OK");
    expect(["CONFLICT", "FORBIDDEN"]).toContain(codes[0]);
    const winner = results[0]!.code === "OK" ? tenant.owner : second;
    const owners = (await callerAs(env, winner.auth, { tenant: tenant.slug }).tenants.members.list()).filter((m) => m.role === "owner");
    expect(owners.map((m) => m.userId)).toEqual([winner.id]);
  });
});

describe("tenant resolver", () => {
  it("lets a member in by slug or id, and answers non-member and unknown tenants the same", async () => {
    const tenant = await createTenant(env);
    const outsider = await createTenant(env);
    const asOwner = (ref: string) => callerAs(env, tenant.owner.auth, { tenant: ref });
    expect(await asOwner(tenant.slug).tenants.members.list()).toHaveLength(1);
    expect(await asOwner(tenant.id).tenants.members.list()).toHaveLength(1);
    expect(await asOwner(tenant.slug.toUpperCase()).tenants.members.list()).toHaveLength(1);
    const foreign = await refusal(asOwner(outsider.slug).tenants.members.list());
    const foreignById = await refusal(asOwner(outsider.id).tenants.members.list());
    const unknown = await refusal(asOwner("0190a3a4-1111-7222-8333-444455556666").tenants.members.list());
    expect([foreign.code, foreignById.code, unknown.code]).toEqual(["NOT_FOUND", "NOT_FOUND", "NOT_FOUND"]);
    expect(foreignById.message.replace(outsider.id, "X")).toBe(unknown.message.replace("0190a3a4-1111-7222-8333-444455556666", "X"));
  });

  it("refuses a tenant-scoped call without a session or without the header", async () => {
    const tenant = await createTenant(env);
    expect((await refusal(callerAs(env, null, { tenant: tenant.slug }).tenants.members.list())).code).toBe("UNAUTHORIZED");
    const missing = await refusal(callerAs(env, tenant.owner.auth).tenants.members.list());
    expect(missing.code).toBe("BAD_REQUEST");
    expect(missing.message).toMatch(/x-tenant-id/);
  });
});

describe("unambiguous tenants: no slug reads as a tenant id", () => {
  const ID = "0190a3a4-1111-7222-8333-444455556666";

  it("a tenant named like another tenant's id gets a slug that is not an id, and each reference names one tenant", async () => {
    const first = await createTenant(env);
    const user = await createUser(env);
    const variants = [first.id, first.id.toUpperCase(), first.id.replaceAll("-", ""), ` ${first.id} `];
    const made = [];
    for (const name of variants) made.push(await callerAs(env, user.auth).tenants.create({ name }));
    for (const t of made) {
      expect(parsesAsTenantId(t.slug), t.slug).toBe(false);
      expect(t.slug).toMatch(/^t-[0-9a-f-]+(-[a-z2-7]+)?$/);
    }
    expect(made[0]!.slug).toBe(`t-${first.id}`);
    // A member of both: the id names the first tenant, the new slug the second.
    await joinTenant(env, first, user, "admin");
    const tenantOf = async (ref: string) => (await callerAs(env, user.auth, { tenant: ref }).audit.list({ entityType: "tenant" })).items.map((i) => i.entityId);
    expect(await tenantOf(first.id)).toEqual([first.id]);
    expect(await tenantOf(first.id.toUpperCase())).toEqual([first.id]);
    expect(await tenantOf(made[0]!.slug)).toEqual([made[0]!.id]);
    // An id written without its hyphens is neither an id nor any slug.
    expect((await refusal(callerAs(env, user.auth, { tenant: first.id.replaceAll("-", "") }).tenants.members.list())).code).toBe("NOT_FOUND");
  });

  it("refuses a typed slug in any form that reads as an id, naming the slug", async () => {
    const user = await createUser(env);
    for (const slug of [ID, ID.toUpperCase(), ID.replaceAll("-", ""), "0190-a3a4-1111-7222-8333-4444-5555-6666", "0190a3a411117222-8333444455556666"]) {
      const err = await refusal(callerAs(env, user.auth).tenants.create({ name: "X agency", slug }));
      expect(err.code, slug).toBe("BAD_REQUEST");
      expect(err.message, slug).toMatch(/"slug"[^]*must not look like a tenant id/);
    }
    // Hex words that are not 32 digits are ordinary slugs.
    const fine = await callerAs(env, user.auth).tenants.create({ name: "Cafe", slug: `cafe-${unique("b")}` });
    expect(fine.slug).toMatch(/^cafe-/);
  });

  it("the database refuses an id-like slug from any path (CHECK tenants_slug_not_an_id)", async () => {
    const tenant = await createTenant(env);
    await expect(owner`insert into tenants (id, slug, name) values (${crypto.randomUUID()}, ${tenant.id}, 'Impostor')`).rejects.toThrow(/tenants_slug_not_an_id/);
    await expect(owner`update tenants set slug = ${ID.replaceAll("-", "")} where id = ${tenant.id}`).rejects.toThrow(/tenants_slug_not_an_id/);
    await expect(owner`update tenants set slug = 'Upper-Case' where id = ${tenant.id}`).rejects.toThrow(/tenants_slug_format/);
    // Through the server's own role, with the tenant bound, too.
    await expect(
      app.begin(async (tx) => {
        await tx`select set_config('app.tenant_id', ${tenant.id}, true)`;
        await tx`update tenants set slug = ${ID} where id = ${tenant.id}`;
      }),
    ).rejects.toThrow(/tenants_slug_not_an_id/);
  });

  it("the resolver looks an id up as an id only: even a slug equal to another tenant's id, forced in behind the checks, does not shadow it", async () => {
    const real = await createTenant(env);
    const user = real.owner;
    await owner.begin(async (tx) => {
      await tx`alter table tenants drop constraint tenants_slug_not_an_id`;
      const impostor = crypto.randomUUID();
      await tx`insert into tenants (id, slug, name) values (${impostor}, ${real.id}, 'Impostor')`;
      await tx`insert into memberships (tenant_id, user_id, role) values (${impostor}, ${user.id}, 'owner')`;
      for (const ref of [real.id, real.id.toUpperCase()]) {
        const found = await tx`select tenant_id, tenant_name from app_enter_tenant(${user.id}::uuid, ${ref})`;
        expect(found, ref).toEqual([{ tenant_id: real.id, tenant_name: expect.stringMatching(/^Agency /) }]);
      }
      // And a slug reference never matches an id.
      expect(await tx`select tenant_id from app_enter_tenant(${user.id}::uuid, ${real.slug})`).toEqual([{ tenant_id: real.id }]);
      throw new RollBack();
    }).catch((err: unknown) => {
      if (!(err instanceof RollBack)) throw err;
    });
    const [check] = await owner`select count(*)::int as n from pg_constraint where conname = 'tenants_slug_not_an_id'`;
    expect(check!.n).toBe(1);
  });
});

class RollBack extends Error {}

describe("membership with consent: invitations", () => {
  /** A fresh user with a name no other test uses, so a leak of it is visible in any output. */
  async function distinctUser(): Promise<TestUser & { firstName: string }> {
    const firstName = `Zelda${unique("n")}`;
    return { ...(await createUser(env, { firstName })), firstName };
  }
  const staff = (tenant: TestTenant, who: TestUser = tenant.owner) => callerAs(env, who.auth, { tenant: tenant.slug });
  const mine = (user: TestUser) => callerAs(env, user.auth).tenants.invitations;

  it("an invitation makes no member until accepted, and shows the tenant nothing read from the account", async () => {
    const tenant = await createTenant(env);
    const invitee = await distinctUser();
    const invited = await staff(tenant).tenants.members.invite({ email: ` ${invitee.email.toUpperCase()} `, role: "provider" });
    expect(invited).toEqual({
      id: expect.any(String), email: invitee.email, role: "provider",
      invitedBy: { userId: tenant.owner.id, firstName: "Test", lastName: "User" },
      createdAt: expect.any(String), expiresAt: expect.any(String),
    });
    expect(Date.parse(invited.expiresAt) - Date.parse(invited.createdAt)).toBe(INVITATION_LIFETIME_MS);

    // Not a member: not listed, cannot enter, no tenant of theirs.
    expect((await staff(tenant).tenants.members.list()).map((m) => m.userId)).toEqual([tenant.owner.id]);
    expect((await refusal(callerAs(env, invitee.auth, { tenant: tenant.slug }).profiles.mine())).code).toBe("NOT_FOUND");
    expect(await callerAs(env, invitee.auth).tenants.mine()).toEqual([]);
    // Nothing the tenant can read names the account: not its id, not its name.
    const seenByStaff = JSON.stringify([invited, await staff(tenant).tenants.members.invitations(), await staff(tenant).tenants.members.list(), await staff(tenant).audit.list()]);
    expect(seenByStaff).not.toContain(invitee.id);
    expect(seenByStaff).not.toContain(invitee.firstName);

    // The invitee sees the tenant, the role and who invited them.
    const [pending, ...more] = await mine(invitee).list();
    expect(more).toEqual([]);
    expect(pending).toEqual({
      id: invited.id, tenant: { id: tenant.id, slug: tenant.slug, name: expect.stringMatching(/^Agency /) }, role: "provider",
      invitedBy: { firstName: "Test", lastName: "User" }, createdAt: invited.createdAt, expiresAt: invited.expiresAt,
    });

    const joined = await mine(invitee).accept({ id: invited.id });
    expect(joined).toEqual({ ...pending!.tenant, role: "provider" });
    expect(await callerAs(env, invitee.auth).tenants.mine()).toEqual([joined]);
    expect((await staff(tenant).tenants.members.list()).find((m) => m.userId === invitee.id)).toMatchObject({ firstName: invitee.firstName, role: "provider" });
    expect(await mine(invitee).list()).toEqual([]);
    expect(await staff(tenant).tenants.members.invitations()).toEqual([]);
  });

  it("inviting an email with no account answers like one with an account; the invitation waits for its sign-up and log-in", async () => {
    const tenant = await createTenant(env);
    const existing = await createUser(env);
    const freeEmail = `${unique("later")}@example.test`;
    const toExisting = await staff(tenant).tenants.members.invite({ email: existing.email, role: "client" });
    const toNobody = await staff(tenant).tenants.members.invite({ email: freeEmail, role: "client" });
    const shape = (i: typeof toExisting) => ({ ...i, id: "ID", email: "EMAIL", createdAt: "T", expiresAt: "T" });
    expect(shape(toNobody)).toEqual(shape(toExisting));
    expect(Date.parse(toNobody.expiresAt) - Date.parse(toNobody.createdAt)).toBe(Date.parse(toExisting.expiresAt) - Date.parse(toExisting.createdAt));

    const signedUp = await callerAs(env, null).auth.signUp({ email: freeEmail, password: TEST_PASSWORD, firstName: "Late", lastName: "Comer" });
    const fresh = await validateSessionToken({ db: env.deps.db, token: signedUp.token, now: env.deps.clock(), policy: env.config.session });
    expect((await callerAs(env, fresh!).tenants.invitations.list()).map((i) => i.id)).toEqual([toNobody.id]);
    // On another device, after logging in, the same.
    const loggedIn = await callerAs(env, null).auth.logIn({ email: freeEmail.toUpperCase(), password: TEST_PASSWORD });
    const second = await validateSessionToken({ db: env.deps.db, token: loggedIn.token, now: env.deps.clock(), policy: env.config.session });
    expect(await callerAs(env, second!).tenants.invitations.accept({ id: toNobody.id })).toMatchObject({ id: tenant.id, role: "client" });
    expect(await callerAs(env, second!).tenants.mine()).toEqual([{ id: tenant.id, slug: tenant.slug, name: expect.any(String), role: "client" }]);
  });

  it("declining leaves no membership; declined, withdrawn, replaced and expired invitations cannot be accepted", async () => {
    const tenant = await createTenant(env);
    const invitee = await createUser(env);
    const declined = await staff(tenant).tenants.members.invite({ email: invitee.email, role: "client" });
    expect(await mine(invitee).decline({ id: declined.id })).toEqual({ ok: true });
    expect(await staff(tenant).tenants.members.invitations()).toEqual([]);
    // The staff learn it was declined, and nothing of who: no account, session, address or browser.
    const { items } = await staff(tenant).audit.list({ action: "invitation.decline" });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ actorUserId: null, actorSessionId: null, ip: null, userAgent: null });
    expect(JSON.stringify(items)).not.toContain(invitee.id);
    expect(await mine(invitee).list()).toEqual([]);
    expect(await refusal(mine(invitee).accept({ id: declined.id }))).toEqual({ code: "CONFLICT", message: "This invitation was declined." });

    const withdrawn = await staff(tenant).tenants.members.invite({ email: invitee.email, role: "client" });
    expect(await staff(tenant).tenants.members.revokeInvitation({ id: withdrawn.id })).toEqual({ ok: true });
    expect(await mine(invitee).list()).toEqual([]);
    expect(await refusal(mine(invitee).accept({ id: withdrawn.id }))).toEqual({ code: "CONFLICT", message: "This invitation was withdrawn by the tenant." });
    expect((await refusal(staff(tenant).tenants.members.revokeInvitation({ id: withdrawn.id }))).code).toBe("NOT_FOUND");

    // Inviting the same email again replaces the pending invitation: one listed, with the new role.
    const first = await staff(tenant).tenants.members.invite({ email: invitee.email, role: "client" });
    const again = await staff(tenant).tenants.members.invite({ email: invitee.email, role: "provider" });
    expect((await staff(tenant).tenants.members.invitations()).map((i) => [i.id, i.role])).toEqual([[again.id, "provider"]]);
    expect((await mine(invitee).list()).map((i) => [i.id, i.role])).toEqual([[again.id, "provider"]]);
    expect((await refusal(mine(invitee).accept({ id: first.id }))).code).toBe("CONFLICT");

    // Fourteen days on, it has expired: listed to nobody, accepted by nobody.
    env.clock.advance(INVITATION_LIFETIME_MS + 1000);
    try {
      expect(await mine(invitee).list()).toEqual([]);
      expect(await staff(tenant).tenants.members.invitations()).toEqual([]);
      expect(await refusal(mine(invitee).accept({ id: again.id }))).toEqual({ code: "CONFLICT", message: "This invitation has expired: ask the tenant for a new one." });
    } finally {
      env.clock.advance(-(INVITATION_LIFETIME_MS + 1000));
    }
    expect((await staff(tenant).tenants.members.list()).map((m) => m.userId)).toEqual([tenant.owner.id]);
  });

  it("someone else's invitation answers like one that does not exist, and changes nothing", async () => {
    const tenant = await createTenant(env);
    const invitee = await createUser(env);
    const thief = await createUser(env);
    const invited = await staff(tenant).tenants.members.invite({ email: invitee.email, role: "admin" });
    const stolen = await refusal(mine(thief).accept({ id: invited.id }));
    const unknown = await refusal(mine(thief).accept({ id: crypto.randomUUID() }));
    expect(stolen).toEqual({ code: "NOT_FOUND", message: "You have no invitation with that id." });
    expect(unknown).toEqual(stolen);
    expect(await refusal(mine(thief).decline({ id: invited.id }))).toEqual(stolen);
    expect(await mine(thief).list()).toEqual([]);
    // A staff member of another tenant cannot see or revoke it either.
    const other = await createTenant(env);
    expect(await staff(other).tenants.members.invitations()).toEqual([]);
    expect((await refusal(staff(other).tenants.members.revokeInvitation({ id: invited.id }))).code).toBe("NOT_FOUND");
    expect((await mine(invitee).list()).map((i) => i.id)).toEqual([invited.id]);
  });

  it("only owners invite as owner or withdraw an owner's invitation; a current member cannot be invited", async () => {
    const tenant = await createTenant(env);
    const admin = await addMember(env, tenant, "admin");
    const email = `${unique("own")}@example.test`;
    expect((await refusal(staff(tenant, admin).tenants.members.invite({ email, role: "owner" }))).code).toBe("FORBIDDEN");
    const byOwner = await staff(tenant).tenants.members.invite({ email, role: "owner" });
    expect((await refusal(staff(tenant, admin).tenants.members.revokeInvitation({ id: byOwner.id }))).code).toBe("FORBIDDEN");
    // Nor replace it, which would withdraw it.
    expect((await refusal(staff(tenant, admin).tenants.members.invite({ email, role: "client" }))).code).toBe("FORBIDDEN");
    expect((await staff(tenant).tenants.members.invitations()).map((i) => [i.id, i.role])).toEqual([[byOwner.id, "owner"]]);
    const member = await refusal(staff(tenant, admin).tenants.members.invite({ email: tenant.owner.email, role: "client" }));
    expect(member).toEqual({ code: "CONFLICT", message: "That email belongs to a member of this tenant already." });
  });

  it("two accepts at once make one membership; a failed accept writes nothing and leaves the invitation pending", async () => {
    const tenant = await createTenant(env);
    const invitee = await createUser(env);
    const invited = await staff(tenant).tenants.members.invite({ email: invitee.email, role: "client" });
    const results = await Promise.all([refusal(mine(invitee).accept({ id: invited.id })), refusal(mine(invitee).accept({ id: invited.id }))]);
    expect(results.map((r) => r.code).sort()).toEqual(["CONFLICT", "OK"]);
    const [joined] = await owner`select count(*)::int as n from memberships where tenant_id = ${tenant.id} and user_id = ${invitee.id}`;
    expect(joined!.n).toBe(1);

    // A member by another path (as the seed makes them) with a pending invitation: accepting is refused whole.
    const seeded = await createUser(env);
    const pending = await staff(tenant).tenants.members.invite({ email: seeded.email, role: "provider" });
    await owner`insert into memberships (tenant_id, user_id, role) values (${tenant.id}, ${seeded.id}, 'client')`;
    const audit = async () => (await owner`select count(*)::int as n from audit_log where tenant_id = ${tenant.id}`)[0]!.n as number;
    const before = await audit();
    expect((await refusal(mine(seeded).accept({ id: pending.id }))).code).toBe("CONFLICT");
    expect(await audit()).toBe(before);
    expect((await owner`select status from tenant_invitations where id = ${pending.id}`)[0]!.status).toBe("pending");
    expect((await owner`select role from memberships where tenant_id = ${tenant.id} and user_id = ${seeded.id}`)[0]!.role).toBe("client");
  });

  it("row-level security: staff see their tenant's invitations, an invitee their own and their tenant's name, nobody else anything", async () => {
    const a = await createTenant(env);
    const b = await createTenant(env);
    const invitee = await createUser(env);
    const stranger = await createUser(env);
    const toA = await staff(a).tenants.members.invite({ email: invitee.email, role: "client" });
    await staff(b).tenants.members.invite({ email: `${unique()}@example.test`, role: "client" });
    const as = <T>(scope: { userId?: string; tenantId?: string }, fn: (tx: postgres.TransactionSql) => Promise<T>) =>
      app.begin(async (tx) => {
        await tx`select set_config('app.user_id', ${scope.userId ?? ""}, true), set_config('app.tenant_id', ${scope.tenantId ?? ""}, true)`;
        return fn(tx);
      }) as Promise<T>;
    const invitations = (tx: postgres.TransactionSql) => tx`select id, tenant_id from tenant_invitations where tenant_id in (${a.id}, ${b.id})`.then((r) => r.map((x) => x.id as string));
    const tenantNames = (tx: postgres.TransactionSql) => tx`select id from tenants where id in (${a.id}, ${b.id})`.then((r) => r.map((x) => x.id as string));

    expect(await as({}, invitations)).toEqual([]);
    expect(await as({ userId: stranger.id }, invitations)).toEqual([]);
    expect(await as({ userId: stranger.id }, tenantNames)).toEqual([]);
    expect(await as({ userId: invitee.id }, invitations)).toEqual([toA.id]);
    expect(await as({ userId: invitee.id }, tenantNames)).toEqual([a.id]);
    expect((await as({ tenantId: a.id }, invitations)).sort()).toEqual([toA.id]);
    // The invitee cannot write their own invitation without its tenant bound (the server binds it to answer).
    expect(await as({ userId: invitee.id }, (tx) => tx`update tenant_invitations set role = 'owner' where id = ${toA.id} returning id`)).toHaveLength(0);
    // Staff of B cannot touch A's invitations; nobody may delete one.
    expect(await as({ tenantId: b.id }, (tx) => tx`update tenant_invitations set status = 'revoked' where id = ${toA.id} returning id`)).toHaveLength(0);
    await expect(as({ tenantId: a.id }, (tx) => tx`delete from tenant_invitations where id = ${toA.id}`)).rejects.toThrow(/permission denied/);
    await expect(as({ tenantId: b.id }, (tx) => tx`insert into tenant_invitations (id, tenant_id, email, role, expires_at) values (${crypto.randomUUID()}, ${a.id}, 'x@example.test', 'owner', now() + interval '1 day')`)).rejects.toThrow(/row-level security/);
    // Once answered, the tenant's name is the invitee's no more.
    await mine(invitee).decline({ id: toA.id });
    expect(await as({ userId: invitee.id }, tenantNames)).toEqual([]);
  });
});
