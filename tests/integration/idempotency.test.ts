/**
 * Idempotent creates (server/idempotency, migration 0014): an `Idempotency-Key` makes hires.create and
 * tenants.create run once per key, user and procedure for 24 h, with Stripe's semantics, and the SDK
 * retries them through network failures with one key.
 */
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAiutamiClient, IDEMPOTENT_MUTATIONS, memoryStorage, type AiutamiError } from "../../client-sdk/src/index";
import { createContextInner, type AppDeps } from "../../server/context";
import { HireWriter } from "../../server/hires/writer";
import { idempotent } from "../../server/trpc";
import { appRouter } from "../../server/router";
import { CuttingProxy } from "../helpers/cutting-proxy";
import { addMember, createTenant, createUser, unique, type TestUser } from "../helpers/factories";
import { heldHireWriter } from "../helpers/held-hire-writer";
import { createMarketplace, hireInput, type Marketplace } from "../helpers/hiring";
import { createCaller, openOwnerSql, startTestApp, type TestApp, type TestEnv } from "../helpers/test-app";

let app: TestApp;
let env: TestEnv;
let owner: postgres.Sql;
let m: Marketplace;
beforeAll(async () => {
  app = await startTestApp();
  env = app.env;
  owner = openOwnerSql();
  m = await createMarketplace(env);
});
afterAll(async () => {
  await owner.end();
  await app.close();
});

/** A caller as `user` whose calls carry `key` as their Idempotency-Key header; `replayed` counts replayed answers. */
function keyed(user: TestUser, key: string | null, opts: { tenant?: string; deps?: AppDeps } = {}) {
  const seen = { replayed: 0 };
  const caller = createCaller(
    createContextInner({
      deps: opts.deps ?? env.deps,
      auth: user.auth,
      request: { tenantRef: opts.tenant ?? m.tenant.slug, idempotencyKey: key, ip: `198.51.100.${Math.floor(Math.random() * 254) + 1}`, userAgent: "vitest" },
      response: { setCookie: () => {}, setHeader: (name, value) => void (name === "idempotent-replayed" && value === "true" && seen.replayed++) },
    }),
  );
  return { api: caller, seen };
}

const job = (tag: string) => `Idempotency test ${tag}, an afternoon walk`;
const STARTS_AT = new Date(Date.now() + 3 * 86_400_000).toISOString();
/** A hire's input with its own job description, so its rows can be counted; the same tag, the same input. */
const input = (tag: string, providerId = m.provider.id) => ({ ...hireInput(providerId), jobDescription: job(tag), startsAt: STARTS_AT });

const count = async (query: Promise<Array<{ n: number }>>) => (await query)[0]!.n;
const hiresWith = (tag: string) => count(owner`select count(*)::int as n from hires where job_description = ${job(tag)}`);
const notificationsOf = (hireId: string) => count(owner`select count(*)::int as n from notifications where payload->>'hireId' = ${hireId}`);
const keyRows = (userId: string, key: string) => count(owner`select count(*)::int as n from idempotency_keys where user_id = ${userId} and key = ${key}`);
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a refusal"); }, (e: unknown) => e as { code: string; message: string; cause?: { details?: { issues?: unknown } } });

