/**
 * Group commit of hires (server/hires/writer.ts, app_create_hire) on the real PostgreSQL: hires that
 * arrive together share a statement, each keeps its own checks and outcome, a provider's seqs stay
 * whole and in order, and a failing hire fails alone.
 */
import type postgres from "postgres";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreateHireStatement } from "../../server/hires/statements";
import { HireWriter } from "../../server/hires/writer";
import { addMember } from "../helpers/factories";
import { createMarketplace, hireInput, type Marketplace } from "../helpers/hiring";
import { createProvider, profileInput } from "../helpers/profiles";
import { callerAs, createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";

let env: TestEnv;
let owner: postgres.Sql;
let m: Marketplace;
beforeAll(async () => {
  env = await createTestEnv();
  owner = openOwnerSql();
  m = await createMarketplace(env);
});
afterAll(async () => {
  await owner.end();
  await env.close();
});

/** A hire as HireWriter takes it, from the marketplace's client to its provider. */
const statement = (hireId: string, n: number): CreateHireStatement => {
  const now = new Date().toISOString();
  return {
    ref: m.tenant.slug,
    roles: ["client"],
    hire: {
      id: hireId, clientId: m.client.id, providerId: m.provider.id, status: "requested", jobDescription: `Group commit fault ${n}`, location: "Milan", lat: null, lng: null,
      startsAt: new Date(Date.now() + 86_400_000).toISOString(), endsAt: null, clientFullName: "Client User", clientPhone: null, createdAt: now, updatedAt: now,
    },
    notificationId: uuidv7(),
    auditId: uuidv7(),
    actor: { actorUserId: m.client.id, actorSessionId: null, ip: null, userAgent: null, requestId: `fault-${n}` },
    idempotency: null,
  };
};

/**
 * Hires written through a writer of the test's own are never published; marks their notifications
 * streamed, as publishing would, so no other file's relay finds them (the files share one database).
 */
const markPublished = (hireIds: string[]) => owner`update notifications set streamed_at = now() where payload->>'hireId' = any(${hireIds})`;

const seqsOf = async (userId: string) => (await owner`select seq from notifications where user_id = ${userId} order by seq`).map((r) => Number(r.seq));

describe("group commit of hires", () => {
  it("forty hires at once to three providers share statements; each gets its hire, and every provider's seqs are whole", async () => {
    const { user: second } = await createProvider(env, m.tenant, profileInput("housekeeper", "milan"));
    const { user: third } = await createProvider(env, m.tenant, profileInput("tutor", "rome"));
    const providers = [m.provider, second, third];
    const before = { ...env.deps.hireWriter.stats };
    const seqsBefore = await Promise.all(providers.map((p) => seqsOf(p.id)));
    const client = callerAs(env, m.client.auth, { tenant: m.tenant.slug });
    const made = await Promise.all(Array.from({ length: 40 }, (_, i) => client.hires.create(hireInput(providers[i % 3]!.id, i))));
    const stats = env.deps.hireWriter.stats;
    expect(stats.hires - before.hires).toBe(40);
    expect(stats.statements - before.statements).toBeLessThan(40); // at least one statement carried several
    expect(new Set(made.map((h) => h.id)).size).toBe(40);
    made.forEach((h, i) => expect(h).toMatchObject({ providerId: providers[i % 3]!.id, jobDescription: hireInput(providers[i % 3]!.id, i).jobDescription }));
    for (const [index, p] of providers.entries()) {
      const seqs = await seqsOf(p.id);
      const added = seqs.length - seqsBefore[index]!.length;
      expect(added).toBe(index === 0 ? 14 : 13);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => k + 1));
    }
    const [audits] = await owner`select count(*)::int as n from audit_log where action = 'hire.create' and entity_id = any(${made.map((h) => h.id)})`;
    expect(audits!.n).toBe(40);
  });

  it("a refusal in a batch is that hire's alone", async () => {
    const provider = await addMember(env, m.tenant, "provider"); // no published profile
    const client = callerAs(env, m.client.auth, { tenant: m.tenant.slug });
    const before = { ...env.deps.hireWriter.stats };
    const results = await Promise.allSettled([
      client.hires.create(hireInput(m.provider.id, 1)),
      client.hires.create(hireInput(provider.id, 2)),
      callerAs(env, m.provider.auth, { tenant: m.tenant.slug }).hires.create(hireInput(m.provider.id, 3)),
      client.hires.create(hireInput(m.provider.id, 4)),
    ]);
    expect(results.map((r) => (r.status === "fulfilled" ? "OK" : (r.reason as { code: string }).code))).toEqual(["OK", "NOT_FOUND", "FORBIDDEN", "OK"]);
    // The four went in one statement (other files' hires use writers of their own).
    expect(env.deps.hireWriter.stats).toEqual({ statements: before.statements + 1, hires: before.hires + 4 });
  });

  it("a string PostgreSQL cannot store is refused before any statement, naming its field", async () => {
    const before = { ...env.deps.hireWriter.stats };
    const client = callerAs(env, m.client.auth, { tenant: m.tenant.slug });
    const refused = await client.hires.create({ ...hireInput(m.provider.id), location: "Via Roma\u0000 1" }).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: "BAD_REQUEST",
      message: "Invalid input: location: must not contain a NUL character or an unpaired surrogate",
      cause: { details: { issues: [{ path: "location", message: "must not contain a NUL character or an unpaired surrogate" }] } },
    });
    const lone = await client.hires.create({ ...hireInput(m.provider.id), jobDescription: "Caf\ud800 au lait, twice a week" }).catch((e: unknown) => e);
    expect(lone).toMatchObject({ code: "BAD_REQUEST", cause: { details: { issues: [{ path: "jobDescription" }] } } });
    // The check runs when the input is read, after the session and role checks, which answer first.
    const anonymous = await callerAs(env, null, { tenant: m.tenant.slug }).hires.create({ ...hireInput(m.provider.id), location: "\u0000" }).catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ code: "UNAUTHORIZED" });
    expect(env.deps.hireWriter.stats).toEqual(before);
  });

  it("past its queue bound the writer refuses at once with SERVICE_UNAVAILABLE, and writes the rest", async () => {
    const writer = new HireWriter(env.deps.db, env.deps.log, { concurrency: 1, maxBatch: 64, maxQueued: 2 });
    const ids = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    const results = await Promise.allSettled(ids.map((id, n) => writer.create(statement(id, 100 + n))));
    await markPublished(ids);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "rejected"]);
    expect(results[2]).toMatchObject({ reason: { code: "SERVICE_UNAVAILABLE", details: { retryAfterSeconds: 1 } } });
    expect(writer.stats).toEqual({ statements: 1, hires: 2 });
  });

  it("when one hire of a batch fails, the batch writes nothing and the others are written alone", async () => {
    const writer = new HireWriter(env.deps.db, env.deps.log);
    const taken = uuidv7();
    expect(await writer.create(statement(taken, 0))).toMatchObject({ outcome: "created" });
    await markPublished([taken]);
    const seqsBefore = await seqsOf(m.provider.id);
    // The second reuses a hire id: its INSERT violates the primary key and aborts the batch's transaction.
    const ids = [uuidv7(), taken, uuidv7()];
    const results = await Promise.allSettled(ids.map((id, i) => writer.create(statement(id, i + 1))));
    await markPublished(ids);
    expect(results[0]).toMatchObject({ status: "fulfilled", value: { outcome: "created" } });
    expect(results[1]).toMatchObject({ status: "rejected", reason: { cause: { code: "23505" } } });
    expect(results[2]).toMatchObject({ status: "fulfilled", value: { outcome: "created" } });
    // One batch of three, then each alone again.
    expect(writer.stats).toEqual({ statements: 1 + 1 + 3, hires: 1 + 3 + 3 });
    const rows = await owner`select job_description from hires where id = any(${ids}) order by job_description`;
    // The taken id keeps its first hire; the batch's second hire left nothing.
    expect(rows.map((r) => r.job_description)).toEqual(["Group commit fault 0", "Group commit fault 1", "Group commit fault 3"]);
    const seqs = await seqsOf(m.provider.id);
    expect(seqs).toEqual(Array.from({ length: seqsBefore.length + 2 }, (_, k) => k + 1));
  });
});
