import { Redis } from "ioredis";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { SessionCache, type SessionRow } from "../../server/auth/session-cache";
import { createLogger } from "../../server/logger";
import { createUser, TEST_PASSWORD } from "../helpers/factories";
import { eventually } from "../helpers/sockets";
import { createTestEnv, openOwnerSql, startHttpServer, type TestEnv, type TestServer } from "../helpers/test-app";

let env: TestEnv;
let owner: postgres.Sql;
/** Two API processes over one database and one Redis, each with its own session cache. */
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  env = await createTestEnv();
  owner = openOwnerSql();
  [a, b] = await Promise.all([startHttpServer(env), startHttpServer(env)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await owner.end();
  await env.close();
});

/** What `auth.me` answers with this token on `server`: 200, or 401 for a refused session. */
async function meStatus(server: TestServer, token: string) {
  return (await fetch(`${server.baseUrl}/trpc/auth.me`, { headers: { authorization: `Bearer ${token}` } })).status;
}
const call = (server: TestServer, path: string, token: string, input: unknown = undefined) =>
  fetch(`${server.baseUrl}/trpc/${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(input ?? null) });

describe("session cache", () => {
  it("keeps a session row for a moment: a row deleted behind the API's back is still accepted until it ages out", async () => {
    const user = await createUser(env);
    expect(await meStatus(b, user.token)).toBe(200);
    await owner`delete from sessions where id = ${user.auth.session.id}`;
    // Cached on b: this is what the cache saves, one query per call.
    expect(await meStatus(b, user.token)).toBe(200);
  });

  it("a log-out is refused at once on this process and within a moment on the others", async () => {
    const user = await createUser(env);
    expect(await meStatus(a, user.token)).toBe(200);
    expect(await meStatus(b, user.token)).toBe(200);
    expect((await call(a, "auth.logOut", user.token)).status).toBe(200);
    expect(await meStatus(a, user.token)).toBe(401);
    await eventually(async () => (await meStatus(b, user.token)) === 401, "the other process refuses the logged-out session", 1500);
  });

  it("log-out everywhere and revoking one device reach the other process too", async () => {
    const user = await createUser(env);
    const second = await createUser(env); // another user's sessions stay
    const logIn = await fetch(`${a.baseUrl}/trpc/auth.logIn`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: user.email, password: TEST_PASSWORD }) });
    const { token } = ((await logIn.json()) as { result: { data: { token: string } } }).result.data;
    const tablet = { token, sessionId: token.split(".")[0]! }; // a token is <session id>.<secret>
    for (const token of [user.token, tablet.token, second.token]) expect(await meStatus(b, token)).toBe(200);

    expect((await call(a, "auth.sessions.revoke", user.token, { id: tablet.sessionId })).status).toBe(200);
    await eventually(async () => (await meStatus(b, tablet.token)) === 401, "the revoked device is refused elsewhere", 1500);
    expect(await meStatus(b, user.token)).toBe(200);

    expect((await call(a, "auth.logOutEverywhere", user.token)).status).toBe(200);
    await eventually(async () => (await meStatus(b, user.token)) === 401, "every session of the user is refused elsewhere", 1500);
    expect(await meStatus(b, second.token)).toBe(200);
  });

  it("is bypassed while it cannot hear revocations (Redis unreachable, or no recent poll), and works again once it can", async () => {
    // "No recent poll" is time: the test sets Date.now (only Date; Redis's own timers stay real).
    vi.useFakeTimers({ toFake: ["Date"] });
    onTestFinished(() => void vi.useRealTimers());
    const redis = new Redis(env.config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    await redis.connect();
    const cache = new SessionCache(redis, createLogger("silent"), { ttlMs: 10_000, pollMs: 50, maxEntries: 10 });
    const row: SessionRow = { id: "s1", userId: "u1", secretHash: new Uint8Array(32), createdAt: new Date(), lastSeenAt: new Date(), user: { id: "u1", email: "e@x.test", firstName: "A", lastName: "B", phone: null } };
    const readBeforeOn = cache.generation;
    cache.set(row, readBeforeOn);
    expect(cache.get("s1")).toBeUndefined(); // not yet listening: nothing is kept
    await cache.poll();
    // A row read before the cache turned on may predate a revocation it skipped: not cached.
    cache.set(row, readBeforeOn);
    expect(cache.get("s1")).toBeUndefined();
    cache.set(row, cache.generation);
    expect(cache.get("s1")).toBe(row);
    // A row read before a revocation is not cached after it.
    const seen = cache.generation;
    cache.forget({ userId: "u9", sessionIds: ["other"] });
    cache.set({ ...row, id: "s2" }, seen);
    expect(cache.get("s2")).toBeUndefined();

    // No successful poll for a while (a hung connection looks like this): off until polls succeed again.
    const polledAt = Date.now(); // the clock stands still: the last poll's time
    vi.setSystemTime(polledAt + 1000); // a second (4 polls, at least a second) without one: still on
    expect(cache.get("s1")).toBe(row);
    vi.setSystemTime(polledAt + 1001);
    expect(cache.get("s1")).toBeUndefined();
    await cache.poll(); // turns on again, from the stream's newest entry
    cache.set(row, cache.generation);
    expect(cache.get("s1")).toBe(row);

    redis.disconnect();
    await cache.poll();
    expect(cache.get("s1")).toBeUndefined();
    cache.set(row, cache.generation);
    expect(cache.get("s1")).toBeUndefined();
  });
});
