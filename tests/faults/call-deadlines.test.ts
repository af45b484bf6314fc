import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migratePostgresDatabase } from "../../db/migrate";
import { addMember, createTenant } from "../helpers/factories";
import { FaultProxy } from "../helpers/fault-proxy";
import { ACCESS, CALL_AS, MULTIPART, procedures, VALID_INPUTS, type Fixture } from "../helpers/procedure-catalog";
import { createProvider, profileInput } from "../helpers/profiles";
import { eventually } from "../helpers/sockets";
import { startServer, type BenchServer } from "../helpers/spawn-server";
import { startThrowawayPostgres, startThrowawayRedis } from "../helpers/throwaway-servers";
import { createTestEnv, type TestEnv } from "../helpers/test-app";

/**
 * Bounded waits (invariant 12): with PostgreSQL or Redis stopped, or hanging (a proxy that stops
 * forwarding without closing anything, so no error ever comes), every procedure of the API answers
 * while the outage goes on: 503 SERVICE_UNAVAILABLE with retryAfterSeconds when the outage is in its
 * way, never a 500 and never a wait for the outage to end. Where the outage hangs, the answer is the
 * call deadline's own ("did not finish within 3 s"). `/healthz` keeps answering throughout.
 *
 * No stopwatch decides: the outage lasts until every call has answered, so a call that waited for it
 * would never answer, and is cut at NO_ANSWER_MS (ten deadlines, far beyond any loaded machine's delay)
 * to fail with its name. How long the answers took is printed, not asserted.
 */
const DEADLINE_MS = 3000;
const NO_ANSWER_MS = 10 * DEADLINE_MS;

let pg: Awaited<ReturnType<typeof startThrowawayPostgres>>;
let redis: Awaited<ReturnType<typeof startThrowawayRedis>>;
let pgProxy: FaultProxy;
let redisProxy: FaultProxy;
let env: TestEnv;
let server: BenchServer;
const dataDir = mkdtempSync(join(tmpdir(), "aiutami-deadlines-"));

beforeAll(async () => {
  [pg, redis] = await Promise.all([startThrowawayPostgres(), startThrowawayRedis()]);
  await migratePostgresDatabase(pg.url);
  const pgPort = Number(new URL(pg.url).port);
  pgProxy = await new FaultProxy([{ host: "127.0.0.1", port: pgPort }]).start();
  redisProxy = await new FaultProxy([{ host: "127.0.0.1", port: redis.port }]).start();
  // The test's own handle goes straight to the servers; the server under test goes through the proxies.
  env = await createTestEnv({ DATABASE_URL: pg.url, REDIS_URL: redis.url });
  server = await startServer({
    DATABASE_URL: pg.url.replace(`:${pgPort}/`, `:${pgProxy.port}/`),
    REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
    CALL_DEADLINE_MS: String(DEADLINE_MS),
    DATA_DIR: dataDir,
    NODE_ENV: "test",
  });
});
afterAll(async () => {
  await server?.stop();
  await env?.close();
  await pgProxy?.stop();
  await redisProxy?.stop();
  await redis?.stop();
  pg?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function createFixture(): Promise<Fixture> {
  const tenant = await createTenant(env);
  const member = await addMember(env, tenant, "client");
  const { user: provider } = await createProvider(env, tenant, profileInput("tutor", "milan"));
  return { tenant, member, provider };
}

type Answer = { path: string; status: number; ms: number; code?: string; retryAfterSeconds?: number; message?: string };

/** The token of a user allowed to call `path`: nobody, the client member, or the role CALL_AS names (else the owner). */
function tokenFor(path: string, f: Fixture): string | undefined {
  const access = ACCESS[path];
  if (access === "public") return undefined;
  if (access === "user") return f.member.token;
  const as = CALL_AS[path];
  return as ? f[as].token : f.tenant.owner.token;
}

/** One HTTP call of `path`, as the SDK would make it. */
async function callOverHttp(path: string, f: Fixture): Promise<Answer> {
  const token = tokenFor(path, f);
  const headers: Record<string, string> = { "x-tenant-id": f.tenant.slug, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const input = VALID_INPUTS[path]?.(f);
  const [, procedure] = procedures.find(([p]) => p === path)!;
  let init: RequestInit;
  let url = `${server.baseUrl}/trpc/${path}`;
  if (MULTIPART.has(path)) {
    const form = new FormData();
    form.set("file", new Blob([new Uint8Array(64)], { type: "image/png" }), "photo.png");
    init = { method: "POST", headers, body: form };
  } else if (procedure._def.type === "query") {
    if (input !== undefined) url += `?input=${encodeURIComponent(JSON.stringify(input))}`;
    init = { headers };
  } else {
    init = { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(input ?? {}) };
  }
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(NO_ANSWER_MS) });
    const body = (await res.json()) as { error?: { message: string; data?: { code?: string; retryAfterSeconds?: number } } };
    return { path, status: res.status, ms: performance.now() - started, code: body.error?.data?.code, retryAfterSeconds: body.error?.data?.retryAfterSeconds, message: body.error?.message };
  } catch (err) {
    return { path, status: 0, ms: performance.now() - started, message: `no answer: ${(err as Error).message}` };
  }
}