describe("hires.create with an Idempotency-Key", () => {
  it("a repeat answers the first hire without running again: one hire, one notification, one audit row", async () => {
    const key = unique("k");
    const tag = unique();
    const first = await keyed(m.client, key).api.hires.create(input(tag));
    const again = keyed(m.client, key);
    const second = await again.api.hires.create(input(tag));
    expect(second).toEqual(first);
    expect(again.seen.replayed).toBe(1);
    expect(await hiresWith(tag)).toBe(1);
    expect(await notificationsOf(first.id)).toBe(1);
    expect(await count(owner`select count(*)::int as n from audit_log where entity_id = ${first.id}`)).toBe(1);
    expect(await keyRows(m.client.id, key)).toBe(1);
  });

  it("the same key with another input, or in another tenant, is UNPROCESSABLE_CONTENT naming the key, and writes nothing", async () => {
    const key = unique("k");
    const tag = unique();
    const first = await keyed(m.client, key).api.hires.create(input(tag));
    const other = unique();
    const refused = await failure(keyed(m.client, key).api.hires.create(input(other)));
    expect(refused.code).toBe("UNPROCESSABLE_CONTENT");
    expect(refused.message).toBe(`Idempotency-Key "${key}" was used with a different request (another input or tenant) in the last 24 hours: use a new key for a new request.`);
    expect(refused.cause?.details?.issues).toEqual([{ path: "Idempotency-Key", message: "was used with a different request" }]);
    expect(await hiresWith(other)).toBe(0);

    // The same input in a second tenant of the same client.
    const second = await createMarketplace(env);
    await owner`insert into memberships (tenant_id, user_id, role) values (${second.tenant.id}, ${m.client.id}, 'client')`;
    const elsewhere = await failure(keyed(m.client, key, { tenant: second.tenant.slug }).api.hires.create(input(tag, second.provider.id)));
    expect(elsewhere.code).toBe("UNPROCESSABLE_CONTENT");
    expect(await hiresWith(tag)).toBe(1);
    expect(await notificationsOf(first.id)).toBe(1);
    expect(await count(owner`select count(*)::int as n from notifications where user_id = ${second.provider.id}`)).toBe(0);
  });

  it("twenty at once with one key create one hire, and still share statements", async () => {
    const key = unique("k");
    const tag = unique();
    // The twenty wait behind a busy statement, so they reach the writer together whatever the machine's load.
    const held = await heldHireWriter(env, m, { concurrency: 1, maxBatch: 64 });
    try {
      await held.hold();
      const plugged = { ...held.writer.stats };
      const calls = Promise.all(Array.from({ length: 20 }, () => keyed(m.client, key, { deps: held.deps }).api.hires.create(input(tag))));
      await held.untilReceived(20);
      await held.release();
      const answers = await calls;
      expect(new Set(answers.map((h) => h.id)).size).toBe(1);
      answers.forEach((h) => expect(h).toEqual(answers[0]));
      expect(await hiresWith(tag)).toBe(1);
      expect(await notificationsOf(answers[0]!.id)).toBe(1);
      expect(held.writer.stats).toEqual({ statements: plugged.statements + 1, hires: plugged.hires + 20 }); // group commit still batches them
    } finally {
      await held.close();
    }
  });

  it("two statements in two transactions with one key: the second waits for the first's commit and answers its hire", async () => {
    const key = unique("k");
    const tag = unique();
    // Two writers: their statements run at the same time on two connections.
    const writers = [env.deps.hireWriter, new HireWriter(env.deps.db, env.deps.log)];
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => keyed(m.client, key, { deps: { ...env.deps, hireWriter: writers[i % 2]! } }).api.hires.create(input(tag))));
    expect(new Set(answers.map((h) => h.id)).size).toBe(1);
    expect(await hiresWith(tag)).toBe(1);
    expect(writers[1]!.stats.hires).toBe(5);
    expect(await notificationsOf(answers[0]!.id)).toBe(1);
  });

  it("keys are per user: another client with the same key and input gets a hire of their own", async () => {
    const other = await addMember(env, m.tenant, "client");
    const key = unique("k");
    const tag = unique();
    const mine = await keyed(m.client, key).api.hires.create(input(tag));
    const theirs = keyed(other, key);
    const theirHire = await theirs.api.hires.create(input(tag));
    expect(theirHire.id).not.toBe(mine.id);
    expect(theirHire.clientId).toBe(other.id);
    expect(theirs.seen.replayed).toBe(0);
    expect(await hiresWith(tag)).toBe(2);
  });

  it("keys are per procedure: one key on tenants.create and hires.create runs both", async () => {
    const key = unique("k");
    const tag = unique();
    const tenant = await keyed(m.client, key).api.tenants.create({ name: `Agency ${tag}` });
    const hire = await keyed(m.client, key).api.hires.create(input(tag));
    expect(tenant.name).toBe(`Agency ${tag}`);
    expect(hire.jobDescription).toBe(job(tag));
    expect(await hiresWith(tag)).toBe(1);
  });

  it("a refusal keeps no key: once its cause is fixed, the same key creates the hire", async () => {
    const admin = await addMember(env, m.tenant, "admin");
    const key = unique("k");
    const tag = unique();
    expect((await failure(keyed(admin, key).api.hires.create(input(tag)))).code).toBe("FORBIDDEN");
    expect(await keyRows(admin.id, key)).toBe(0);
    await owner`update memberships set role = 'client' where tenant_id = ${m.tenant.id} and user_id = ${admin.id}`;
    const hire = await keyed(admin, key).api.hires.create(input(tag));
    expect(hire.clientId).toBe(admin.id);
    expect(await hiresWith(tag)).toBe(1);
    expect(await keyRows(admin.id, key)).toBe(1);
  });

  it("bad input with a key is a BAD_REQUEST that keeps no key; the key then serves the valid request", async () => {
    const key = unique("k");
    const tag = unique();
    const bad = await failure(keyed(m.client, key).api.hires.create({ ...input(tag), jobDescription: "short" }));
    expect(bad.code).toBe("BAD_REQUEST");
    expect(await keyRows(m.client.id, key)).toBe(0);
    await keyed(m.client, key).api.hires.create(input(tag));
    expect(await hiresWith(tag)).toBe(1);
  });

  it("a malformed key is a BAD_REQUEST naming Idempotency-Key, before anything is written; a quoted key is the key", async () => {
    const tag = unique();
    for (const key of ["", " ", "a b", "k1, k2", "ключ", "a".repeat(256), '"', 'x"y']) {
      const refused = await failure(keyed(m.client, key).api.hires.create(input(tag)));
      expect(refused.code).toBe("BAD_REQUEST");
      expect(refused.message).toBe("Idempotency-Key header must be 1-255 characters of letters, digits and - _ . : ~ + / =.");
      expect(refused.cause?.details?.issues).toEqual([{ path: "Idempotency-Key", message: "must be 1-255 characters of letters, digits and - _ . : ~ + / =" }]);
    }
    expect(await hiresWith(tag)).toBe(0);
    const longest = `${unique("k")}${"a".repeat(255)}`.slice(0, 255);
    const first = await keyed(m.client, longest).api.hires.create(input(tag));
    const quoted = keyed(m.client, `"${longest}"`);
    expect(await quoted.api.hires.create(input(tag))).toEqual(first);
    expect(quoted.seen.replayed).toBe(1);
    expect(await hiresWith(tag)).toBe(1);
  });

  it("a key answers its first hire for 24 hours; after that it is a new request", async () => {
    const key = unique("k");
    const tag = unique();
    const first = await keyed(m.client, key).api.hires.create(input(tag));
    const fresh = await addMember(env, m.tenant, "client");
    const stale = unique("k");
    await keyed(fresh, stale).api.hires.create(input(unique()));
    const moved = 24 * 3600_000 - 60_000;
    env.clock.advance(moved);
    try {
      expect(await keyed(m.client, key).api.hires.create(input(tag))).toEqual(first);
      env.clock.advance(2 * 60_000); // 24 h and one minute after the first
      const later = await keyed(m.client, key).api.hires.create(input(tag));
      expect(later.id).not.toBe(first.id);
      expect(await hiresWith(tag)).toBe(2);
      // The expired row was taken over: the key now answers the second hire.
      expect(await keyRows(m.client.id, key)).toBe(1);
      expect(await keyed(m.client, key).api.hires.create(input(tag))).toEqual(later);
      // A new claim clears the user's expired keys.
      expect(await keyRows(fresh.id, stale)).toBe(1);
      await keyed(fresh, unique("k")).api.hires.create(input(unique()));
      expect(await keyRows(fresh.id, stale)).toBe(0);
    } finally {
      env.clock.advance(-(moved + 2 * 60_000));
    }
  });
});

