import { TRPCError } from "@trpc/server";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type z, ZodError } from "zod";
import { zodIssues } from "../../server/errors";
import { appRouter } from "../../server/router";
import { createTenant, createUser, TEST_PASSWORD, unique, type TestTenant, type TestUser } from "../helpers/factories";
import { callerAs, createTestEnv, type TestEnv } from "../helpers/test-app";

/**
 * A valid input for every procedure that takes one. A procedure added to the router without an
 * entry here fails the first test, so none escapes the bad-input checks.
 */
type Fixture = { tenant: TestTenant; member: TestUser };
const VALID_INPUTS: Record<string, (f: Fixture) => Record<string, unknown>> = {
  "auth.signUp": () => ({ email: `${unique()}@example.test`, password: TEST_PASSWORD, firstName: "Ada", lastName: "Rossi", phone: "+39 06 555 0101" }),
  "auth.logIn": (f) => ({ email: f.member.email, password: TEST_PASSWORD }),
  "auth.sessions.revoke": () => ({ id: "a".repeat(26) }),
  "tenants.create": () => ({ name: "Valid Agency", slug: unique("slug") }),
  "tenants.members.add": () => ({ email: `${unique()}@example.test`, role: "client" }),
  "tenants.members.remove": (f) => ({ userId: f.member.id }),
  "tenants.members.setRole": (f) => ({ userId: f.member.id, role: "provider" }),
  "audit.list": () => ({ cursor: "0190a3a4-1111-7222-8333-444455556666", actorId: "0190a3a4-1111-7222-8333-444455556666", entityType: "tenant", action: "tenant.create", limit: 10 }),
};

type AnyProcedure = { _def: { type: "query" | "mutation" | "subscription"; inputs: z.ZodType[] } };
const procedures = Object.entries((appRouter._def as unknown as { procedures: Record<string, AnyProcedure> }).procedures);

/** Procedures whose input is an object with at least one field. */
const withFields = procedures.filter(([, p]) => {
  const schema = p._def.inputs[0];
  return schema !== undefined && !schema.safeParse(undefined).success;
});

function wrongTypeFor(value: unknown): unknown {
  if (typeof value === "string") return 12345;
  if (typeof value === "number") return "not-a-number";
  if (typeof value === "boolean") return "yes";
  if (Array.isArray(value)) return "not-an-array";
  return 42;
}

let env: TestEnv;
let owner: postgres.Sql;
let fixture: Fixture;

beforeAll(async () => {
  env = await createTestEnv();
  owner = postgres(inject("ownerDatabaseUrl"), { max: 1, onnotice: () => {} });
  const tenant = await createTenant(env);
  const member = await createUser(env);
  await callerAs(env, tenant.owner.auth, { tenant: tenant.slug }).tenants.members.add({ email: member.email, role: "client" });
  fixture = { tenant, member };
});
afterAll(async () => {
  await owner.end();
  await env.close();
});

async function callWith(path: string, input: unknown): Promise<TRPCError | null> {
  const caller = callerAs(env, fixture.tenant.owner.auth, { tenant: fixture.tenant.slug, ip: unique("ip") });
  const fn = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (i: unknown) => Promise<unknown>;
  try {
    await fn(input);
    return null;
  } catch (err) {
    if (err instanceof TRPCError) return err;
    throw err;
  }
}

function expectFieldError(err: TRPCError | null, field: string, what: string) {
  expect(err, what).toBeInstanceOf(TRPCError);
  expect(err!.code, `${what}: ${err!.message}`).toBe("BAD_REQUEST");
  expect(err!.cause, what).toBeInstanceOf(ZodError);
  const paths = zodIssues(err!.cause as ZodError).map((i) => i.path);
  expect(paths.some((p) => p === field || p.startsWith(`${field}.`)), `${what}: issues ${paths.join(", ")}`).toBe(true);
}

async function snapshot() {
  const [row] = await owner`select
    (select count(*) from memberships where tenant_id = ${fixture.tenant.id})::int as members,
    (select count(*) from audit_log where tenant_id = ${fixture.tenant.id})::int as audit`;
  return row!;
}

describe("every procedure rejects bad input with BAD_REQUEST naming the field", () => {
  it("every procedure with input has a valid sample in the table", () => {
    expect(withFields.length).toBeGreaterThan(0);
    const missing = withFields.map(([path]) => path).filter((path) => !(path in VALID_INPUTS));
    expect(missing).toEqual([]);
  });

  it("the valid samples pass validation (so the failures below are about the broken field)", () => {
    for (const [path, p] of withFields) {
      const result = p._def.inputs[0]!.safeParse(VALID_INPUTS[path]!(fixture));
      expect(result.success, `${path}: ${result.success ? "" : result.error.message}`).toBe(true);
    }
  });

  it.each(withFields.map(([path]) => [path]))("%s: missing fields, wrong types, oversized strings", async (path) => {
    const schema = Object.fromEntries(withFields)[path]!._def.inputs[0]!;
    const valid = VALID_INPUTS[path]!(fixture);
    for (const [field, value] of Object.entries(valid)) {
      const without = { ...valid };
      delete without[field];
      if (!schema.safeParse(without).success) {
        expectFieldError(await callWith(path, without), field, `${path} without ${field}`);
      }
      expectFieldError(await callWith(path, { ...valid, [field]: wrongTypeFor(value) }), field, `${path} with ${field} of a wrong type`);
      if (typeof value === "string") {
        expectFieldError(await callWith(path, { ...valid, [field]: "x".repeat(100_000) }), field, `${path} with an oversized ${field}`);
      }
    }
    const notAnObject = await callWith(path, "just a string");
    expect(notAnObject?.code).toBe("BAD_REQUEST");
    // The rows a valid call would have made do not exist (other files write in parallel, so no global counts).
    if (typeof valid.email === "string") {
      expect((await owner`select count(*)::int as n from users where email = ${valid.email}`)[0]!.n - (valid.email === fixture.member.email ? 1 : 0)).toBe(0);
    }
    if (typeof valid.slug === "string") {
      expect((await owner`select count(*)::int as n from tenants where slug = ${valid.slug}`)[0]!.n).toBe(0);
    }
  });

  it("nothing was written by any of the refused calls", async () => {
    const after = await snapshot();
    expect(after.members).toBe(2);
    expect(after.audit).toBe(2); // tenant.create and the fixture's membership.add
  });
});
