import { TRPCError } from "@trpc/server";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createTenant, createUser, joinTenant } from "../helpers/factories";
import { createMarketplace, hireInput } from "../helpers/hiring";
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
    const invitationId = await joinTenant(env, tenant, user, "client");
    await asOwner.tenants.members.setRole({ userId: user.id, role: "provider" });
    await asOwner.tenants.members.remove({ userId: user.id });

    const { items, nextCursor } = await asOwner.audit.list();
    expect(nextCursor).toBeNull();
    expect(items.map((i) => i.action)).toEqual(["membership.remove", "membership.set_role", "membership.add", "invitation.accept", "invitation.create", "tenant.create"]);
    // The invitee's own steps are theirs, in the tenant's log, with the invitation they answered.
    expect(items[2]).toMatchObject({ actorUserId: user.id, entityType: "membership", entityId: user.id, changes: { role: "client", invitationId, invitedBy: tenant.owner.id } });
    expect(items[3]).toMatchObject({ actorUserId: user.id, entityType: "invitation", entityId: invitationId });
    expect(items[4]).toMatchObject({ actorUserId: tenant.owner.id, entityType: "invitation", entityId: invitationId, changes: { email: user.email, role: "client" } });
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

  it("a hire's rows, written by its database functions, have every other feature's shape", async () => {
    const m = await createMarketplace(env);
    const hire = await callerAs(env, m.client.auth, { tenant: m.tenant.slug, ip: "192.0.2.10" }).hires.create(hireInput(m.provider.id));
    const accepted = await callerAs(env, m.provider.auth, { tenant: m.tenant.slug, ip: "192.0.2.11" }).hires.accept({ id: hire.id });
    const asOwner = callerAs(env, m.tenant.owner.auth, { tenant: m.tenant.slug });
    const row = { id: expect.any(String), entityType: "hire", entityId: hire.id, userAgent: "vitest", requestId: expect.any(String) };
    const { items } = await asOwner.audit.list({ entityType: "hire" });
    expect(items).toEqual([
      { ...row, actorUserId: m.provider.id, actorSessionId: m.provider.auth.session.id, action: "hire.accept", ip: "192.0.2.11", createdAt: accepted.updatedAt, changes: { status: { from: "requested", to: "accepted" } } },
      { ...row, actorUserId: m.client.id, actorSessionId: m.client.auth.session.id, action: "hire.create", ip: "192.0.2.10", createdAt: hire.createdAt, changes: { status: "requested", providerId: m.provider.id } },
    ]);
    // The same fields filled as in a row recordAudit wrote: the provider joining the tenant.
    const [joined] = (await asOwner.audit.list({ actorId: m.provider.id, action: "membership.add" })).items;
    const filled = (entry: Record<string, unknown>) => Object.keys(entry).filter((k) => entry[k] !== null).sort();
    expect(filled(joined!)).toEqual(filled(items[0]!));
    expect(filled(items[1]!)).toEqual(filled(items[0]!));
  });

  it("writes nothing for a failed change", async () => {
    const tenant = await createTenant(env);
    const asOwner = callerAs(env, tenant.owner.auth, { tenant: tenant.slug });
    const before = await auditCount(tenant.id);
    await expect(asOwner.tenants.members.invite({ email: tenant.owner.email, role: "client" })).rejects.toThrow(TRPCError);
    await expect(asOwner.tenants.members.revokeInvitation({ id: crypto.randomUUID() })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(asOwner.tenants.members.setRole({ userId: tenant.owner.id, role: "client" })).rejects.toThrow(/last owner/);
    await expect(asOwner.tenants.members.remove({ userId: tenant.owner.id })).rejects.toThrow(/last owner/);
    expect(await auditCount(tenant.id)).toBe(before);
  });

  it("filters by actor, entity type and action, and pages without repeats", async () => {
    const tenant = await createTenant(env);
    const admin = await addMember(env, tenant, "admin");
    const asAdmin = callerAs(env, admin.auth, { tenant: tenant.slug });
    for (let i = 0; i < 5; i++) {
      await asAdmin.tenants.members.invite({ email: `invitee-${i}-${tenant.slug}@example.test`, role: "client" });
    }
    const byAdmin = await asAdmin.audit.list({ actorId: admin.id, limit: 100 });
    // The admin's five invitations, and their own acceptance of the owner's invitation.
    expect(byAdmin.items.map((i) => i.action).sort()).toEqual([...Array<string>(5).fill("invitation.create"), "invitation.accept", "membership.add"].sort());
    expect(new Set(byAdmin.items.map((i) => i.actorUserId))).toEqual(new Set([admin.id]));
    expect((await asAdmin.audit.list({ entityType: "tenant" })).items.map((i) => i.action)).toEqual(["tenant.create"]);
    expect((await asAdmin.audit.list({ action: "invitation.create", limit: 100 })).items).toHaveLength(6);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await asAdmin.audit.list({ limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
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

  it("shows other members' session ids to owners only: an admin sees their own and no one else's", async () => {
    const tenant = await createTenant(env);
    const admin = await addMember(env, tenant, "admin");
    const colleague = await addMember(env, tenant, "admin");
    await callerAs(env, admin.auth, { tenant: tenant.slug }).tenants.members.invite({ email: `by-admin-${tenant.slug}@example.test`, role: "client" });
    await callerAs(env, colleague.auth, { tenant: tenant.slug }).tenants.members.invite({ email: `by-colleague-${tenant.slug}@example.test`, role: "client" });
    const sessionOf = new Map([tenant.owner, admin, colleague].map((u) => [u.id, u.auth.session.id]));

    const read = async (who: typeof admin) => (await callerAs(env, who.auth, { tenant: tenant.slug }).audit.list({ limit: 100 })).items;
    const asOwner = await read(tenant.owner);
    // Owners see every actor's session, as it was written.
    expect(asOwner).toHaveLength(9);
    for (const item of asOwner) expect(item.actorSessionId, item.action).toBe(sessionOf.get(item.actorUserId!));
    for (const reader of [admin, colleague]) {
      const items = await read(reader);
      expect(items.map((i) => i.id)).toEqual(asOwner.map((i) => i.id));
      for (const item of items) {
        expect(item.actorSessionId, `${item.action} by ${item.actorUserId} read by ${reader.id}`).toBe(item.actorUserId === reader.id ? reader.auth.session.id : null);
      }
      expect(items.filter((i) => i.actorSessionId !== null).length).toBeGreaterThan(0);
      // The rest of each entry is the same as the owner's view.
      expect(items.map(({ actorSessionId: _, ...rest }) => rest)).toEqual(asOwner.map(({ actorSessionId: _, ...rest }) => rest));
    }
  });
});
