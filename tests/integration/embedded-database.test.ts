import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type OpenedDatabase } from "../../db/migrate";
import { auditLog, hires, memberships, notifications, providerProfiles, tenants, users } from "../../db/schema";
import { bindScope } from "../../server/db-scope";
import { createHire, transitionHire } from "../../server/hires/service";
import { HireWriter } from "../../server/hires/writer";
import { createLogger } from "../../server/logger";

/** The embedded default (PGlite) runs the same migrations and the same row-level security. */
describe("embedded database", () => {
  let database: OpenedDatabase;
  beforeAll(async () => {
    database = await openPglite("memory://");
  }, 60_000);
  afterAll(() => database.close());

  it("runs as the app role after migrating, and RLS hides tenant rows until a tenant is bound", async () => {
    const { db } = database;
    const role = await db.execute<{ current_user: string }>(sql`select current_user`);
    expect(JSON.stringify(role)).toContain("aiutami_app");

    const [user] = await db.insert(users).values({ email: "a@b.test", passwordHash: "x", firstName: "A", lastName: "B" }).returning({ id: users.id });
    const ids: string[] = [];
    for (const slug of ["one", "two"]) {
      const id = crypto.randomUUID();
      ids.push(id);
      await db.transaction(async (tx) => {
        await bindScope(tx, { userId: user!.id, tenantId: id });
        await tx.insert(tenants).values({ id, slug, name: slug });
        await tx.insert(memberships).values({ tenantId: id, userId: user!.id, role: "owner" });
      });
    }
    expect(await db.select().from(tenants)).toEqual([]);
    expect(await db.select().from(memberships)).toEqual([]);
    const seen = await db.transaction(async (tx) => {
      await bindScope(tx, { tenantId: ids[0] });
      return tx.select({ slug: tenants.slug }).from(tenants);
    });
    expect(seen).toEqual([{ slug: "one" }]);
  });

  it("takes a hire in one statement (app_create_hire), and a refused one writes nothing", async () => {
    const { db } = database;
    const writer = new HireWriter(db, createLogger("silent"));
    const person = (email: string) => ({ email, passwordHash: "x", firstName: "Ada", lastName: "Rossi", phone: "+39 02 1234" });
    const [client, provider, admin] = await db.insert(users).values([person("client@b.test"), person("carer@b.test"), person("admin@b.test")]).returning({ id: users.id });
    const tenantId = crypto.randomUUID();
    await db.transaction(async (tx) => {
      await bindScope(tx, { userId: client!.id, tenantId });
      await tx.insert(tenants).values({ id: tenantId, slug: "care", name: "Care" });
      await tx.insert(memberships).values([
        { tenantId, userId: client!.id, role: "client" },
        { tenantId, userId: provider!.id, role: "provider" },
        { tenantId, userId: admin!.id, role: "admin" },
      ]);
      await tx.insert(providerProfiles).values({
        tenantId,
        userId: provider!.id,
        kind: "senior_caregiver",
        headline: "Carer",
        hourlyRateCents: 2000,
        currency: "EUR",
        city: "Milan",
        lat: 45.46,
        lng: 9.19,
        serviceRadiusKm: 10,
        published: true,
      });
    });
    const actor = { userId: client!.id, sessionId: "s", ip: null, userAgent: null, requestId: "r" };
    const input = { providerId: provider!.id, jobDescription: "Company in the afternoon", location: "Via Roma 1", startsAt: new Date(Date.now() + 86_400_000).toISOString() };
    const asClient = { id: client!.id, firstName: "Ada", lastName: "Rossi", phone: "+39 02 1234" };
    const { hire, notifications: [sent] } = await createHire({ writer, tenantRef: "care", actor, client: asClient, input, now: new Date() });
    expect(hire).toMatchObject({ tenantId, status: "requested", clientFullName: "Ada Rossi" });
    expect(sent).toMatchObject({ seq: 1, userId: provider!.id, tenant: { id: tenantId, slug: "care" }, payload: { tenantId, hireId: hire.id } });

    const asProvider = { ...asClient, id: provider!.id };
    await expect(createHire({ writer, tenantRef: "care", actor, client: asProvider, input, now: new Date() })).rejects.toThrow(/needs the client role in this tenant; you are provider/);
    await expect(createHire({ writer, tenantRef: "elsewhere", actor, client: asClient, input, now: new Date() })).rejects.toThrow(/Tenant "elsewhere" not found/);
    await expect(createHire({ writer, tenantRef: "care", actor, client: asClient, input: { ...input, providerId: client!.id }, now: new Date() })).rejects.toThrow(/No published provider/);
    const [counts, stored] = await db.transaction(async (tx) => {
      await bindScope(tx, { userId: provider!.id, tenantId });
      return Promise.all([Promise.all([tx.$count(hires), tx.$count(notifications), tx.$count(auditLog)]), tx.select({ createdAt: notifications.createdAt }).from(notifications)]);
    });
    expect(counts).toEqual([1, 1, 1]);
    // What the stream carries is what the inbox lists.
    expect(sent!.createdAt).toBe(stored[0]!.createdAt.toISOString());

    // A step of the hire, in one statement too (app_transition_hire).
    const step = (action: "accept" | "decline" | "complete", by: typeof asClient) =>
      transitionHire({ db, tenantRef: "care", actor, user: by, id: hire.id, action, now: new Date() });
    await expect(step("accept", asClient)).rejects.toThrow(/needs the provider role in this tenant; you are client/);
    // An admin sees the hire, but only its parties complete it.
    await expect(step("complete", { ...asClient, id: admin!.id })).rejects.toThrow(/Only the client or the provider of this hire can complete it/);
    const accepted = await step("accept", asProvider);
    expect(accepted.hire).toMatchObject({ id: hire.id, status: "accepted", startsAt: hire.startsAt, clientFullName: "Ada Rossi" });
    expect(accepted.notifications[0]).toMatchObject({ userId: client!.id, seq: 1, type: "hire.accepted", payload: { hireId: hire.id, status: "accepted", byUserId: provider!.id, time: hire.startsAt } });
    await expect(step("decline", asProvider)).rejects.toThrow(/The hire is accepted: it cannot be declined from that state/);
    const listed = await db.transaction(async (tx) => {
      await bindScope(tx, { userId: client!.id, tenantId });
      return tx.select({ payload: notifications.payload, createdAt: notifications.createdAt }).from(notifications).where(eq(notifications.userId, client!.id));
    });
    expect(listed).toEqual([{ payload: accepted.notifications[0]!.payload, createdAt: new Date(accepted.notifications[0]!.createdAt) }]);

    // Hires that arrive together share one statement (app_create_hire over several); a refusal among them is its own.
    const before = { ...writer.stats };
    const together = await Promise.allSettled([
      createHire({ writer, tenantRef: "care", actor, client: asClient, input, now: new Date() }),
      createHire({ writer, tenantRef: "care", actor, client: asProvider, input, now: new Date() }),
      createHire({ writer, tenantRef: "care", actor, client: asClient, input, now: new Date() }),
    ]);
    expect(writer.stats).toEqual({ statements: before.statements + 1, hires: before.hires + 3 });
    expect(together.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const seqs = together.flatMap((r) => (r.status === "fulfilled" ? [r.value.notifications[0]!.seq] : []));
    expect(seqs).toEqual([2, 3]);
  });
});