/** Every procedure at once, and /healthz meanwhile. */
async function callEverything(f: Fixture): Promise<{ answers: Answer[]; healthz: number[] }> {
  const healthz: number[] = [];
  let calling = true;
  const probe = (async () => {
    while (calling) {
      const started = performance.now();
      const res = await fetch(`${server.baseUrl}/healthz`);
      healthz.push(res.status === 200 ? performance.now() - started : -1);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const answers = await Promise.all(procedures.map(([path]) => callOverHttp(path, f)));
  calling = false;
  await probe;
  return { answers, healthz };
}

function summary(answers: Answer[]): string {
  const slowest = Math.max(...answers.map((a) => a.ms));
  const byStatus = new Map<number, number>();
  for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
  const unavailable = answers.filter((a) => a.status === 503).map((a) => a.path);
  return `${answers.length} procedures, slowest ${Math.round(slowest)} ms; ${[...byStatus].map(([s, n]) => `${n}× ${s}`).join(", ")}; 503: ${unavailable.length === answers.length ? "all" : unavailable.join(" ") || "none"}`;
}

/**
 * What every answer during an outage must be: there, and a 503 to retry when it failed for the outage;
 * with `atDeadline` (the outage hangs), a 503 is the deadline's.
 */
function expectBounded(answers: Answer[], healthz: number[], opts: { allUnavailable: boolean; atDeadline?: boolean }) {
  for (const a of answers) {
    expect(a.status, `${a.path} answered during the outage: ${a.message}`).not.toBe(0);
    expect(a.status, `${a.path}: ${a.message}`).not.toBe(500);
    if (opts.allUnavailable || a.status === 503) {
      expect({ path: a.path, status: a.status, code: a.code }).toEqual({ path: a.path, status: 503, code: "SERVICE_UNAVAILABLE" });
      expect(a.retryAfterSeconds, `${a.path} says when to retry`).toBeGreaterThanOrEqual(1);
      if (opts.atDeadline) expect(a.message, `${a.path} answered by its deadline`).toBe(`The call did not finish within ${DEADLINE_MS / 1000} s: try again shortly.`);
    }
  }
  expect(healthz.length).toBeGreaterThan(0);
  expect(healthz.every((ms) => ms >= 0)).toBe(true);
}

/**
 * The server is ready again (its database and Redis answer it: the next test's outage must meet a live
 * connection, not one still reconnecting, which fails at once), and the owner's `tenants.mine` answers
 * 200 (the member may have logged out during the outage).
 */
const recovered = (f: Fixture) =>
  eventually(
    async () =>
      (await fetch(`${server.baseUrl}/readyz`)).status === 200 &&
      (await fetch(`${server.baseUrl}/trpc/tenants.mine`, { headers: { authorization: `Bearer ${f.tenant.owner.token}` } })).status === 200,
    "the server ready and answering again",
    30_000,
  );

describe("fault: every call answers within the deadline during an outage", () => {
  it("PostgreSQL stopped: every procedure answers 503 with retryAfterSeconds", async () => {
    const f = await createFixture();
    pg.stopImmediately();
    try {
      const { answers, healthz } = await callEverything(f);
      console.log(`deadlines, PostgreSQL stopped: ${summary(answers)}`);
      expectBounded(answers, healthz, { allUnavailable: true });
    } finally {
      pg.restart();
    }
    await recovered(f);
  });

  it("PostgreSQL hanging (nothing answers, nothing closes): every procedure answers 503 at the deadline", async () => {
    const f = await createFixture();
    pgProxy.stall();
    try {
      const { answers, healthz } = await callEverything(f);
      console.log(`deadlines, PostgreSQL hanging: ${summary(answers)}`);
      expectBounded(answers, healthz, { allUnavailable: true, atDeadline: true });
    } finally {
      pgProxy.resume();
    }
    // The abandoned queries leave the pool usable: the same process serves again.
    await recovered(f);
    const again = await Promise.all(Array.from({ length: 20 }, () => callOverHttp("notifications.unreadCount", f)));
    expect(again.map((a) => a.status)).toEqual(again.map(() => 200));
  });

  it("Redis stopped: every procedure answers in time and none fails (log-in counts in memory, announcements wait for the relay or are dropped)", async () => {
    const f = await createFixture();
    await redis.kill();
    try {
      const { answers, healthz } = await callEverything(f);
      console.log(`deadlines, Redis stopped: ${summary(answers)}`);
      expectBounded(answers, healthz, { allUnavailable: false });
    } finally {
      await redis.restart();
    }
    await recovered(f);
  });

  it("Redis hanging: every procedure answers in time; those that wait on Redis (log-in's throttle, announcements) answer 503 at the deadline", async () => {
    const f = await createFixture();
    redisProxy.stall();
    try {
      const { answers, healthz } = await callEverything(f);
      console.log(`deadlines, Redis hanging: ${summary(answers)}`);
      expectBounded(answers, healthz, { allUnavailable: false, atDeadline: true });
      expect(answers.find((a) => a.path === "auth.logIn")).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE" });
    } finally {
      redisProxy.resume();
    }
    await recovered(f);
  });
});
