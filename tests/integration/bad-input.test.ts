import { TRPCError } from "@trpc/server";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { AppError, zodIssues } from "../../server/errors";
import { createTenant, createUser, joinTenant } from "../helpers/factories";
import { CALL_AS, callProcedure, DEPENDENTS, HOSTILE_INPUTS, MULTIPART, procedures, SOME_ID, VALID_INPUTS, type Fixture } from "../helpers/procedure-catalog";
import { callerAs, createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";


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
  owner = openOwnerSql();
  const tenant = await createTenant(env);
  const member = await createUser(env);
  const provider = await createUser(env);
  await joinTenant(env, tenant, member, "client");
  await joinTenant(env, tenant, provider, "provider");
  fixture = { tenant, member, provider };
});
afterAll(async () => {
  await owner.end();
  await env.close();
});

async function callWith(path: string, input: unknown): Promise<TRPCError | null> {
  const as = CALL_AS[path] ? fixture[CALL_AS[path]] : fixture.tenant.owner;
  return callProcedure(callerAs(env, as.auth, { tenant: fixture.tenant.slug, ip: `ip-${Math.random()}` }), path, input);
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

  it.each(HOSTILE_INPUTS.map((row) => [row.path, row.field, row.what, row] as const))("%s: %s, %s", async (path, field, what, row) => {
    const input = { ...(VALID_INPUTS[path]?.(fixture) ?? {}), ...row.input(fixture) };
    const err = await callWith(path, input);
    expect(err, what).toBeInstanceOf(TRPCError);
    expect(err!.code, `${what}: ${err!.message}`).toBe("BAD_REQUEST");
    // Refused by the schema (zod) or by the service before its query (AppError), naming the field either way.
    const cause = err!.cause;
    const paths = cause instanceof ZodError ? zodIssues(cause).map((i) => i.path) : cause instanceof AppError ? (cause.details.issues ?? []).map((i) => i.path) : [];
    expect(paths, `${path} ${what}: ${err!.message}`).toContain(field);
  });

  it("every procedure that pages hands out a cursor it then accepts, and an edited one it refuses", async () => {
    const asOwner = callerAs(env, fixture.tenant.owner.auth, { tenant: fixture.tenant.slug });
    const page = await asOwner.audit.list({ limit: 1 });
    expect(page.nextCursor).toEqual(expect.any(String));
    expect((await asOwner.audit.list({ limit: 1, cursor: page.nextCursor! })).items).toHaveLength(1);
    const [body, signature] = page.nextCursor!.split(".") as [string, string];
    const edited = `${Buffer.from(JSON.stringify({ id: SOME_ID })).toString("base64url")}.${signature}`;
    expect(body).not.toBe(edited.split(".")[0]);
    const err = await callProcedure(asOwner, "audit.list", { limit: 1, cursor: edited });
    expect([err?.code, (err?.cause as AppError).details.issues?.[0]?.path]).toEqual(["BAD_REQUEST", "cursor"]);
    // A cursor from one filter of the list is refused with another.
    const filtered = await callProcedure(asOwner, "audit.list", { limit: 1, cursor: page.nextCursor!, action: "tenant.create" });
    expect(filtered?.code).toBe("BAD_REQUEST");
  });

  it("nothing was written by any of the refused calls", async () => {
    const after = await snapshot();
    expect(after.members).toBe(3);
    expect(after.audit).toBe(7); // tenant.create, and for each of the fixture's two members invitation.create, invitation.accept and membership.add
    expect((await owner`select count(*)::int as n from provider_profiles where tenant_id = ${fixture.tenant.id}`)[0]!.n).toBe(0);
  });
});
