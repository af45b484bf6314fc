import fc from "fast-check";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { classicVariants, FAR_DATES, inputArbitrary, toJsonText, withKey, type JsonSchema, type Override } from "../helpers/fuzz-arbitraries";
import { Findings, fuzzParams, send, type FuzzRequest, type FuzzResponse } from "../helpers/fuzz-http";
import { startFuzzServer, type FuzzServer } from "../helpers/fuzz-server";
import { changedTables, createWorld, fingerprinter, invariantViolations, TEST_PASSWORD, type World } from "../helpers/fuzz-world";
import { ACCESS, MULTIPART, procedures, VALID_INPUTS, type Role } from "../helpers/procedure-catalog";
import { createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";
import type { TestUser } from "../helpers/factories";

/**
 * Every procedure's input, generated from its own zod schema (through `z.toJSONSchema`): valid,
 * near-valid (one field broken: a bound crossed, a wrong type, a hostile value, a key removed or a
 * prototype key added) and hostile, called over HTTP by signed-in members of a tenant, alone or in a
 * batch, as JSON or as a jsonl stream. For every call: no 500 and the process still answers; for a
 * mutation refused in full, no table changed. At the end, the database's invariants hold.
 */

let env: TestEnv;
let sql: postgres.Sql;
let server: FuzzServer;
let world: World;
let fingerprint: () => Promise<Record<string, string>>;
const partialWrites: string[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  sql = openOwnerSql();
  server = await startFuzzServer();
  world = await createWorld(env, sql);
  fingerprint = await fingerprinter(sql);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await sql?.end();
  await env?.close();
});

type Kind = "query" | "mutation";
type Procedure = { path: string; type: Kind; schema: JsonSchema | null; accepts: (value: unknown) => boolean };

/** The router's procedures with their input schemas as JSON Schema (what the client sends: zod's input side). */
const catalog: Procedure[] = procedures
  .filter(([path]) => !MULTIPART.has(path))
  .map(([path, p]) => {
    const input = p._def.inputs[0];
    return {
      path,
      type: p._def.type as Kind,
      schema: input ? (z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as JsonSchema) : null,
      accepts: (value: unknown) => input?.safeParse(value).success ?? true,
    };
  });

/** Calls that end the caller's session are made with a fresh session of an account kept for it. */
const ENDS_SESSION = new Set(["auth.logOut", "auth.logOutEverywhere", "auth.sessions.revoke"]);

function pick<T>(xs: T[]): fc.Arbitrary<T> {
  return fc.constantFrom(...xs);
}
function pool(get: () => string[]): fc.Arbitrary<string> {
  // Read when generated: ids made by earlier calls (new hires) join the pool.
  return fc.nat().map((i) => {
    const xs = get();
    return xs[i % xs.length]!;
  });
}

const nearFuture = fc.integer({ min: 60_000, max: 180 * 86_400_000 }).map((ms) => new Date(Date.now() + ms).toISOString());

/** Base64url of a cursor's JSON, with keys a forger would try. */
const forgedCursor = fc
  .record({
    s: fc.constantFrom<unknown>("distance", "rate", "newest", "x", null),
    k: fc.constantFrom<unknown>(1e10, 1.5, -1, 0, 2 ** 31, 1e308, 1e-320, null, "1", "NaN", []),
    id: fc.constantFrom<unknown>("-".repeat(36), "00000000-0000-0000-0000-000000000000", "0190a3a4-1111-7222-8333-444455556666", "0190a3a4-1111-7222-8333-44445555666g", "'".repeat(36), 1),
  })
  .map((key) => Buffer.from(JSON.stringify(key)).toString("base64url"));

/** Field-specific valid values: the world's ids, emails and cursors, so calls reach past "not found". */
function overrideFor(proc: string): Override {
  return (path, schema) => {
    const key = [...path].reverse().find((p): p is string => typeof p === "string");
    const isUuid = schema.format === "uuid";
    if (isUuid) {
      const known = (): string[] => {
        if (key === "providerId") return [world.provider.id, world.provider2.id, world.owner.id, world.client.id];
        if (key === "userId") return [...world.victims.map((v) => v.id), ...world.strangers.map((s) => s.id), world.owner.id];
        if (key === "actorId") return [world.owner.id, world.client.id, world.provider.id];
        if (key === "tenant") return [world.tenant.id, world.otherTenant.id];
        if (key === "ids") return world.notificationIds;
        if (proc.startsWith("profiles.")) return world.profileIds;
        return world.hireIds;
      };
      return fc.oneof({ arbitrary: pool(known), weight: 4 }, { arbitrary: fc.uuid(), weight: 1 });
    }
    if (key === "email") {
      const emails = proc === "auth.logIn" ? [world.loginTarget.email] : [...world.strangers, ...world.victims].map((u) => u.email);
      return fc.oneof({ arbitrary: pick(emails), weight: 2 }, { arbitrary: fc.emailAddress().filter((e) => e.length <= 254), weight: 2 }, { arbitrary: pick(emails).map((e) => ` ${e.toUpperCase()} `), weight: 1 });
    }
    if (key === "password" && proc === "auth.logIn") return fc.oneof(fc.constant(TEST_PASSWORD), fc.string({ minLength: 1, maxLength: 128 }));
    if (key === "startsAt") return fc.oneof({ arbitrary: nearFuture, weight: 4 }, { arbitrary: pick(FAR_DATES), weight: 1 });
    if (key === "endsAt") return fc.oneof({ arbitrary: nearFuture.map((d) => new Date(Date.parse(d) + 3_600_000).toISOString()), weight: 3 }, { arbitrary: pick(FAR_DATES), weight: 1 });
    if (key === "cursor" && schema.type === "string" && !isUuid) return fc.oneof(pool(() => world.searchCursors), forgedCursor, fc.base64String({ maxLength: 60 }));
    if (key === "id" && proc === "auth.sessions.revoke") return fc.stringMatching(/^[a-z2-7]{26}$/);
    return undefined;
  };
}

