import type postgres from "postgres";
import { createSession } from "../../server/auth/sessions";
import { addMember, createTenant, createUser, joinTenant, TEST_PASSWORD, type TestTenant, type TestUser } from "./factories";
import { createProvider, profileInput } from "./profiles";
import { callerAs, type TestEnv } from "./test-app";

/**
 * The world the procedure fuzz calls into: a tenant with an owner, an admin, a client and two
 * providers (one published), members that may be removed or demoted, people outside it, a second
 * tenant nobody here belongs to, and hires with their notifications. Plus what the fuzz checks
 * behind the server's back, as the owner role: a fingerprint of every table (so a refused call can be
 * shown to have changed nothing) and the invariants a half-written call would break.
 */
export type World = {
  tenant: TestTenant;
  otherTenant: TestTenant;
  owner: TestUser;
  admin: TestUser;
  client: TestUser;
  provider: TestUser;
  /** A provider with an unpublished profile: the one `profiles.upsertMine` and uploads are called as. */
  provider2: TestUser;
  /** Members the fuzz may remove or demote. */
  victims: TestUser[];
  /** Accounts in no tenant of ours. */
  strangers: TestUser[];
  /** The account log-ins are tried against (it may get locked out: nobody else needs it). */
  loginTarget: TestUser;
  /** The account whose sessions log-outs end (a fresh one for each call). */
  sessionUser: TestUser;
  profileIds: string[];
  hireIds: string[];
  notificationIds: string[];
  /** A real `nextCursor` of a search, per sort. */
  searchCursors: string[];
  /** A new session of `user`, for a call that ends it. */
  freshToken(user: TestUser): Promise<string>;
};

export async function createWorld(env: TestEnv, sql: postgres.Sql): Promise<World> {
  const tenant = await createTenant(env);
  const owner = tenant.owner;
  const otherTenant = await createTenant(env);
  const admin = await addMember(env, tenant, "admin");
  const client = await createUser(env, { firstName: "Carla", phone: "+39 02 5550 1234" });
  await joinTenant(env, tenant, client, "client");
  const { user: provider, profile } = await createProvider(env, tenant, profileInput("tutor", "milan"));
  const { user: provider2, profile: profile2 } = await createProvider(env, tenant, profileInput("tutor", "rome", { published: false }));
  // A third published provider so a search with limit 1 has a next page for every sort.
  const { profile: profile3 } = await createProvider(env, tenant, profileInput("tutor", "turin"));
  const victims = await Promise.all([addMember(env, tenant, "client"), addMember(env, tenant, "provider"), addMember(env, tenant, "admin")]);
  const strangers = await Promise.all([createUser(env), createUser(env)]);
  const loginTarget = await createUser(env);
  const sessionUser = await createUser(env);

  const asClient = callerAs(env, client.auth, { tenant: tenant.slug });
  const hireIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    const hire = await asClient.hires.create({
      providerId: provider.id,
      jobDescription: `Fuzz world hire number ${i}`,
      location: "Via Roma 1, Milan",
      startsAt: new Date(Date.now() + (i + 1) * 86_400_000).toISOString(),
    });
    hireIds.push(hire.id);
  }
  await callerAs(env, provider.auth, { tenant: tenant.slug }).hires.accept({ id: hireIds[0]! });

  const asMember = callerAs(env, client.auth, { tenant: tenant.slug });
  const searchCursors: string[] = [];
  for (const search of [{ sort: "newest" as const }, { sort: "rate" as const }, { sort: "distance" as const, near: { lat: 45.46, lng: 9.19, radiusKm: 1000 } }]) {
    const page = await asMember.profiles.search({ kind: "tutor", limit: 1, ...search });
    if (page.nextCursor) searchCursors.push(page.nextCursor);
  }
  const notificationIds = (await sql<{ id: string }[]>`select id from notifications where user_id in ${sql([provider.id, client.id])}`).map((r) => r.id);

  return {
    tenant,
    otherTenant,
    owner,
    admin,
    client,
    provider,
    provider2,
    victims,
    strangers,
    loginTarget,
    sessionUser,
    profileIds: [profile.id, profile2.id, profile3.id],
    hireIds,
    notificationIds,
    searchCursors,
    freshToken: async (user) => (await createSession({ db: env.deps.db, userId: user.id, now: new Date(), policy: env.config.session })).token,
  };
}

export { TEST_PASSWORD };

/** Columns that change behind every call (the relay marking rows streamed, sessions seen): not part of "what a call changed". */
const VOLATILE: Record<string, string[]> = {
  sessions: ["last_seen_at"],
  notifications: ["streamed_at", "stream_attempts", "next_attempt_at"],
};

