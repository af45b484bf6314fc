import { TRPCError } from "@trpc/server";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createTenant, createUser, unique } from "../helpers/factories";
import { callerAs, createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";

let env: TestEnv;
let owner: postgres.Sql;
beforeAll(async () => {
  env = await createTestEnv();
  owner = openOwnerSql();
});
afterAll(async () => {
  await owner.end();
  await env.close();
});

const auditCount = async (tenantId: string) =>
  (await owner`select count(*)::int as n from audit_log where tenant_id = ${tenantId}`)[0]!.n as number;

describe("audit log", () => {
  it("records who, what, where and when for each change, newest first", async () => {
    const tenant = await createTenant(env);
    const asOwner = callerAs(env, tenant.owner.auth, { tenant: tenant.slug, ip: "127.0.0.1" });
    const user = await createUser(env);
    await asOwner.tenants.members.add({ email: user.email, role: "client" });
    await asOwner.tenants.members.setRole({ userId: user.id, role: "provider" });
    await asOwner.tenants.members.remove({ userId: user.id });

    const { items, nextCursor } = await asOwner.audit.list();
    expect(nextCursor).toBeNull();
    expect(items.map((i) => i.action)).toEqual(["membership.remove", "membership.set_role", "membership.add", "tenant.create"]);
    expect(items[1]).toMatchObject({
      actorUserId: tenant.owner.id,
      actorSessionId: tenant.owner.auth.session.id,
      entityType: "membership",
      entityId: user.id,
      changes: { role: { from: "client", to: "provider" } },
      ip: "127.0.0.1",
      userAgent: "vitest",
      requestId: expect.any(String),
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it("writes nothing for a failed change", async () => {
    const tenant = await createTenant(env);
    const asOwner = callerAs(env, tenant.owner.auth, { tenant: tenant.slug });
    const before = await auditCount(tenant.id);
    await expect(asOwner.tenants.members.add({ email: `${unique()}@example.test`, role: "client" })).rejects.toThrow(TRPCError);
    await expect(asOwner.tenants.members.setRole({ userId: tenant.owner.id, role: "client" })).rejects.toThrow(/last owner/);
    await expect(asOwner.tenants.members.remove({ userId: tenant.owner.id })).rejects.toThrow(/last owner/);
    expect(await auditCount(tenant.id)).toBe(before);
  });

  it("filters by actor, entity type and action, and pages without repeats", async () => {
    const tenant = await createTenant(env);
    const admin = await addMember(env, tenant, "admin");
    const asAdmin = callerAs(env, admin.auth, { tenant: tenant.slug });
    for (let i = 0; i < 5; i++) {
      const user = await createUser(env);
      await asAdmin.tenants.members.add({ email: user.email, role: "client" });
    }
    const byAdmin = await asAdmin.audit.list({ actorId: admin.id, limit: 100 });
    expect(byAdmin.items).toHaveLength(5);
    expect(new Set(byAdmin.items.map((i) => i.actorUserId))).toEqual(new Set([admin.id]));
    expect((await asAdmin.audit.list({ entityType: "tenant" })).items.map((i) => i.action)).toEqual(["tenant.create"]);
    expect((await asAdmin.audit.list({ action: "membership.add", limit: 100 })).items).toHaveLength(6);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await asAdmin.audit.list({ limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it("is readable by owners and admins only, and only for their own tenant", async () => {
    const tenant = await createTenant(env);
    const provider = await addMember(env, tenant, "provider");
    const client = await addMember(env, tenant, "client");
    for (const member of [provider, client]) {
      await expect(callerAs(env, member.auth, { tenant: tenant.slug }).audit.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    const other = await createTenant(env);
    const items = (await callerAs(env, other.owner.auth, { tenant: other.slug }).audit.list({ limit: 100 })).items;
    expect(items.every((i) => i.entityId !== tenant.id)).toBe(true);
    expect(items).toHaveLength(1);
  });
});
