import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, expectTypeOf, inject, it } from "vitest";
import { AiutamiError, createAiutamiClient, memoryStorage, type AiutamiClient, type Notification } from "../../client-sdk/src/index";
import { eventually } from "../helpers/sockets";
import { startServer, type BenchServer } from "../helpers/spawn-server";
import { TcpProxy } from "../helpers/tcp-proxy";
import { fileDatabaseUrl } from "../helpers/file-database";

let server: BenchServer;
let dataDir: string;
const clients: AiutamiClient[] = [];
const PASSWORD = "an-sdk-test-passphrase";
let n = 0;

function newClient(opts: Partial<Parameters<typeof createAiutamiClient>[0]> = {}) {
  const client = createAiutamiClient({ baseUrl: server.baseUrl, storage: memoryStorage(), socket: { reconnectionDelayMs: 100, reconnectionDelayMaxMs: 500 }, ...opts });
  clients.push(client);
  return client;
}

async function signedUp(role?: "client" | "provider", tenantSlug?: string, owner?: AiutamiClient) {
  const client = newClient();
  const email = `sdk-${Date.now().toString(36)}-${++n}@example.test`;
  const result = await client.auth.signUp({ email, password: PASSWORD, firstName: "Sdk", lastName: `User${n}`, phone: "+39 02 5550 1234" });
  if (role && tenantSlug && owner) {
    const invitation = await owner.api.tenants.members.invite.mutate({ email, role });
    await client.api.tenants.invitations.accept.mutate({ id: invitation.id });
  }
  return { client, email, user: result.user };
}

