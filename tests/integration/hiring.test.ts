import { type TRPCError } from "@trpc/server";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createUser, joinTenant } from "../helpers/factories";
import { createMarketplace, hire, hireInput, type Marketplace } from "../helpers/hiring";
import { createProvider, profileInput } from "../helpers/profiles";
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

const codeOf = (p: Promise<unknown>) => p.then(() => "OK", (e: TRPCError) => e.code);
const as = (env: TestEnv, user: { auth: Parameters<typeof callerAs>[1] }, m: Marketplace) => callerAs(env, user.auth, { tenant: m.tenant.slug });

describe("hires", () => {
  let m: Marketplace;
  beforeAll(async () => {
    m = await createMarketplace(env);
  });

  it("a client hires a published provider; the hire snapshots the client's name and phone, and the provider gets hire.requested", async () => {
    const phoned = await createUser(env, { firstName: "James", phone: "+33 6 5487 5480" });
    await joinTenant(env, m.tenant, phoned, "client");
    const created = await callerAs(env, phoned.auth, { tenant: m.tenant.slug }).hires.create(hireInput(m.provider.id));
    expect(created).toMatchObject({ status: "requested", clientId: phoned.id, providerId: m.provider.id, clientFullName: "James User", clientPhone: "+33 6 5487 5480" });
    const { items } = await callerAs(env, m.provider.auth).notifications.list();
    expect(items[0]).toMatchObject({
      type: "hire.requested",
      tenant: { id: m.tenant.id, slug: m.tenant.slug },
      readAt: null,
      payload: {
        hireId: created.id,
        tenantId: m.tenant.id,
        userId: m.provider.id,
        clientId: phoned.id,
        fullName: "James User",
        phoneNumber: "+33 6 5487 5480",
        location: "Via Roma 1, Milan",
        time: created.startsAt,
        endsAt: null,
        jobDescription: created.jobDescription,
      },
    });
    const [audit] = await owner`select action, actor_user_id from audit_log where entity_id = ${created.id}`;
    expect(audit).toEqual({ action: "hire.create", actor_user_id: phoned.id });
  });

  it("each step notifies the other party", async () => {
    const a = await hire(env, m);
    await as(env, m.provider, m).hires.accept({ id: a.id });
    await as(env, m.provider, m).hires.complete({ id: a.id });
    const b = await hire(env, m);
    await as(env, m.provider, m).hires.decline({ id: b.id });
    const c = await hire(env, m);
    await as(env, m.client, m).hires.cancel({ id: c.id });
    const toClient = (await callerAs(env, m.client.auth).notifications.list({ limit: 100 })).items.map((n) => `${n.type}:${n.payload.hireId}`);
    expect(toClient).toEqual(expect.arrayContaining([`hire.accepted:${a.id}`, `hire.completed:${a.id}`, `hire.declined:${b.id}`]));
    const toProvider = (await callerAs(env, m.provider.auth).notifications.list({ limit: 100 })).items.map((n) => `${n.type}:${n.payload.hireId}`);
    expect(toProvider).toEqual(expect.arrayContaining([`hire.requested:${c.id}`, `hire.cancelled:${c.id}`]));
    expect(toProvider).not.toContain(`hire.accepted:${a.id}`);
    // A step's payload: the new status, who took the step, and the hire's time and job.
    const cancelled = (await callerAs(env, m.provider.auth).notifications.list({ limit: 100 })).items.find((n) => n.type === "hire.cancelled" && n.payload.hireId === c.id);
    expect(cancelled?.payload).toEqual({
      hireId: c.id, tenantId: m.tenant.id, userId: m.provider.id, status: "cancelled", byUserId: m.client.id, byName: "Test User", time: c.startsAt, jobDescription: c.jobDescription,
    });
  });

  it("refuses a step that is not allowed from the current state with CONFLICT naming it", async () => {
    const h = await hire(env, m);
    const early = (await as(env, m.client, m).hires.complete({ id: h.id }).catch((e) => e)) as TRPCError;
    expect(early.code).toBe("CONFLICT");
    expect(early.message).toBe("The hire is requested: it cannot be completed from that state.");
    await as(env, m.provider, m).hires.accept({ id: h.id });
    const twice = (await as(env, m.provider, m).hires.accept({ id: h.id }).catch((e) => e)) as TRPCError;
    expect(twice.code).toBe("CONFLICT");
    expect(twice.message).toMatch(/is accepted/);
    await as(env, m.client, m).hires.complete({ id: h.id });
    expect(await codeOf(as(env, m.client, m).hires.cancel({ id: h.id }))).toBe("CONFLICT");
  });

  it("two racing steps cannot both win", async () => {
    for (let i = 0; i < 5; i++) {
      const h = await hire(env, m);
      // Accept and decline both start from "requested": exactly one may win.
      const results = await Promise.all([
        codeOf(as(env, m.provider, m).hires.accept({ id: h.id })),
        codeOf(as(env, m.provider, m).hires.decline({ id: h.id })),
        codeOf(as(env, m.provider, m).hires.accept({ id: h.id })),
      ]);
      expect(results.filter((r) => r === "OK")).toHaveLength(1);
      expect(results.filter((r) => r === "CONFLICT")).toHaveLength(2);
      const [{ n }] = (await owner`select count(*)::int as n from notifications where payload->>'hireId' = ${h.id}`) as unknown as [{ n: number }];
      expect(n).toBe(2); // the request, and the one step that won
    }
  });

  it("only the right party takes each step; nobody else sees the hire", async () => {
    const h = await hire(env, m);
    expect(await codeOf(as(env, m.client, m).hires.accept({ id: h.id }))).toBe("FORBIDDEN");
    const otherClient = await addMember(env, m.tenant, "client");
    expect(await codeOf(as(env, otherClient, m).hires.cancel({ id: h.id }))).toBe("NOT_FOUND");
    expect(await codeOf(as(env, otherClient, m).hires.get({ id: h.id }))).toBe("NOT_FOUND");
    const { user: otherProvider } = await createProvider(env, m.tenant, profileInput("tutor", "milan"));
    expect(await codeOf(as(env, otherProvider, m).hires.accept({ id: h.id }))).toBe("NOT_FOUND");
    expect(await codeOf(callerAs(env, m.tenant.owner.auth, { tenant: m.tenant.slug }).hires.get({ id: h.id }))).toBe("OK");
    expect(await codeOf(as(env, m.provider, m).hires.get({ id: h.id }))).toBe("OK");
  });

  it("refuses hiring a provider who is not published, not a provider, or in another tenant, and providers hiring", async () => {
    const { user: hidden } = await createProvider(env, m.tenant, profileInput("tutor", "milan", { published: false }));
    const written = async () => (await owner`select (select count(*) from hires where tenant_id = ${m.tenant.id})::int as h, (select count(*) from notifications where tenant_id = ${m.tenant.id})::int as n, (select count(*) from audit_log where tenant_id = ${m.tenant.id} and action = 'hire.create')::int as a`)[0];
    const before = await written();
    expect(await codeOf(as(env, m.client, m).hires.create(hireInput(hidden.id)))).toBe("NOT_FOUND");
    expect(await codeOf(as(env, m.client, m).hires.create(hireInput(m.client.id)))).toBe("NOT_FOUND");
    const elsewhere = await createMarketplace(env);
    expect(await codeOf(as(env, m.client, m).hires.create(hireInput(elsewhere.provider.id)))).toBe("NOT_FOUND");
    expect(await codeOf(as(env, m.provider, m).hires.create(hireInput(m.provider.id)))).toBe("FORBIDDEN");
    const past = (await as(env, m.client, m).hires.create({ ...hireInput(m.provider.id), startsAt: "2020-01-01T10:00:00Z" }).catch((e) => e)) as TRPCError;
    expect(past.code).toBe("BAD_REQUEST");
    expect(past.message).toMatch(/past/);
    const outsider = await createUser(env);
    const notMine = (await callerAs(env, outsider.auth, { tenant: m.tenant.slug }).hires.create(hireInput(m.provider.id)).catch((e) => e)) as TRPCError;
    expect([notMine.code, notMine.message]).toEqual(["NOT_FOUND", `Tenant "${m.tenant.slug}" not found among your tenants.`]);
    expect(await written()).toEqual(before);
  });

  it("lists the caller's hires as client or as provider, filtered and paged", async () => {
    const fresh = await createMarketplace(env);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await hire(env, fresh, i)).id);
    await as(env, fresh.provider, fresh).hires.accept({ id: ids[0]! });
    const asClient = await as(env, fresh.client, fresh).hires.list({ as: "client", limit: 3 });
    expect(asClient.items.map((h) => h.id)).toEqual([...ids].reverse().slice(0, 3));
    const next = await as(env, fresh.client, fresh).hires.list({ as: "client", limit: 3, cursor: asClient.nextCursor! });
    expect(next.items.map((h) => h.id)).toEqual([ids[1], ids[0]]);
    expect((await as(env, fresh.provider, fresh).hires.list({ as: "provider", status: "accepted" })).items.map((h) => h.id)).toEqual([ids[0]]);
    expect((await as(env, fresh.provider, fresh).hires.list({ as: "client" })).items).toEqual([]);
  });

  it("stamps a hire, its steps and their audit rows with the services' clock, which a test moves", async () => {
    const moved = 3 * 86_400_000;
    env.clock.advance(moved);
    try {
      const now = env.clock.now.toISOString();
      // A start that is a day ahead of the machine's time is in the past for the clock.
      const early = (await as(env, m.client, m).hires.create(hireInput(m.provider.id)).catch((e) => e)) as TRPCError;
      expect([early.code, early.message]).toEqual(["BAD_REQUEST", "startsAt is in the past."]);
      const startsAt = new Date(env.clock.now.getTime() + 86_400_000).toISOString();
      const endsAt = new Date(env.clock.now.getTime() + 90_000_000).toISOString();
      const created = await as(env, m.client, m).hires.create({ ...hireInput(m.provider.id), startsAt, endsAt });
      expect(created).toMatchObject({ startsAt, endsAt, createdAt: now, updatedAt: now });
      const { items } = await callerAs(env, m.provider.auth).notifications.list({ limit: 1 });
      expect(items[0]).toMatchObject({ type: "hire.requested", payload: { hireId: created.id, time: startsAt, endsAt } });

      env.clock.advance(60_000);
      const later = env.clock.now.toISOString();
      const accepted = await as(env, m.provider, m).hires.accept({ id: created.id });
      expect(accepted).toMatchObject({ status: "accepted", createdAt: now, updatedAt: later });
      expect(await as(env, m.client, m).hires.get({ id: created.id })).toEqual(accepted);
      const [stored] = await owner`select created_at, updated_at from hires where id = ${created.id}`;
      expect([stored!.created_at, stored!.updated_at].map((t: Date) => t.toISOString())).toEqual([now, later]);
      const audits = await owner`select action, created_at from audit_log where entity_id = ${created.id} order by id`;
      expect(audits.map((a) => [a.action, (a.created_at as Date).toISOString()])).toEqual([["hire.create", now], ["hire.accept", later]]);
    } finally {
      env.clock.advance(-(moved + 60_000));
    }
  });

  it("a failed step writes no notification and no audit row", async () => {
    const h = await hire(env, m);
    await as(env, m.provider, m).hires.decline({ id: h.id });
    const count = async () => (await owner`select (select count(*) from notifications where payload->>'hireId' = ${h.id})::int as n, (select count(*) from audit_log where entity_id = ${h.id})::int as a`)[0];
    const before = await count();
    await codeOf(as(env, m.provider, m).hires.accept({ id: h.id }));
    await codeOf(as(env, m.client, m).hires.complete({ id: h.id }));
    expect(await count()).toEqual(before);
  });
});

