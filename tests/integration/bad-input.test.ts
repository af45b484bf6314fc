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
type Fixture = { tenant: TestTenant; member: TestUser; provider: TestUser };
const TUTOR_PROFILE = {
  kind: "tutor", headline: "Maths and physics tutor", about: "Ten years of teaching.", hourlyRateCents: 3000, currency: "EUR",
  availability: [{ day: "mon", start: "09:00", end: "12:00" }], city: "Milan", lat: 45.4642, lng: 9.19, serviceRadiusKm: 10,
  education: [{ institution: "Politecnico di Milano", title: "MSc Physics", from: "2010", to: "2012" }],
  experiences: [{ institution: "Liceo Volta", title: "Teacher", from: "2012-09", to: null }],
  published: true, subjects: ["maths", "physics"], levels: ["high_school"], schoolYears: [9, 10],
};
/** Procedures whose role is not the owner's: input is validated after the role check. */
const CALL_AS: Record<string, keyof Pick<Fixture, "provider" | "member">> = {
  "profiles.upsertMine": "provider",
  "profiles.uploadPhoto": "provider",
  "hires.create": "member",
  "hires.cancel": "member",
  "hires.accept": "provider",
  "hires.decline": "provider",
};
const SOME_ID = "0190a3a4-1111-7222-8333-444455556666";
/** Fields other fields depend on: removing one may be reported on its dependents (a clear, named error too). */
const DEPENDENTS: Record<string, Record<string, string[]>> = {
  "profiles.search": { kind: ["subjects", "levels"], near: ["sort"] },
  "hires.create": { lat: ["lng"], lng: ["lat"], startsAt: ["endsAt"] },
};
/** Multipart procedures, checked separately below (their input is FormData, not fields). */
const MULTIPART = new Set(["profiles.uploadPhoto"]);
const VALID_INPUTS: Record<string, (f: Fixture) => Record<string, unknown>> = {
  "auth.signUp": () => ({ email: `${unique()}@example.test`, password: TEST_PASSWORD, firstName: "Ada", lastName: "Rossi", phone: "+39 06 555 0101" }),
  "auth.logIn": (f) => ({ email: f.member.email, password: TEST_PASSWORD }),
  "auth.sessions.revoke": () => ({ id: "a".repeat(26) }),
  "tenants.create": () => ({ name: "Valid Agency", slug: unique("slug") }),
  "tenants.members.add": () => ({ email: `${unique()}@example.test`, role: "client" }),
  "tenants.members.remove": (f) => ({ userId: f.member.id }),
  "tenants.members.setRole": (f) => ({ userId: f.member.id, role: "provider" }),
  "profiles.upsertMine": () => TUTOR_PROFILE,
  "profiles.get": () => ({ id: "0190a3a4-1111-7222-8333-444455556666" }),
  "profiles.search": () => ({
    kind: "tutor", subjects: ["maths"], levels: ["high_school"], minRateCents: 1000, maxRateCents: 5000, text: "maths",
    near: { lat: 45.46, lng: 9.19, radiusKm: 10 }, sort: "distance", cursor: "opaque", limit: 10,
  }),
  "hires.create": (f) => ({
    providerId: f.provider.id, jobDescription: "Two hours of maths homework help", location: "Via Roma 1, Milan",
    lat: 45.46, lng: 9.19, startsAt: "2030-01-01T09:00:00Z", endsAt: "2030-01-01T11:00:00Z",
  }),
  "hires.accept": () => ({ id: SOME_ID }),
  "hires.decline": () => ({ id: SOME_ID }),
  "hires.cancel": () => ({ id: SOME_ID }),
  "hires.complete": () => ({ id: SOME_ID }),
  "hires.get": () => ({ id: SOME_ID }),
  "hires.list": () => ({ as: "client", status: "requested", cursor: SOME_ID, limit: 10 }),
  "notifications.markRead": () => ({ ids: [SOME_ID] }),
  "audit.list": () => ({ cursor: "0190a3a4-1111-7222-8333-444455556666", actorId: "0190a3a4-1111-7222-8333-444455556666", entityType: "tenant", action: "tenant.create", limit: 10 }),
};

type AnyProcedure = { _def: { type: "query" | "mutation" | "subscription"; inputs: z.ZodType[] } };
const procedures = Object.entries((appRouter._def as unknown as { procedures: Record<string, AnyProcedure> }).procedures);

/** Procedures whose input is an object with at least one field. */
const withFields = procedures.filter(([path, p]) => {
  if (MULTIPART.has(path)) return false;
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
  const provider = await createUser(env);
  const asOwner = callerAs(env, tenant.owner.auth, { tenant: tenant.slug });
  await asOwner.tenants.members.add({ email: member.email, role: "client" });
  await asOwner.tenants.members.add({ email: provider.email, role: "provider" });
  fixture = { tenant, member, provider };
});
afterAll(async () => {
  await owner.end();
  await env.close();
});

async function callWith(path: string, input: unknown): Promise<TRPCError | null> {
  const as = CALL_AS[path] ? fixture[CALL_AS[path]] : fixture.tenant.owner;
  const caller = callerAs(env, as.auth, { tenant: fixture.tenant.slug, ip: unique("ip") });
  const fn = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (i: unknown) => Promise<unknown>;
  try {
    await fn(input);
    return null;
  } catch (err) {
    if (err instanceof TRPCError) return err;
    throw err;
  }
}

function expectFieldError(err: TRPCError | null, field: string | string[], what: string) {
  const fields = Array.isArray(field) ? field : [field];
  expect(err, what).toBeInstanceOf(TRPCError);
  expect(err!.code, `${what}: ${err!.message}`).toBe("BAD_REQUEST");
  expect(err!.cause, what).toBeInstanceOf(ZodError);
  const paths = zodIssues(err!.cause as ZodError).map((i) => i.path);
  expect(paths.some((p) => fields.some((f) => p === f || p.startsWith(`${f}.`))), `${what}: issues ${paths.join(", ")}`).toBe(true);
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
    expect(procedures.filter(([path]) => MULTIPART.has(path))).toHaveLength(MULTIPART.size);
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
        expectFieldError(await callWith(path, without), [field, ...(DEPENDENTS[path]?.[field] ?? [])], `${path} without ${field}`);
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

  it.each([...MULTIPART].map((path) => [path]))("%s: anything but multipart form data with a file is refused", async (path) => {
    for (const input of [{ file: "not a file" }, "a string", null]) {
      const err = await callWith(path, input);
      expect(err?.code).toBe("BAD_REQUEST");
    }
  });

  it("nothing was written by any of the refused calls", async () => {
    const after = await snapshot();
    expect(after.members).toBe(3);
    expect(after.audit).toBe(3); // tenant.create and the fixture's two membership.add
    expect((await owner`select count(*)::int as n from provider_profiles where tenant_id = ${fixture.tenant.id}`)[0]!.n).toBe(0);
  });
});
