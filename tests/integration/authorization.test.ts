import type postgres from "postgres";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createTenant, createUser, type TestUser } from "../helpers/factories";
import { createProvider, profileInput } from "../helpers/profiles";
import { ACCESS, callProcedure, procedures, sampleInput, type Fixture, type Role } from "../helpers/procedure-catalog";
import { callerAs, createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";

/**
 * The authorization matrix, built from the router: every procedure is called with no session, from
 * a tenant the caller is not in, and with each role it does not allow. Each must be refused, and
 * nothing may change. A procedure missing from ACCESS fails the first test.
 */
let env: TestEnv;
let owner: postgres.Sql;
let fixture: Fixture;
let members: Record<Role, TestUser>;
let outsiderTenant: string;

beforeAll(async () => {
  env = await createTestEnv();
  owner = openOwnerSql();
  const tenant = await createTenant(env);
  const { user: provider } = await createProvider(env, tenant, profileInput("tutor", "milan"));
  const client = await addMember(env, tenant, "client");
  const admin = await addMember(env, tenant, "admin");
  fixture = { tenant, member: client, provider };
  members = { owner: tenant.owner, admin, provider, client };
  outsiderTenant = (await createTenant(env)).slug;
});
afterAll(async () => {
  await owner.end();
  await env.close();
});

/** Everything a refused call could have changed, in the fixture's tenant and for its people. */
async function snapshot() {
  const userIds = Object.values(members).map((m) => m.id);
  const [row] = await owner`select
    (select count(*) from audit_log where tenant_id = ${fixture.tenant.id})::int as audit,
    (select count(*) from memberships where tenant_id = ${fixture.tenant.id})::int as members,
    (select count(*) from tenant_invitations where tenant_id = ${fixture.tenant.id})::int as invitations,
    (select count(*) from tenant_invitations where tenant_id = ${fixture.tenant.id} and status = 'pending')::int as "pendingInvitations",
    (select count(*) from hires where tenant_id = ${fixture.tenant.id})::int as hires,
    (select count(*) from provider_profiles where tenant_id = ${fixture.tenant.id})::int as profiles,
    (select count(*) from notifications where user_id = any(${userIds}::uuid[]))::int as notifications,
    (select count(*) from notifications where user_id = any(${userIds}::uuid[]) and read_at is not null)::int as read,
    (select count(*) from sessions where user_id = any(${userIds}::uuid[]))::int as sessions,
    (select count(*) from tenants)::int as tenants`;
  return row!;
}

describe("authorization matrix", () => {
  it("every procedure has an access rule", () => {
    expect(procedures.map(([path]) => path).filter((path) => !(path in ACCESS))).toEqual([]);
  });

  it.each(procedures.map(([path]) => [path]))("%s: refused without a session, from another tenant and to the wrong roles; nothing changes", async (path) => {
    const rule = ACCESS[path]!;
    const input = sampleInput(path, fixture);
    const before = await snapshot();

    if (rule !== "public") {
      const anonymous = await callProcedure(callerAs(env, null, { tenant: fixture.tenant.slug }), path, input);
      expect(anonymous?.code, `${path} without a session`).toBe("UNAUTHORIZED");
    }
    if (typeof rule === "object") {
      // A member of another tenant naming this one, and a member naming a tenant they are not in.
      const stranger = await createUser(env);
      const fromOutside = await callProcedure(callerAs(env, stranger.auth, { tenant: fixture.tenant.slug }), path, input);
      expect(fromOutside?.code, `${path} from outside the tenant`).toBe("NOT_FOUND");
      const wrongTenant = await callProcedure(callerAs(env, members.owner.auth, { tenant: outsiderTenant }), path, input);
      expect(wrongTenant?.code, `${path} naming a tenant the caller is not in`).toBe("NOT_FOUND");
      for (const role of (["owner", "admin", "provider", "client"] as Role[]).filter((r) => !rule.tenant.includes(r))) {
        const refused = await callProcedure(callerAs(env, members[role].auth, { tenant: fixture.tenant.slug }), path, input);
        expect(refused?.code, `${path} as ${role}`).toBe("FORBIDDEN");
      }
    }
    expect(await snapshot(), `${path}: a refused call changed something`).toEqual(before);

    // The roles it allows get past the guards (queries only: mutations here would change the fixture).
    const kind = procedures.find(([p]) => p === path)![1]._def.type;
    if (typeof rule === "object" && kind === "query") {
      for (const role of rule.tenant) {
        const err = await callProcedure(callerAs(env, members[role].auth, { tenant: fixture.tenant.slug }), path, input);
        expect(["UNAUTHORIZED", "FORBIDDEN"], `${path} as ${role} should pass the guards`).not.toContain(err?.code);
        if (err?.code === "NOT_FOUND") expect(err.message).not.toMatch(/among your tenants/);
      }
    }
  });
});

describe("no output leaks secrets or other people's private fields", () => {
  it("no procedure (every query for every role, every mutation) answers with a password hash, a session secret or hash; profile views carry no email or phone", async () => {
    const outputs: Array<[string, string]> = [];
    const record = (path: string) => (output: unknown) => void outputs.push([path, JSON.stringify(output ?? null)]);
    // Data to look at: a hire with its notification, and a second session.
    const asClient = callerAs(env, fixture.member.auth, { tenant: fixture.tenant.slug });
    const hire = await asClient.hires.create({ providerId: fixture.provider.id, jobDescription: "Maths homework for an hour", location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() });
    const profile = await callerAs(env, fixture.provider.auth, { tenant: fixture.tenant.slug }).profiles.mine();
    for (const [path, procedure] of procedures) {
      if (procedure._def.type !== "query") continue;
      const rule = ACCESS[path]!;
      const roles: Role[] = typeof rule === "object" ? rule.tenant : ["owner", "admin", "provider", "client"];
      for (const role of roles) {
        const input = path === "hires.get" ? { id: hire.id } : path === "profiles.get" ? { id: profile!.id } : path === "hires.list" ? { as: role === "provider" ? "provider" : "client" } : path === "profiles.search" ? { kind: "tutor", near: { lat: 45.46, lng: 9.19, radiusKm: 50 } } : sampleInput(path, fixture);
        await callProcedure(callerAs(env, members[role].auth, { tenant: fixture.tenant.slug }), path, input, record(`${path} as ${role}`));
      }
    }
    // Every mutation, by a role it allows, with inputs that succeed (the fixture is not needed afterwards).
    const as = (role: Role) => callerAs(env, members[role].auth, { tenant: fixture.tenant.slug });
    const newcomer = await createUser(env);
    const decliner = await createUser(env);
    // Invitations to answer and withdraw: sent here, so the mutations below find them.
    const invite = (email: string) => as("owner").tenants.members.invite({ email, role: "client" });
    const toNewcomer = await invite(newcomer.email);
    const toDecliner = await invite(decliner.email);
    const toWithdraw = await invite(`${newcomer.id}@example.test`);
    const second = await callerAs(env, null).auth.logIn({ email: members.admin.email, password: "a-long-test-passphrase" });
    const picture = new FormData();
    picture.set("file", new Blob([await sharp({ create: { width: 64, height: 64, channels: 3, background: "#888" } }).png().toBuffer()], { type: "image/png" }), "p.png");
    const h2 = await asClient.hires.create({ providerId: fixture.provider.id, jobDescription: "Another hour of maths homework", location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() });
    const notification = (await callerAs(env, fixture.provider.auth).notifications.list()).items[0]!;
    const mutations: Array<[string, Role | TestUser | null, unknown]> = [
      ["auth.signUp", null, sampleInput("auth.signUp", fixture)],
      ["auth.logIn", null, { email: fixture.member.email, password: "a-long-test-passphrase" }],
      ["tenants.create", "client", { name: "Leak check agency" }],
      ["tenants.members.invite", "admin", { email: `${decliner.id}@example.test`, role: "client" }],
      ["tenants.members.revokeInvitation", "owner", { id: toWithdraw.id }],
      ["tenants.invitations.decline", decliner, { id: toDecliner.id }],
      ["tenants.invitations.accept", newcomer, { id: toNewcomer.id }],
      ["tenants.members.setRole", "owner", { userId: newcomer.id, role: "provider" }],
      ["tenants.members.remove", "owner", { userId: newcomer.id }],
      ["profiles.upsertMine", "provider", sampleInput("profiles.upsertMine", fixture)],
      ["profiles.uploadPhoto", "provider", picture],
      ["hires.accept", "provider", { id: hire.id }],
      ["hires.complete", "client", { id: hire.id }],
      ["hires.decline", "provider", { id: h2.id }],
      ["hires.cancel", "client", { id: (await asClient.hires.create({ providerId: fixture.provider.id, jobDescription: "A third job to cancel now", location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() })).id }],
      ["hires.create", "client", { providerId: fixture.provider.id, jobDescription: "A fourth job for the record", location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() }],
      ["notifications.markRead", "provider", { ids: [notification.id] }],
      ["notifications.markAllRead", "provider", undefined],
      ["auth.sessions.revoke", "admin", { id: second.token.split(".")[0] }],
      ["auth.logOut", "client", undefined],
      ["auth.logOutEverywhere", "admin", undefined],
    ];
    for (const [path, who, input] of mutations) {
      const caller = who === null ? callerAs(env, null) : typeof who === "string" ? as(who) : callerAs(env, who.auth);
      const label = who === null ? "" : typeof who === "string" ? ` as ${who}` : " as the invitee";
      const err = await callProcedure(caller, path, input, record(`${path}${label}`));
      expect(err, `${path} should succeed for the leak check`).toBeNull();
    }
    const covered = new Set(outputs.map(([label]) => label.split(" ")[0]));
    expect(procedures.map(([path]) => path).filter((path) => !covered.has(path))).toEqual([]);

    const [{ hashes }] = (await owner`select coalesce(array_agg(encode(secret_hash, 'hex')), '{}') as hashes from sessions where user_id = any(${Object.values(members).map((m) => m.id)}::uuid[])`) as unknown as [{ hashes: string[] }];
    const secrets = Object.values(members).map((m) => m.token.split(".")[1]!);
    for (const [path, text] of outputs) {
      expect(text, `${path} carries a password hash`).not.toMatch(/\$argon2/);
      expect(text, `${path} names a secret field`).not.toMatch(/passwordHash|password_hash|secretHash|secret_hash/);
      for (const secret of secrets) expect(text.includes(secret), `${path} carries a session secret`).toBe(false);
      for (const hash of hashes) expect(text.includes(hash), `${path} carries a session hash`).toBe(false);
      if (path.startsWith("profiles.")) {
        for (const m of Object.values(members)) expect(text.includes(m.email), `${path} carries an email`).toBe(false);
        expect(text, `${path} carries a phone field`).not.toMatch(/"phone/);
      }
    }
  });
});