describe("notifications (the user's own, across tenants, no x-tenant-id)", () => {
  it("lists newest first with an unread filter and a tenant filter, counts unread, marks read", async () => {
    const one = await createMarketplace(env);
    const two = await createMarketplace(env);
    // The same provider in a second tenant.
    await joinTenant(env, two.tenant, one.provider, "provider");
    await callerAs(env, one.provider.auth, { tenant: two.tenant.slug }).profiles.upsertMine(profileInput("tutor", "rome"));
    const h1 = await hire(env, one, 1);
    const h2 = await hire(env, one, 2);
    const h3 = await callerAs(env, two.client.auth, { tenant: two.tenant.slug }).hires.create(hireInput(one.provider.id, 3));
    const inbox = callerAs(env, one.provider.auth);
    const all = await inbox.notifications.list();
    expect(all.items.map((n) => n.payload.hireId)).toEqual([h3.id, h2.id, h1.id]);
    expect(all.items.map((n) => n.seq)).toEqual([3, 2, 1]);
    expect(all.items[0]!.tenant.id).toBe(two.tenant.id);
    expect((await inbox.notifications.list({ tenant: two.tenant.id })).items.map((n) => n.payload.hireId)).toEqual([h3.id]);
    expect(await inbox.notifications.unreadCount()).toMatchObject({ count: 3 });
    const { updated } = await inbox.notifications.markRead({ ids: [all.items[1]!.id] });
    expect(updated).toEqual([all.items[1]!.id]);
    expect(await inbox.notifications.unreadCount()).toMatchObject({ count: 2 });
    expect((await inbox.notifications.list({ unreadOnly: true })).items.map((n) => n.payload.hireId)).toEqual([h3.id, h1.id]);
    // Someone else's id is ignored, not marked.
    const { items: clientItems } = await callerAs(env, one.client.auth).notifications.list();
    expect(clientItems).toEqual([]);
    expect((await callerAs(env, one.client.auth).notifications.markRead({ ids: [all.items[0]!.id] })).updated).toEqual([]);
    expect(await inbox.notifications.markAllRead()).toEqual({ updated: 2 });
    expect(await inbox.notifications.unreadCount()).toMatchObject({ count: 0 });
    const paged = await inbox.notifications.list({ limit: 2 });
    expect(paged.items.map((n) => n.seq)).toEqual([3, 2]);
    expect((await inbox.notifications.list({ limit: 2, cursor: paged.nextCursor! })).items.map((n) => n.seq)).toEqual([1]);
  });
});