/** Who may call a procedure, by the catalog's access table (the owner for one it does not list yet). */
function callerFor(proc: Procedure): TestUser[] {
  const byRole: Record<Role, TestUser> = { owner: world.owner, admin: world.admin, client: world.client, provider: world.provider };
  const access = ACCESS[proc.path] ?? { tenant: ["owner"] };
  if (proc.path === "profiles.upsertMine") return [world.provider2];
  if (access === "public") return [world.client];
  if (access === "user") return [world.owner, world.client, world.provider];
  return access.tenant.map((r) => byRole[r]);
}

/** Who may call each procedure, and now and then someone who may not. */
function callerArbitrary(proc: Procedure): fc.Arbitrary<{ user: TestUser | null; tenantRef: string | null }> {
  const allowed = callerFor(proc);
  const anyone = [world.owner, world.admin, world.client, world.provider2, world.strangers[0]!];
  const tenantRef = fc.oneof(
    { arbitrary: fc.constant(world.tenant.slug), weight: 8 },
    { arbitrary: fc.constant(world.tenant.id), weight: 2 },
    { arbitrary: fc.constantFrom(world.otherTenant.slug, "0190a3a4-1111-7222-8333-444455556666", "no-such-tenant"), weight: 1 },
    { arbitrary: fc.constant(null), weight: 1 },
  );
  return fc.record({
    user: fc.oneof({ arbitrary: pick(allowed), weight: 8 }, { arbitrary: pick(anyone), weight: 1 }, { arbitrary: fc.constant(null), weight: 1 }),
    tenantRef,
  });
}

type Case = { input: unknown; caller: { user: TestUser | null; tenantRef: string | null }; copies: number; stream: boolean; wrongMethod: boolean };

function caseArbitrary(proc: Procedure): fc.Arbitrary<Case> {
  const input = proc.schema ? fc.oneof({ arbitrary: inputArbitrary(proc.schema, overrideFor(proc.path), proc.accepts), weight: 12 }, { arbitrary: fc.constant(undefined), weight: 1 }) : fc.constant(undefined);
  return fc.record({
    input,
    caller: callerArbitrary(proc),
    copies: fc.oneof({ arbitrary: fc.constant(1), weight: 6 }, { arbitrary: fc.constantFrom(2, 3), weight: 1 }),
    stream: fc.oneof({ arbitrary: fc.constant(false), weight: 6 }, { arbitrary: fc.constant(true), weight: 1 }),
    wrongMethod: fc.oneof({ arbitrary: fc.constant(false), weight: 20 }, { arbitrary: fc.constant(true), weight: 1 }),
  });
}

/** Cursors a forger would send, one per sort and broken key: checked on every run, not left to chance. */
const FORGED_CURSORS = ["distance", "rate", "newest"].flatMap((s) =>
  [{ s, k: 1e10, id: "0190a3a4-1111-7222-8333-444455556666" }, { s, k: 1.5, id: "0190a3a4-1111-7222-8333-444455556666" }, { s, k: s === "newest" ? null : 1, id: "-".repeat(36) }].map((key) =>
    Buffer.from(JSON.stringify(key)).toString("base64url"),
  ),
);

/**
 * The classic hostile values on every field of the catalog's valid input (the cursor-free part of it,
 * so a field's own failure is not hidden behind a refused cursor), called as the first allowed caller.
 */
function classicCases(proc: Procedure): Array<[Case]> {
  // The catalog's "member" is whom its samples remove or demote: a victim, not the client the hires need.
  const sample = VALID_INPUTS[proc.path]?.({ tenant: world.tenant, member: world.victims[0]!, provider: world.provider });
  if (!sample) return [];
  const base = withKey(sample, "cursor", undefined);
  const caller = { user: callerFor(proc)[0]!, tenantRef: world.tenant.slug };
  return classicVariants(base)
    .concat(proc.path === "profiles.search" ? FORGED_CURSORS.flatMap((cursor) => [withKey(base, "cursor", cursor), withKey(withKey(base, "cursor", cursor), "sort", "rate"), withKey(withKey(withKey(base, "cursor", cursor), "sort", "newest"), "near", undefined)]) : [])
    .map((input) => [{ input, caller, copies: 1, stream: false, wrongMethod: false }]);
}

