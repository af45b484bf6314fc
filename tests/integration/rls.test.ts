import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createTenant, type TestTenant } from "../helpers/factories";
import { createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";

const TENANT_TABLES = ["tenants", "memberships", "audit_log", "tenant_invitations"];

let env: TestEnv;
let app: postgres.Sql;
let owner: postgres.Sql;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  env = await createTestEnv();
  if (env.config.database.kind !== "postgres") throw new Error("needs postgres");
  // Straight to the database as the server's own role, and as the owner for the catalog.
  app = postgres(env.config.database.appUrl, { max: 2, onnotice: () => {} });
  owner = openOwnerSql();
  a = await createTenant(env);
  b = await createTenant(env);
  await addMember(env, a, "client");
  await addMember(env, b, "provider");
});
afterAll(async () => {
  await app.end();
  await owner.end();
  await env.close();
});

describe("row-level security through the server's role", () => {
  it("the server's role is not a superuser, cannot bypass RLS and owns no table", async () => {
    const [role] = await app`select current_user as name, rolsuper, rolbypassrls from pg_roles where rolname = current_user`;
    expect(role).toEqual({ name: "aiutami_app", rolsuper: false, rolbypassrls: false });
    const owned = await owner`select tablename from pg_tables where schemaname = 'public' and tableowner = 'aiutami_app'`;
    expect(owned).toEqual([]);
  });

  it("every tenant table has row-level security enabled and forced", async () => {
    const rows = await owner`select relname, relrowsecurity, relforcerowsecurity from pg_class where relname in ${owner(TENANT_TABLES)} order by relname`;
    expect(rows).toEqual(TENANT_TABLES.sort().map((relname) => ({ relname, relrowsecurity: true, relforcerowsecurity: true })));
  });

  it("with no tenant bound the server's role sees no tenant rows at all", async () => {
    const [all] = await owner`select count(*)::int as n from memberships`;
    expect(all!.n).toBeGreaterThan(0);
    for (const table of TENANT_TABLES) {
      const rows = await app.unsafe(`select count(*)::int as n from ${table}`);
      expect({ table, n: rows[0]!.n }).toEqual({ table, n: 0 });
    }
  });

  it("with tenant A bound it sees A's rows and none of B's, and cannot write into B", async () => {
    await app.begin(async (tx) => {
      await tx`select set_config('app.tenant_id', ${a.id}, true)`;
      const tenants = await tx`select id from tenants`;
      expect(tenants.map((t) => t.id)).toEqual([a.id]);
      const members = await tx`select distinct tenant_id from memberships`;
      expect(members.map((m) => m.tenant_id)).toEqual([a.id]);
      const audit = await tx`select distinct tenant_id from audit_log`;
      expect(audit.map((r) => r.tenant_id)).toEqual([a.id]);
      const leaked = await tx`select count(*)::int as n from memberships where tenant_id = ${b.id}`;
      expect(leaked[0]!.n).toBe(0);
      // Updates and deletes aimed at B touch nothing.
      const updated = await tx`update tenants set name = 'hijacked' where id = ${b.id} returning id`;
      expect(updated).toHaveLength(0);
    });
    await expect(
      app.begin(async (tx) => {
        await tx`select set_config('app.tenant_id', ${a.id}, true)`;
        await tx`insert into memberships (tenant_id, user_id, role) values (${b.id}, ${a.owner.id}, 'owner')`;
      }),
    ).rejects.toThrow(/row-level security/);
    const [name] = await owner`select name from tenants where id = ${b.id}`;
    expect(name!.name).not.toBe("hijacked");
  });

  it("the setting does not outlive its transaction on a pooled connection", async () => {
    const single = postgres(env.config.database.kind === "postgres" ? env.config.database.appUrl : "", { max: 1, onnotice: () => {} });
    try {
      await single.begin(async (tx) => {
        await tx`select set_config('app.tenant_id', ${a.id}, true)`;
        expect((await tx`select count(*)::int as n from tenants`)[0]!.n).toBe(1);
      });
      expect((await single`select count(*)::int as n from tenants`)[0]!.n).toBe(0);
    } finally {
      await single.end();
    }
  });

  it("the server's role cannot change or delete audit rows", async () => {
    for (const statement of ["update audit_log set action = 'x'", "delete from audit_log"]) {
      await expect(
        app.begin(async (tx) => {
          await tx`select set_config('app.tenant_id', ${a.id}, true)`;
          await tx.unsafe(statement);
        }),
      ).rejects.toThrow(/permission denied/);
    }
  });
});
