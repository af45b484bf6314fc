import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createTenant, createUser, unique } from "../helpers/factories";
import { callerAs, createTestEnv, type TestEnv } from "../helpers/test-app";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

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
  it("owners and admins add, list, re-role and remove members", async () => {
    const tenant = await createTenant(env);
    const admin = await addMember(env, tenant, "admin");
    const asAdmin = callerAs(env, admin.auth, { tenant: tenant.slug });
    const provider = await createUser(env);
    const added = await asAdmin.tenants.members.add({ email: provider.email.toUpperCase(), role: "provider" });
    expect(added).toMatchObject({ userId: provider.id, role: "provider" });
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
      expect((await refusal(as.tenants.members.add({ email: `${unique()}@example.test`, role: "client" }))).code).toBe("FORBIDDEN");
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

  it("adding an email with no account, or a member twice, is refused clearly", async () => {
    const tenant = await createTenant(env);
    const asOwner = callerAs(env, tenant.owner.auth, { tenant: tenant.slug });
    const none = await refusal(asOwner.tenants.members.add({ email: `${unique()}@example.test`, role: "client" }));
    expect(none.code).toBe("NOT_FOUND");
    expect(none.message).toMatch(/sign up/);
    const dup = await refusal(asOwner.tenants.members.add({ email: tenant.owner.email, role: "client" }));
    expect(dup.code).toBe("CONFLICT");
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
