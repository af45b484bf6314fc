import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAiutamiClient, memoryStorage, type AiutamiClient, type AiutamiError, type Notification } from "../../client-sdk/src/index";
import { migratePostgresDatabase } from "../../db/migrate";
import { checkDelivery } from "../helpers/delivery-checker";
import { addMember, createTenant, TEST_PASSWORD, type TestTenant, type TestUser } from "../helpers/factories";
import { FaultProxy } from "../helpers/fault-proxy";
import { hireInput } from "../helpers/hiring";
import { createProvider, profileInput } from "../helpers/profiles";
import { eventually } from "../helpers/sockets";
import { startServer, type BenchServer } from "../helpers/spawn-server";
import { startThrowawayPostgres, startThrowawayRedis } from "../helpers/throwaway-servers";
import { callerAs, createTestEnv, type TestEnv } from "../helpers/test-app";

/**
 * Temporary is not final (invariant 10). Two server processes (API, hub and relay each) behind a
 * round-robin balancer; 20 SDK devices (two per provider, each its own session) and hires going on
 * before, during and after an outage of Redis, of PostgreSQL, and of both overlapping. During each
 * outage every socket is forced to reconnect (the balancer drops every connection; in the PostgreSQL
 * one a server process is also killed), so each device's handshake meets the outage and is answered
 * SERVICE_UNAVAILABLE. Afterwards every device is live again and has every committed notification of
 * its user exactly once, in order; a device whose session was revoked during the outage is refused for
 * good, with one `error` event.
 */
const PROVIDERS = 10;
const HIRES_PER_SECOND = 20;

type Device = { user: TestUser; client: AiutamiClient; received: Notification[]; errors: AiutamiError[]; connects: number };
type HireAnswer = { status: number | "network"; code?: string; retryAfterSeconds?: number };

let pg: Awaited<ReturnType<typeof startThrowawayPostgres>>;
let redis: Awaited<ReturnType<typeof startThrowawayRedis>>;
let env: TestEnv;
let owner: postgres.Sql;
const servers: BenchServer[] = [];
let balancer: FaultProxy;
const dirs: string[] = [];
let tenant: TestTenant;
let clients: TestUser[];
let providers: TestUser[];
const devices: Device[] = [];

async function spawnServer(): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), "aiutami-outage-"));
  dirs.push(dir);
  // The sweep every second, so that revocations and the sweep's own failures are exercised.
  return startServer({ DATABASE_URL: pg.url, REDIS_URL: redis.url, DATA_DIR: dir, NODE_ENV: "test", HUB_SESSION_CHECK_MS: "1000" });
}

const targetsOf = (list: BenchServer[]) => list.map((s) => ({ host: "127.0.0.1", port: Number(new URL(s.baseUrl).port) }));

/** A new session of `user`, as a second device would log in. */
async function logInAgain(user: TestUser): Promise<string> {
  return (await callerAs(env, null).auth.logIn({ email: user.email, password: TEST_PASSWORD })).token;
}

function openDevice(user: TestUser, token: string): Device {
  // The SDK's defaults: backoff from 0.5 s to 10 s, with jitter.
  const client = createAiutamiClient({ baseUrl: balancer.url, token, storage: memoryStorage() });
  const device: Device = { user, client, received: [], errors: [], connects: 0 };
  client.notifications.on("notification", (n) => device.received.push(n));
  client.notifications.on("error", (e) => device.errors.push(e));
  client.notifications.on("status", (s) => void (s === "connected" && device.connects++));
  return device;
}