describe("tenants.create with an Idempotency-Key", () => {
  it("a repeat answers the first tenant; twenty at once make one; another input is UNPROCESSABLE_CONTENT", async () => {
    const user = await createUser(env);
    const key = unique("k");
    const name = `Agency ${unique()}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => keyed(user, key).api.tenants.create({ name })));
    expect(new Set(answers.map((t) => t.id)).size).toBe(1);
    expect(await keyed(user, key).api.tenants.create({ name })).toEqual(answers[0]);
    expect(await count(owner`select count(*)::int as n from tenants where name = ${name}`)).toBe(1);
    expect(await count(owner`select count(*)::int as n from memberships where user_id = ${user.id}`)).toBe(1);
    const refused = await failure(keyed(user, key).api.tenants.create({ name: `${name} bis` }));
    expect(refused.code).toBe("UNPROCESSABLE_CONTENT");
    expect(await count(owner`select count(*)::int as n from tenants where name = ${`${name} bis`}`)).toBe(0);
  });

  it("a refused create (a taken slug) keeps no key", async () => {
    const user = await createUser(env);
    const key = unique("k");
    const refused = await failure(keyed(user, key).api.tenants.create({ name: "Taken slug", slug: m.tenant.slug }));
    expect(refused.code).toBe("CONFLICT");
    expect(await keyRows(user.id, key)).toBe(0);
  });
});

describe("tenants.invitations.accept with an Idempotency-Key", () => {
  it("a retried accept answers the membership it made; without a key the retry is a CONFLICT", async () => {
    const tenant = await createTenant(env);
    const invite = async (user: TestUser) => (await keyed(tenant.owner, null, { tenant: tenant.slug }).api.tenants.members.invite({ email: user.email, role: "client" })).id;
    const keyedUser = await createUser(env);
    const id = await invite(keyedUser);
    const key = unique("k");
    const first = await keyed(keyedUser, key).api.tenants.invitations.accept({ id });
    const retry = keyed(keyedUser, key);
    expect(await retry.api.tenants.invitations.accept({ id })).toEqual(first);
    expect(retry.seen.replayed).toBe(1);
    expect(first).toMatchObject({ id: tenant.id, role: "client" });
    expect(await count(owner`select count(*)::int as n from memberships where user_id = ${keyedUser.id} and tenant_id = ${tenant.id}`)).toBe(1);
    expect(await count(owner`select count(*)::int as n from audit_log where entity_id = ${id} and action = 'invitation.accept'`)).toBe(1);

    const plainUser = await createUser(env);
    const other = await invite(plainUser);
    await keyed(plainUser, null).api.tenants.invitations.accept({ id: other });
    expect((await failure(keyed(plainUser, null).api.tenants.invitations.accept({ id: other }))).code).toBe("CONFLICT");
  });
});

describe("over HTTP", () => {
  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${app.server.baseUrl}/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  it("the header is read; a replay says Idempotent-Replayed: true; a mismatch is 422 and a malformed key 400", async () => {
    const auth = { authorization: `Bearer ${m.client.token}`, "x-tenant-id": m.tenant.slug };
    const key = unique("k");
    const tag = unique();
    const first = await post("hires.create", input(tag), { ...auth, "Idempotency-Key": key });
    expect(first.status).toBe(200);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const second = await post("hires.create", input(tag), { ...auth, "idempotency-key": key });
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await second.json()).toEqual(await first.json());
    const mismatch = await post("hires.create", input(unique()), { ...auth, "idempotency-key": key });
    expect(mismatch.status).toBe(422);
    expect(((await mismatch.json()) as { error: { data: { code: string } } }).error.data.code).toBe("UNPROCESSABLE_CONTENT");
    const malformed = await post("hires.create", input(tag), { ...auth, "idempotency-key": "no spaces allowed" });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { message: string } }).error.message).toMatch(/^Idempotency-Key header must be/);
    expect(await hiresWith(tag)).toBe(1);
  });
});

describe("the SDK", () => {
  let proxy: CuttingProxy;
  beforeAll(async () => {
    const { port } = new URL(app.server.baseUrl);
    proxy = await new CuttingProxy({ host: "127.0.0.1", port: Number(port) }, { record: true }).start();
  });
  afterAll(() => proxy.stop());

  const sdk = (retry?: false) =>
    createAiutamiClient({ baseUrl: proxy.httpUrl, token: m.client.token, tenant: m.tenant.slug, storage: memoryStorage(), retry: retry ?? { minDelayMs: 20, maxDelayMs: 100 } });
  /** The Idempotency-Key headers of the hires.create requests the proxy saw since `from`. */
  const keysSent = (from: number) =>
    proxy.requests.slice(from).filter((r) => r.startsWith("POST /trpc/hires.create")).map((r) => /\r\nidempotency-key: ([^\r]+)\r\n/i.exec(r)?.[1]);

  it("retries a create whose answer was lost, with the same key: one hire", async () => {
    const tag = unique();
    const from = proxy.requests.length;
    const cut = proxy.cutReply({ afterRequest: "POST /trpc/hires.create" });
    const hire = await sdk().api.hires.create.mutate(input(tag));
    await cut;
    const keys = keysSent(from);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(await hiresWith(tag)).toBe(1);
    expect(await count(owner`select count(*)::int as n from hires where id = ${hire.id}`)).toBe(1);
    expect(await notificationsOf(hire.id)).toBe(1);
  });

  it("without retries the lost answer is a NETWORK_ERROR, and the hire was committed all the same (the case retries close)", async () => {
    const tag = unique();
    const cut = proxy.cutReply({ afterRequest: "POST /trpc/hires.create" });
    const refused = (await sdk(false).api.hires.create.mutate(input(tag)).then(() => null, (e: unknown) => e)) as AiutamiError | null;
    await cut;
    expect(refused).not.toBeNull();
    expect(await hiresWith(tag)).toBe(1);
  });

  it("gives each create its own key; retries a query through a lost answer; never retries a mutation without a key", async () => {
    const client = sdk();
    const from = proxy.requests.length;
    const [a, b] = await Promise.all([client.api.hires.create.mutate(input(unique())), client.api.hires.create.mutate(input(unique()))]);
    expect(a.id).not.toBe(b.id);
    const keys = keysSent(from);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);

    const cutQuery = proxy.cutReply({ afterRequest: "/trpc/auth.me" });
    expect((await client.auth.me()).user.id).toBe(m.client.id);
    await cutQuery;

    const provider = createAiutamiClient({ baseUrl: proxy.httpUrl, token: m.provider.token, tenant: m.tenant.slug, storage: memoryStorage(), retry: { minDelayMs: 20 } });
    const accepts = () => proxy.requests.filter((r) => r.startsWith("POST /trpc/hires.accept")).length;
    const before = accepts();
    const cutAccept = proxy.cutReply({ afterRequest: "POST /trpc/hires.accept" });
    const lost = await provider.api.hires.accept.mutate({ id: a.id }).then(() => null, (e: unknown) => e);
    await cutAccept;
    expect(lost).not.toBeNull();
    expect(accepts() - before).toBe(1);
  });

  it("knows every procedure the server makes idempotent", () => {
    const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { middlewares: unknown[] } }>;
    const serverSide = Object.entries(procedures).filter(([, p]) => p._def.middlewares.includes(idempotent._middlewares[0])).map(([path]) => path);
    expect(serverSide.sort()).toEqual(IDEMPOTENT_MUTATIONS.filter((path) => path in procedures).sort());
    expect(serverSide).toEqual(expect.arrayContaining(["hires.create", "tenants.create"]));
  });
});