/** An agency with an owner, a client and a published provider, all through the SDK. */
async function marketplace() {
  const owner = await signedUp();
  const tenant = await owner.client.api.tenants.create.mutate({ name: `SDK agency ${Date.now()}-${++n}` });
  owner.client.useTenant(tenant.slug);
  const client = await signedUp("client", tenant.slug, owner.client);
  const provider = await signedUp("provider", tenant.slug, owner.client);
  client.client.useTenant(tenant.slug);
  provider.client.useTenant(tenant.slug);
  await provider.client.api.profiles.upsertMine.mutate({
    kind: "senior_caregiver", headline: "Companion for seniors", hourlyRateCents: 2000, city: "Milan", lat: 45.46, lng: 9.19, serviceRadiusKm: 10, services: ["companionship"], published: true,
  });
  const hire = (i: number) =>
    client.client.api.hires.create.mutate({ providerId: provider.user.id, jobDescription: `An afternoon of company (${i})`, location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() });
  return { owner, tenant, client, provider, hire };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "aiutami-sdk-"));
  server = await startServer({
    DATABASE_URL: fileDatabaseUrl(),
    REDIS_URL: inject("redisUrl"),
    DATA_DIR: dataDir,
    NODE_ENV: "test",
    LOGIN_MAX_FAILURES_PER_EMAIL: "3",
    // Every call here comes from 127.0.0.1, and counters live 15 minutes in the shared Redis: the
    // per-address limit would carry over between runs. The per-email limit is what these tests exercise.
    LOGIN_MAX_FAILURES_PER_ADDRESS: "100000",
  });
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("@aiutami/client against a live server", () => {
  it("logs in, keeps the token, switches tenants, and makes typed calls", async () => {
    const { email } = await signedUp();
    const client = newClient();
    const result = await client.auth.logIn({ email, password: PASSWORD });
    expect(client.token).toBe(result.token);
    expect(result.tenants).toEqual([]);
    const a = await client.api.tenants.create.mutate({ name: `Tenant A ${Date.now()}` });
    const b = await client.api.tenants.create.mutate({ name: `Tenant B ${Date.now()}` });
    client.useTenant(a.slug);
    expect((await client.api.audit.list.query()).items.map((i) => i.entityId)).toEqual([a.id]);
    client.useTenant(b.id);
    expect((await client.api.audit.list.query()).items.map((i) => i.entityId)).toEqual([b.id]);
    const me = await client.auth.me();
    expectTypeOf(me.tenants[0]!.role).toEqualTypeOf<"owner" | "admin" | "provider" | "client">();
    expect(me.tenants.map((t) => t.slug).sort()).toEqual([a.slug, b.slug].sort());
  });

  it("a hire arrives live as a typed notification, and the unread count follows", async () => {
    const m = await marketplace();
    const inbox = m.provider.client.notifications;
    const got: Notification[] = [];
    inbox.on("notification", (notification) => got.push(notification));
    await eventually(() => inbox.status === "connected", "inbox connected");
    const hire = await m.hire(1);
    await eventually(() => got.length === 1 && inbox.unreadCount === 1, "notification and count");
    const first = got[0]!;
    if (first.type !== "hire.requested") throw new Error(`unexpected ${first.type}`);
    expectTypeOf(first.payload.phoneNumber).toEqualTypeOf<string | null>();
    expect(first.payload).toMatchObject({ hireId: hire.id, fullName: m.client.user.firstName + " " + m.client.user.lastName, phoneNumber: "+39 02 5550 1234" });
    await inbox.markRead([first.id]);
    expect(inbox.unreadCount).toBe(0);
  });

  it("resumes after a dropped connection with no gap and no repeat", async () => {
    const m = await marketplace();
    const proxy = await new TcpProxy({ host: "127.0.0.1", port: Number(new URL(server.baseUrl).port) }).start();
    try {
      const storage = memoryStorage();
      const device = newClient({ baseUrl: proxy.httpUrl, token: m.provider.client.token!, storage });
      const seqs: number[] = [];
      const statuses: string[] = [];
      device.notifications.on("notification", (x) => seqs.push(x.seq));
      device.notifications.on("status", (s) => statuses.push(s));
      await eventually(() => device.notifications.status === "connected", "connected");
      await m.hire(1);
      await eventually(() => seqs.length === 1, "first notification");
      proxy.block();
      await eventually(() => device.notifications.status === "reconnecting", "noticed the drop");
      for (let i = 2; i <= 6; i++) await m.hire(i);
      proxy.unblock();
      await eventually(() => seqs.length === 6, "the missed five", 10_000);
      await m.hire(7);
      // The live one is the marker: a repeat of any before it would have arrived first, in its place.
      await eventually(() => seqs.includes(7), "a live one after");
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(statuses).toContain("reconnecting");
      expect(statuses.at(-1)).toBe("connected");
    } finally {
      await proxy.stop();
    }
  });

  it("a reload resumes from storage", async () => {
    const m = await marketplace();
    const storage = memoryStorage();
    const before = newClient({ storage, token: m.provider.client.token! });
    const seen: number[] = [];
    before.notifications.on("notification", (x) => seen.push(x.seq));
    await eventually(() => before.notifications.status === "connected", "connected");
    await m.hire(1);
    await eventually(() => seen.length === 1, "first");
    before.close(); // the page goes away
    await m.hire(2);
    await m.hire(3);
    const after = newClient({ storage }); // same storage: token and resume point survive the reload
    expect(after.token).toBe(m.provider.client.token);
    const resumed: number[] = [];
    after.notifications.on("notification", (x) => resumed.push(x.seq));
    await eventually(() => resumed.length === 2, "the two missed after reload");
    expect(resumed).toEqual([2, 3]);
  });

  it("errors are typed: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST with field issues, TOO_MANY_REQUESTS with a retry time", async () => {
    const { email } = await signedUp();
    const client = newClient();
    const fail = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as AiutamiError);

    const wrong = await fail(client.auth.logIn({ email, password: "not-the-password" }));
    expect(wrong).toBeInstanceOf(AiutamiError);
    expect(wrong!.code).toBe("UNAUTHORIZED");

    const bad = await fail(client.auth.signUp({ email: "nope", password: "x", firstName: "", lastName: "L" }));
    expect(bad!.code).toBe("BAD_REQUEST");
    expect(bad!.issues.map((i) => i.path).sort()).toEqual(["email", "firstName", "password"]);

    await fail(client.auth.logIn({ email, password: "wrong-again" }));
    await fail(client.auth.logIn({ email, password: "wrong-thrice" }));
    const throttled = await fail(client.auth.logIn({ email, password: PASSWORD }));
    expect(throttled!.code).toBe("TOO_MANY_REQUESTS");
    expect(throttled!.retryAfterSeconds).toBeGreaterThan(0);

    const m = await marketplace();
    const forbidden = AiutamiError.from(await m.client.client.api.tenants.members.list.query().catch((e: unknown) => e));
    expect(forbidden.code).toBe("FORBIDDEN");
    expect(forbidden.requestId).toBeTruthy();

    const anonymous = await fail(newClient().auth.me());
    expect(anonymous!.code).toBe("UNAUTHORIZED");
  });

  it("log-out forgets the token and a revoked session's inbox reports it", async () => {
    const m = await marketplace();
    const errors: AiutamiError[] = [];
    const device = newClient({ token: m.provider.client.token! });
    device.notifications.on("error", (e) => errors.push(e));
    await eventually(() => device.notifications.status === "connected", "connected");
    await m.provider.client.auth.logOutEverywhere();
    expect(m.provider.client.token).toBeNull();
    await eventually(() => device.notifications.status !== "connected", "dropped after revocation", 5000);
    await eventually(() => errors.length > 0 && device.notifications.status === "offline", "refused on reconnect", 10_000);
    expect(errors[0]!.code).toBe("UNAUTHORIZED");
  });
});