beforeAll(async () => {
  [pg, redis] = await Promise.all([startThrowawayPostgres(), startThrowawayRedis()]);
  await migratePostgresDatabase(pg.url);
  owner = postgres(pg.url, { max: 1, onnotice: () => {} });
  env = await createTestEnv({ DATABASE_URL: pg.url, REDIS_URL: redis.url });
  servers.push(await spawnServer(), await spawnServer());
  balancer = await new FaultProxy(targetsOf(servers)).start();
  tenant = await createTenant(env);
  clients = [await addMember(env, tenant, "client"), await addMember(env, tenant, "client")];
  providers = [];
  for (let i = 0; i < PROVIDERS; i++) providers.push((await createProvider(env, tenant, profileInput("senior_caregiver", "milan"))).user);
  for (const p of providers) devices.push(openDevice(p, p.token), openDevice(p, await logInAgain(p)));
  await eventually(() => devices.every((d) => d.client.notifications.status === "connected"), "20 devices connected", 30_000);
});
afterAll(async () => {
  for (const d of devices) d.client.close();
  await balancer?.stop();
  await Promise.all(servers.map((s) => s.stop()));
  await env?.close();
  await owner?.end();
  await redis?.stop();
  pg?.stop();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** Hires over HTTP through the balancer, at a steady rate, from two clients to every provider in turn. */
function startHires() {
  const answers: HireAnswer[] = [];
  const inFlight = new Set<Promise<void>>();
  let n = 0;
  const send = async (i: number) => {
    const client = clients[i % clients.length]!;
    try {
      const res = await fetch(`${balancer.url}/trpc/hires.create`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${client.token}`, "x-tenant-id": tenant.slug },
        body: JSON.stringify(hireInput(providers[i % providers.length]!.id, i)),
      });
      const body = (await res.json()) as { error?: { data?: { code?: string; retryAfterSeconds?: number } } };
      answers.push({ status: res.status, code: body.error?.data?.code, retryAfterSeconds: body.error?.data?.retryAfterSeconds });
    } catch {
      answers.push({ status: "network" }); // a connection the balancer dropped, or a process killed
    }
  };
  const timer = setInterval(() => {
    const p = send(n++);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }, 1000 / HIRES_PER_SECOND);
  const count = (ok: boolean) => answers.filter((a) => (a.status === 200) === ok).length;
  return {
    answers,
    started: () => n,
    /** Waits until `more` hires beyond those already started have been started (a pause measured in hires). */
    after: async (more: number) => {
      const target = n + more;
      await eventually(() => n >= target, `${more} more hires sent`, 60_000);
    },
    /** Waits until `more` hires beyond those already committed have been committed. */
    afterCommitted: async (more: number) => {
      const target = count(true) + more;
      await eventually(() => count(true) >= target, `${more} more hires committed`, 60_000);
    },
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { ok: count(true), failed: count(false) };
    },
  };
}

/** Every device has every notification committed for its user (by count; checkDelivery then checks which). */
async function allCaughtUp(): Promise<boolean> {
  const rows = await owner<{ user_id: string; n: number }[]>`select user_id, count(*)::int as n from notifications group by user_id`;
  const committed = new Map(rows.map((r) => [r.user_id, r.n]));
  return devices.every((d) => d.received.length >= (committed.get(d.user.id) ?? 0));
}

/** After an outage: all devices live again, then caught up; every device's delivery checked. */
async function expectRecovered(name: string, outageEnded: number, hires: ReturnType<typeof startHires>) {
  await eventually(() => devices.every((d) => d.client.notifications.status === "connected"), "every device live again", 60_000);
  const liveMs = performance.now() - outageEnded;
  await hires.afterCommitted(40);
  const totals = await hires.stop();
  await eventually(allCaughtUp, "every device has every committed notification", 60_000);
  const caughtUpMs = performance.now() - outageEnded;
  for (const d of devices) {
    expect(await checkDelivery(d.received, d.user.id, pg.url)).toMatchObject({ duplicates: 0, uncommitted: 0, missing: 0, inOrder: true });
    expect(d.errors).toEqual([]);
  }
  // A hire that failed said so plainly: 503 with when to retry, or a connection cut by the fault itself.
  for (const a of hires.answers.filter((x) => x.status !== 200 && x.status !== "network")) {
    expect(a).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE" });
    expect(a.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  }
  const [{ n } = { n: 0 }] = await owner<{ n: number }[]>`select count(*)::int as n from notifications`;
  console.log(
    `outage-reconnect, ${name}: ${devices.length} devices live again ${(liveMs / 1000).toFixed(1)} s after the outage ended, ` +
      `caught up ${(caughtUpMs / 1000).toFixed(1)} s after; hires ${totals.ok} committed, ${totals.failed} refused or cut; ` +
      `${n} notifications committed so far, all delivered once, in order, to both devices of their provider`,
  );
}

/** A device on its own session of the first provider, to be revoked during the outage. */
async function revocableDevice(): Promise<{ device: Device; token: string }> {
  const token = await logInAgain(providers[0]!);
  const device = openDevice(providers[0]!, token);
  await eventually(() => device.client.notifications.status === "connected", "the revocable device connected");
  return { device, token };
}

/** Logs a session out through the balancer, as the user would from another browser tab. */
async function logOut(token: string): Promise<number> {
  const res = await fetch(`${balancer.url}/trpc/auth.logOut`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: "{}" });
  return res.status;
}

/** The revoked device was refused for good: one UNAUTHORIZED error, offline, and never connected again. */
function expectRefusedForGood(revoked: Device, connectsBefore: number) {
  expect(revoked.errors.map((e) => e.code)).toEqual(["UNAUTHORIZED"]);
  expect(revoked.client.notifications.status).toBe("offline");
  expect(revoked.connects).toBe(connectsBefore);
  revoked.client.close();
}

const noneConnected = () => devices.filter((d) => d.client.notifications.status === "connected").length;

describe("fault: every device reconnects during an outage", () => {
  it("Redis down: handshakes answer SERVICE_UNAVAILABLE, devices keep trying, and all resume with no gap", async () => {
    const { device: revoked, token } = await revocableDevice();
    const hires = startHires();
    await hires.afterCommitted(40);
    await redis.kill();
    await hires.after(20);
    expect(await logOut(token)).toBe(200); // PostgreSQL is up: the session row goes, the announcement cannot
    const revokedConnects = revoked.connects;
    balancer.cut(); // every socket drops, and reconnects into the outage
    await eventually(() => noneConnected() === 0, "every device reconnecting");
    await hires.after(60); // about 3 s of refused handshakes
    expect(noneConnected()).toBe(0);
    await redis.restart();
    const ended = performance.now();
    await expectRecovered("Redis down", ended, hires);
    await eventually(() => revoked.errors.length > 0, "the revoked device refused");
    expectRefusedForGood(revoked, revokedConnects);
  });

  it("PostgreSQL down, and a server process killed: the same, through the surviving process", async () => {
    const hires = startHires();
    await hires.afterCommitted(40);
    pg.stopImmediately();
    await hires.after(20);
    servers[0]!.child.kill("SIGKILL"); // a crash during the outage; the balancer skips it from now on
    balancer.cut();
    await eventually(() => noneConnected() === 0, "every device reconnecting");
    await hires.after(60);
    expect(noneConnected()).toBe(0);
    pg.restart();
    const ended = performance.now();
    await expectRecovered("PostgreSQL down", ended, hires);
    // The crashed process comes back (it needs the database to start) and takes its share again.
    await servers[0]!.stop();
    servers[0] = await spawnServer();
    balancer.targets = targetsOf(servers);
  });

  it("Redis and PostgreSQL down, overlapping: the same; a session revoked in between is refused for good", async () => {
    const { device: revoked, token } = await revocableDevice();
    const hires = startHires();
    await hires.afterCommitted(40);
    await redis.kill();
    await hires.after(20);
    expect(await logOut(token)).toBe(200);
    const revokedConnects = revoked.connects;
    pg.stopImmediately();
    balancer.cut();
    await eventually(() => noneConnected() === 0, "every device reconnecting");
    await hires.after(40);
    await redis.restart(); // PostgreSQL still down
    await hires.after(40);
    expect(noneConnected()).toBe(0);
    pg.restart();
    const ended = performance.now();
    await expectRecovered("Redis and PostgreSQL down", ended, hires);
    await eventually(() => revoked.errors.length > 0, "the revoked device refused");
    expectRefusedForGood(revoked, revokedConnects);
  });
});