/**
 * One query that fingerprints every table of the public schema: each row as JSON less its volatile
 * columns, hashed in a stable order. Two equal fingerprints mean no row was added, removed or changed.
 */
export async function fingerprinter(sql: postgres.Sql): Promise<() => Promise<Record<string, string>>> {
  const tables = (await sql<{ table_name: string }[]>`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`).map((r) => r.table_name);
  const parts = tables.map((t) => {
    const drop = (VOLATILE[t] ?? []).map((c) => `'${c}'`).join(",");
    return `select '${t}' as t, md5(coalesce(string_agg(r, '|' order by r), '')) || ':' || count(*) as h from (select (to_jsonb(x)${drop ? ` - array[${drop}]` : ""})::text as r from "${t}" x) s`;
  });
  const query = parts.join(" union all ");
  return async () => Object.fromEntries((await sql.unsafe<{ t: string; h: string }[]>(query)).map((r) => [r.t, r.h]));
}

/** The tables whose fingerprints differ. */
export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((t) => before[t] !== after[t]);
}

/**
 * Invariants a half-written call would break, over the whole database. Each query answers the rows
 * that break it; an empty answer everywhere is a pass.
 */
export async function invariantViolations(sql: postgres.Sql): Promise<string[]> {
  const checks: Array<[string, PromiseLike<readonly unknown[]>]> = [
    [
      "every hire has its hire.create audit row and its hire.requested notification to the provider, and each step after it has both an audit row and a notification, the last step being the hire's status",
      sql`with steps as (
            select h.id, h.status, h.provider_id,
              (select count(*) from audit_log a where a.tenant_id = h.tenant_id and a.entity_type = 'hire' and a.entity_id = h.id::text and a.action = 'hire.create')::int as creates,
              (select count(*) from audit_log a where a.tenant_id = h.tenant_id and a.entity_type = 'hire' and a.entity_id = h.id::text and a.action <> 'hire.create')::int as audited_steps,
              (select count(*) from notifications n where n.tenant_id = h.tenant_id and n.payload->>'hireId' = h.id::text and n.type = 'hire.requested' and n.user_id = h.provider_id)::int as requested,
              (select count(*) from notifications n where n.tenant_id = h.tenant_id and n.payload->>'hireId' = h.id::text and n.type <> 'hire.requested')::int as notified_steps,
              (select n.type from notifications n where n.tenant_id = h.tenant_id and n.payload->>'hireId' = h.id::text order by n.created_at desc, n.id desc limit 1) as last_type
            from hires h)
          select * from steps
          where creates <> 1 or requested <> 1 or audited_steps <> notified_steps
             or audited_steps <> case status when 'requested' then 0 when 'accepted' then 1 when 'declined' then 1 when 'completed' then 2 else audited_steps end
             or (status = 'cancelled' and audited_steps not in (1, 2))
             or last_type <> 'hire.' || status::text`,
    ],
    [
      "every notification's seq is unique per user, and each user's seqs run 1..last_seq of the inbox with no gap",
      sql`select n.user_id, count(*)::int as n, count(distinct n.seq)::int as distinct_seqs, min(n.seq) as min_seq, max(n.seq) as max_seq, i.last_seq
          from notifications n left join user_inbox i on i.user_id = n.user_id
          group by n.user_id, i.last_seq
          having count(*) <> count(distinct n.seq) or min(n.seq) <> 1 or max(n.seq) <> count(*) or i.last_seq is distinct from max(n.seq)`,
    ],
    ["no membership without its tenant and its user", sql`select m.tenant_id, m.user_id from memberships m left join tenants t on t.id = m.tenant_id left join users u on u.id = m.user_id where t.id is null or u.id is null`],
    ["every tenant has an owner", sql`select t.id, t.slug from tenants t where not exists (select 1 from memberships m where m.tenant_id = t.id and m.role = 'owner')`],
    ["every tenant has its tenant.create audit row", sql`select t.id from tenants t where not exists (select 1 from audit_log a where a.tenant_id = t.id and a.action = 'tenant.create' and a.entity_id = t.id::text)`],
    [
      "every profile's tenant exists and its user exists",
      sql`select p.id from provider_profiles p left join tenants t on t.id = p.tenant_id left join users u on u.id = p.user_id where t.id is null or u.id is null`,
    ],
    [
      "every hire's parties exist and its times are in order",
      sql`select h.id from hires h left join users c on c.id = h.client_id left join users p on p.id = h.provider_id where c.id is null or p.id is null or (h.ends_at is not null and h.ends_at <= h.starts_at)`,
    ],
  ];
  const out: string[] = [];
  for (const [what, query] of checks) {
    const rows = await query;
    if (rows.length) out.push(`${what}: ${rows.length} row(s) break it, e.g. ${JSON.stringify(rows.slice(0, 3))}`);
  }
  return out;
}
