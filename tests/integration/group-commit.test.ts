/**
 * Group commit of hires (server/hires/writer.ts, app_create_hire) on the real PostgreSQL: hires that
 * arrive while the writer's statements are in flight share a statement, each keeps its own checks and
 * outcome, a provider's seqs stay whole and in order, and a failing hire fails alone. The tests that
 * count statements hold the writer's slots busy themselves (tests/helpers/held-hire-writer.ts), so what
 * shares a statement does not depend on how fast the machine runs the calls.
 */
import type postgres from "postgres";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HireWriter } from "../../server/hires/writer";
import { addMember } from "../helpers/factories";
import { heldHireWriter, hireStatement } from "../helpers/held-hire-writer";
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

const statement = (hireId: string, n: number) => hireStatement(m, n, { hireId });

const seqsOf = async (userId: string) => (await owner`select seq from notifications where user_id = ${userId} order by seq`).map((r) => Number(r.seq));

describe("group commit of hires", () => {
  it("forty hires queued while both statement slots are busy go in three batches of at most 16; each gets its hire, and every provider's seqs are whole", async () => {
    const { user: second } = await createProvider(env, m.tenant, profileInput("housekeeper", "milan"));
    const { user: third } = await createProvider(env, m.tenant, profileInput("tutor", "rome"));
    const providers = [m.provider, second, third];
    const held = await heldHireWriter(env, m, { concurrency: 2, maxBatch: 16 });
    try {
      const seqsBefore = await Promise.all(providers.map((p) => seqsOf(p.id)));
      await held.hold();
      const plugged = { ...held.writer.stats };
      const client = callerAs({ ...env, deps: held.deps }, m.client.auth, { tenant: m.tenant.slug });
      const calls = Promise.all(Array.from({ length: 40 }, (_, i) => client.hires.create(hireInput(providers[i % 3]!.id, i))));
      await held.untilReceived(40);
      expect(held.writer.stats).toEqual(plugged); // all forty wait
      await held.release();
      const made = await calls;
      // 16 + 16 + 8. Two batches can run side by side on the two slots, each writing to all three
      // providers' inboxes (in provider order, so they cannot deadlock, or a batch would run again alone).
      expect(held.writer.stats).toEqual({ statements: plugged.statements + 3, hires: plugged.hires + 40 });
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
    } finally {
      await held.close();
    }
  });

  it("a refusal in a batch is that hire's alone", async () => {
    const provider = await addMember(env, m.tenant, "provider"); // no published profile
    const held = await heldHireWriter(env, m, { concurrency: 1, maxBatch: 64 });
    try {
      await held.hold();
      const plugged = { ...held.writer.stats };
      const heldEnv = { ...env, deps: held.deps };
      const client = callerAs(heldEnv, m.client.auth, { tenant: m.tenant.slug });
      const results = Promise.allSettled([
        client.hires.create(hireInput(m.provider.id, 1)),
        client.hires.create(hireInput(provider.id, 2)),
        callerAs(heldEnv, m.provider.auth, { tenant: m.tenant.slug }).hires.create(hireInput(m.provider.id, 3)),
        client.hires.create(hireInput(m.provider.id, 4)),
      ]);
      await held.untilReceived(4);
      await held.release();
      expect((await results).map((r) => (r.status === "fulfilled" ? "OK" : (r.reason as { code: string }).code))).toEqual(["OK", "NOT_FOUND", "FORBIDDEN", "OK"]);
      // The four waited behind the plug, and went in one statement.
      expect(held.writer.stats).toEqual({ statements: plugged.statements + 1, hires: plugged.hires + 4 });
    } finally {
      await held.close();
    }
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
    // Handed over in one turn of the event loop: the first two are queued before any statement goes.
    const results = await Promise.allSettled(ids.map((id, n) => writer.create(statement(id, 100 + n))));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "rejected"]);
    expect(results[2]).toMatchObject({ reason: { code: "SERVICE_UNAVAILABLE", details: { retryAfterSeconds: 1 } } });
    expect(writer.stats).toEqual({ statements: 1, hires: 2 });
  });

  it("when one hire of a batch fails, the batch writes nothing and the others are written alone", async () => {
    const writer = new HireWriter(env.deps.db, env.deps.log);
    const taken = uuidv7();
    expect(await writer.create(statement(taken, 0))).toMatchObject({ outcome: "created" });
    const seqsBefore = await seqsOf(m.provider.id);
    // The second reuses a hire id: its INSERT violates the primary key and aborts the batch's transaction.
    const ids = [uuidv7(), taken, uuidv7()];
    // Handed over in one turn of the event loop, so the three go in one statement.
    const results = await Promise.allSettled(ids.map((id, i) => writer.create(statement(id, i + 1))));
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
