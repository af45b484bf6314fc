/**
 * During a rolling upgrade a server of the previous release keeps serving against the migrated database:
 * the hire functions as it calls them (db/functions/hires/previous-release.sql) still answer as they did,
 * by running the current ones. Each call here is the previous release's own SQL (commit 4e6b8df), as its
 * writer and service sent it.
 */
import { sql } from "drizzle-orm";
import type postgres from "postgres";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rowsOf } from "../../db/client";
import { createMarketplace, type Marketplace } from "../helpers/hiring";
import { createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";

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

type Row = Record<string, unknown>;
const run = async (query: ReturnType<typeof sql>) => rowsOf<Row>(await env.deps.db.execute(query));
/** Nothing here is published; marked streamed as publishing would, so no other file's relay takes them. */
const markPublished = (hireIds: string[]) => owner`update notifications set streamed_at = now() where payload->>'hireId' = any(${hireIds})`;

const startsAt = new Date(Date.now() + 86_400_000).toISOString();
/** The previous release's hire arguments by name, as its HireStatement. */
function previousStatement(user: string, n: number) {
  const now = new Date().toISOString();
  const hireId = uuidv7();
  return {
    user, ref: m.tenant.slug, hire_id: hireId, provider: m.provider.id, job: `Previous release ${n}`, location: "Milan", lat: 45.4642, lng: 9.19,
    starts_at: startsAt, ends_at: null, client_name: "Test User", client_phone: null, now,
    notification_id: uuidv7(), payload: { hireId }, audit_id: uuidv7(), audit_changes: { status: "requested" },
    session: "previous-session", ip: "192.0.2.20", user_agent: "previous", request_id: `previous-${n}`,
  };
}
type Statement = ReturnType<typeof previousStatement>;
const createAlone = (s: Statement) => run(sql`
  select outcome, tenant_id, tenant_slug, tenant_name, member_role, seq, notified_at, payload from app_create_hire(
    ${s.user}::uuid, ${s.ref}::text,
    ${s.hire_id}::uuid, ${s.provider}::uuid, ${s.job}::text, ${s.location}::text, ${s.lat}::float8, ${s.lng}::float8,
    ${s.starts_at}::timestamptz, ${s.ends_at}::timestamptz, ${s.client_name}::text, ${s.client_phone}::text, ${s.now}::timestamptz,
    ${s.notification_id}::uuid, ${JSON.stringify(s.payload)}::jsonb,
    ${s.audit_id}::uuid, ${JSON.stringify(s.audit_changes)}::jsonb, ${s.session}::text, ${s.ip}::text, ${s.user_agent}::text, ${s.request_id}::text)`);

describe("the previous release's hire functions", () => {
  it("app_create_hire with its arguments: the hire, its payload and audit row, refusals as that release named them", async () => {
    const s = previousStatement(m.client.id, 1);
    const [created] = await createAlone(s);
    await markPublished([s.hire_id]);
    expect(created).toMatchObject({ outcome: "created", tenant_id: m.tenant.id, tenant_slug: m.tenant.slug });
    expect(created!.payload).toEqual({
      hireId: s.hire_id, tenantId: m.tenant.id, userId: m.provider.id, clientId: m.client.id, fullName: "Test User", phoneNumber: null,
      location: "Milan", time: startsAt, endsAt: null, jobDescription: s.job,
    });
    const [hire] = await owner`select status, client_id, created_at from hires where id = ${s.hire_id}`;
    expect(hire).toEqual({ status: "requested", client_id: m.client.id, created_at: new Date(s.now) });
    const [audit] = await owner`select action, actor_session_id, ip, user_agent, request_id from audit_log where entity_id = ${s.hire_id}`;
    expect(audit).toEqual({ action: "hire.create", actor_session_id: "previous-session", ip: "192.0.2.20", user_agent: "previous", request_id: "previous-1" });

    const [refused] = await createAlone(previousStatement(m.provider.id, 2));
    expect(refused).toMatchObject({ outcome: "not_client", member_role: "provider" });

  });

  it("app_create_hires with its items, in one statement", async () => {
    const items = [previousStatement(m.client.id, 5), previousStatement(m.provider.id, 6), previousStatement(m.client.id, 7)];
    const rows = await run(sql`select * from app_create_hires(${JSON.stringify(items.map((s, i) => ({ ...s, i })))}::jsonb)`);
    await markPublished(items.map((s) => s.hire_id));
    expect(rows.map((r) => [r.idx, r.outcome]).sort()).toEqual([[0, "created"], [1, "not_client"], [2, "created"]]);
  });

  it("app_transition_hire with the step's rule as arguments answers the row as that release read it", async () => {
    const s = previousStatement(m.client.id, 8);
    await createAlone(s);
    const step = (user: string, roles: string | null, now: string) => run(sql`
      select outcome, tenant_id, tenant_slug, tenant_name, member_role, current_status, hire, recipient, seq, notified_at, payload from app_transition_hire(
        ${user}::uuid, ${m.tenant.slug}::text, ${s.hire_id}::uuid, ${roles}::tenant_role[],
        ${"{requested}"}::hire_status[], ${"accepted"}::hire_status, ${false}::boolean, ${true}::boolean,
        ${"Test User"}::text, ${"accept"}::text, ${now}::timestamptz,
        ${uuidv7()}::uuid, ${uuidv7()}::uuid, ${"previous-session"}::text, ${null}::text, ${null}::text, ${null}::text)`);
    const now = new Date().toISOString();
    expect((await step(m.client.id, "{provider}", now))[0]).toMatchObject({ outcome: "wrong_role", member_role: "client" });
    expect((await step(m.client.id, null, now))[0]).toMatchObject({ outcome: "not_party" });
    const [done] = await step(m.provider.id, "{provider}", now);
    await markPublished([s.hire_id]);
    expect(done).toMatchObject({ outcome: "done", recipient: m.client.id, payload: { hireId: s.hire_id, status: "accepted", byUserId: m.provider.id, byName: "Test User", time: startsAt } });
    expect(done!.hire).toMatchObject({ id: s.hire_id, tenant_id: m.tenant.id, client_id: m.client.id, provider_id: m.provider.id, status: "accepted", job_description: s.job });
    expect(new Date((done!.hire as { updated_at: string }).updated_at).toISOString()).toBe(now);
    expect((await step(m.provider.id, "{provider}", now))[0]).toMatchObject({ outcome: "conflict", current_status: "accepted" });
  });
});