/** The HTTP request for a case: GET for queries and POST for mutations (or the other, now and then), one call or a batch of copies. */
function toRequest(proc: Procedure, c: Case, token: string | null): FuzzRequest {
  const batch = c.copies > 1;
  const path = batch ? Array.from({ length: c.copies }, () => proc.path).join(",") : proc.path;
  const inputText = c.input === undefined ? undefined : batch ? `{${Array.from({ length: c.copies }, (_, i) => `"${i}":${toJsonText(c.input)}`).join(",")}}` : toJsonText(c.input);
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (c.caller.tenantRef) headers["x-tenant-id"] = c.caller.tenantRef;
  if (c.stream) headers["trpc-accept"] = "application/jsonl";
  const method = (proc.type === "query") !== c.wrongMethod ? "GET" : "POST";
  const query = [batch ? "batch=1" : null, method === "GET" && inputText !== undefined ? `input=${encodeURIComponent(inputText)}` : null].filter(Boolean).join("&");
  const req: FuzzRequest = { method, path: `/trpc/${path}${query ? `?${query}` : ""}`, headers };
  if (method === "POST" && inputText !== undefined) {
    headers["content-type"] = "application/json";
    req.body = inputText;
  }
  return req;
}

/** Per call of a plain JSON answer: its data, or its error's HTTP status. Null for a stream (judged for 500s only). */
function outcomes(res: FuzzResponse, stream: boolean): Array<{ ok: true; data: unknown } | { ok: false; status: number }> | null {
  if (stream) return null;
  let json: unknown;
  try {
    json = JSON.parse(res.text);
  } catch {
    return [{ ok: false, status: res.status }];
  }
  const items = Array.isArray(json) ? json : [json];
  return items.map((item: { result?: { data: unknown }; error?: { data?: { httpStatus?: number } } }) =>
    item.result ? { ok: true as const, data: item.result.data } : { ok: false as const, status: item.error?.data?.httpStatus ?? res.status },
  );
}

describe("fuzz: every procedure's input, from its own schema", () => {
  const findings = () => new Findings(server);
  const { seed, numRuns } = fuzzParams(25);
  const all: Findings[] = [];

  it("prints the seed", () => {
    console.log(`procedure fuzz: seed ${seed}, ${numRuns} cases per procedure (replay with FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns})`);
    expect(catalog.length).toBeGreaterThan(20);
  });

  it.each(catalog.map((p) => [p.path, p] as const))("%s", async (_path, proc) => {
    const found = findings();
    all.push(found);
    const run = async (c: Case) => {
      const token = c.caller.user === null ? null : ENDS_SESSION.has(proc.path) ? await world.freshToken(world.sessionUser) : c.caller.user.token;
      const req = toRequest(proc, c, token);
      const before = proc.type === "mutation" ? await fingerprint() : null;
      const logFrom = server.errors.length;
      const res = await send(server.baseUrl, req).catch((err: Error) => err);
      found.judge(proc.path, req, res, logFrom);
      await server.assertAlive();
      if (res instanceof Error || "clientRefused" in res) return;
      const results = outcomes(res, c.stream);
      if (!results) return;
      if (proc.path === "hires.create") for (const r of results) if (r.ok) world.hireIds.push((r.data as { id: string }).id);
      if (before && results.every((r) => !r.ok)) {
        const changed = changedTables(before, await fingerprint());
        if (changed.length) partialWrites.push(`${proc.path}: refused (${results.map((r) => (r.ok ? "ok" : r.status)).join(",")}) yet changed ${changed.join(", ")}; request ${JSON.stringify(req).slice(0, 600)}`);
      }
    };
    // The classic hostile values on every field, every run; then the generated cases (fast-check
    // counts `examples` within numRuns, so they are run here rather than passed to it).
    for (const [c] of classicCases(proc)) await run(c);
    await fc.assert(fc.asyncProperty(caseArbitrary(proc), run), { seed, numRuns, endOnFailure: true });
    await found.collectDatabaseRefusals(world.owner);
    expect(found.list.length, `${found.list.length} failing call(s) of ${found.requests}:\n${found.report()}`).toBe(0);
  });

  it("a refused mutation changed no table", () => {
    expect(partialWrites, partialWrites.join("\n")).toEqual([]);
  });

  it("the database's invariants hold after all of it (every hire with its audit row and notification, seqs without gaps, tenants with owners)", async () => {
    expect(await invariantViolations(sql)).toEqual([]);
    // The fuzz did reach past validation: hires were written and some were moved on.
    expect((await sql`select count(*)::int as n from hires where tenant_id = ${world.tenant.id}`)[0]!.n).toBeGreaterThan(4);
    expect(server.errors.filter((e) => e.level >= 60), "fatal lines in the server log").toEqual([]);
  });
});
