import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { io as ioClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { users } from "../../db/schema";
import { createSession } from "../../server/auth/sessions";
import { streamKey } from "../../server/notifications/doorbell";
import { untilAllStreamed } from "../helpers/delivery-checker";
import { createUser, TEST_PASSWORD, unique } from "../helpers/factories";
import { createMarketplace, hire, type Marketplace } from "../helpers/hiring";
import { connectDevice, eventually, type TestDevice } from "../helpers/sockets";
import { TcpProxy } from "../helpers/tcp-proxy";
import { callerAs, createTestEnv, openOwnerSql, startHttpServer, startTestApp, type TestEnv } from "../helpers/test-app";

let env: TestEnv;
let server: Awaited<ReturnType<typeof startHttpServer>>;
let redis: Redis;
const devices: TestDevice[] = [];
const device = async (...args: Parameters<typeof connectDevice>) => {
  const d = await connectDevice(...args);
  devices.push(d);
  return d;
};
/**
 * Makes hire `n` for `m` once every earlier notification of its provider is recorded as streamed, and
 * waits until `d` has it as its `count`th: whatever was to arrive before it (a repeat, one too many) has
 * arrived by then, since a user's notifications reach a device in stream order.
 */
async function marker(m: Marketplace, d: TestDevice, n: number, count: number) {
  await untilAllStreamed(m.provider.id);
  const h = await hire(env, m, n);
  await d.waitFor(count);
  return h;
}
/** A device sees hire 0 and goes away; hires 1 to 5 are made while it is gone. Returns what it saw. */
async function missFiveHires(m: Marketplace) {
  const first = await device(server.baseUrl, { token: m.provider.token });
  await hire(env, m, 0);
  const [seen] = await first.waitFor(1);
  first.close();
  for (let i = 1; i <= 5; i++) await hire(env, m, i);
  return seen!;
}

beforeAll(async () => {
  env = await createTestEnv({ HUB_SESSION_CHECK_MS: "300", ALLOWED_ORIGINS: "https://app.aiutami.test" });
  server = await startHttpServer(env);
  redis = new Redis(inject("redisUrl"));
});
afterAll(async () => {
  devices.forEach((d) => d.close());
  redis.disconnect();
  await server.stop();
  await env.close();
});

describe("live delivery", () => {
  let m: Marketplace;
  beforeAll(async () => {
    m = await createMarketplace(env);
  });

  it("a hire reaches the provider's socket, once, with what the original system sent", async () => {
    const provider = await device(server.baseUrl, { token: m.provider.token });
    const h = await hire(env, m);
    const [n] = await provider.waitFor(1);
    expect(n).toMatchObject({ type: "hire.requested", tenant: { id: m.tenant.id }, payload: { hireId: h.id, userId: m.provider.id, fullName: "Test User", location: h.location, time: h.startsAt, jobDescription: h.jobDescription } });
    expect(n).not.toHaveProperty("userId");
    // No repeat: once recorded as streamed it is never appended again, and any repeat before that comes before the marker.
    const later = await marker(m, provider, 2, 2);
    expect(provider.received.map((x) => x.payload.hireId)).toEqual([h.id, later.id]);
    provider.close();
  });

  it("a notification committed right after the client sees connect is delivered (no hand-over gap)", async () => {
    const fresh = await createMarketplace(env);
    for (let round = 1; round <= 20; round++) {
      const d = await device(server.baseUrl, { token: fresh.provider.token });
      await hire(env, fresh, round);
      const [n] = await d.waitFor(1, 3000);
      expect(n!.seq).toBe(round);
      d.close();
    }
  });

  it("every step reaches the other party live", async () => {
    const client = await device(server.baseUrl, { token: m.client.token });
    const provider = await device(server.baseUrl, { token: m.provider.token });
    const h = await hire(env, m);
    await provider.waitFor(1);
    const asProvider = callerAs(env, m.provider.auth, { tenant: m.tenant.slug });
    await asProvider.hires.accept({ id: h.id });
    await asProvider.hires.complete({ id: h.id });
    await client.waitFor(2);
    expect(client.received.map((n) => n.type)).toEqual(["hire.accepted", "hire.completed"]);
    const h2 = await hire(env, m);
    await callerAs(env, m.client.auth, { tenant: m.tenant.slug }).hires.cancel({ id: h2.id });
    await provider.waitFor(3);
    expect(provider.received.map((n) => `${n.type}:${n.payload.hireId}`)).toEqual([`hire.requested:${h.id}`, `hire.requested:${h2.id}`, `hire.cancelled:${h2.id}`]);
    client.close();
    provider.close();
  });

  it("after a dropped connection, resuming from the last id gets exactly the 5 missed, in order, then live ones", async () => {
    const fresh = await createMarketplace(env);
    const seen = await missFiveHires(fresh);
    const again = await device(server.baseUrl, { token: fresh.provider.token, lastId: seen.id });
    const missed = await again.waitFor(5);
    expect(missed.map((n) => n.seq)).toEqual([2, 3, 4, 5, 6]);
    expect(missed.map((n) => n.payload.jobDescription)).toEqual([1, 2, 3, 4, 5].map((i) => `Afternoon company and a walk for my father (${i})`));
    await hire(env, fresh, 6);
    await again.waitFor(6);
    await marker(fresh, again, 7, 7);
    expect(again.received.map((n) => n.seq)).toEqual([2, 3, 4, 5, 6, 7, 8]);
  });

  it("when the stream was trimmed or lost, the missed part comes from PostgreSQL", async () => {
    for (const damage of ["trim", "delete"] as const) {
      const fresh = await createMarketplace(env);
      const seen = await missFiveHires(fresh);
      if (damage === "trim") await redis.xtrim(streamKey(fresh.provider.id), "MAXLEN", 1);
      else await redis.del(streamKey(fresh.provider.id));
      const again = await device(server.baseUrl, { token: fresh.provider.token, lastId: seen.id });
      expect((await again.waitFor(5)).map((n) => n.seq)).toEqual([2, 3, 4, 5, 6]);
      await marker(fresh, again, 6, 6);
      expect(again.received.map((n) => n.seq)).toEqual([2, 3, 4, 5, 6, 7]);
    }
  });

  it("a new device without lastId gets live notifications only", async () => {
    const fresh = await createMarketplace(env);
    await hire(env, fresh, 1);
    const d = await device(server.baseUrl, { token: fresh.provider.token });
    // The live one is the first to arrive: nothing of before came ahead of it.
    await marker(fresh, d, 2, 1);
    expect(d.received.map((n) => n.seq)).toEqual([2]);
  });

  it("a user with devices on two hub processes gets each notification on both, once", async () => {
    const second = await startHttpServer(env);
    try {
      const fresh = await createMarketplace(env);
      const a = await device(server.baseUrl, { token: fresh.provider.token });
      const b = await device(second.baseUrl, { token: fresh.provider.token });
      for (let i = 0; i < 3; i++) await hire(env, fresh, i);
      await a.waitFor(3);
      await b.waitFor(3);
      await marker(fresh, a, 3, 4);
      await b.waitFor(4);
      expect(a.received.map((n) => n.seq)).toEqual([1, 2, 3, 4]);
      expect(b.received.map((n) => n.seq)).toEqual([1, 2, 3, 4]);
    } finally {
      await second.stop();
    }
  });

  it("read state reaches the user's other devices", async () => {
    const fresh = await createMarketplace(env);
    const phone = await device(server.baseUrl, { token: fresh.provider.token });
    const laptop = await device(server.baseUrl, { token: fresh.provider.token });
    await hire(env, fresh, 1);
    await hire(env, fresh, 2);
    const [n1] = await phone.waitFor(2);
    await callerAs(env, fresh.provider.auth).notifications.markRead({ ids: [n1!.id] });
    await eventually(() => laptop.reads.length === 1 && phone.reads.length === 1, "read event on both devices");
    expect(laptop.reads[0]).toEqual({ ids: [n1!.id] });
    await callerAs(env, fresh.provider.auth).notifications.markAllRead();
    await eventually(() => laptop.reads.length === 2, "mark-all event");
    expect(laptop.reads[1]).toEqual({ all: true });
  });
});

describe("sessions and isolation on the socket", () => {
  it("a logged-out or revoked session's sockets are dropped within seconds", async () => {
    const user = await createUser(env);
    const d1 = await device(server.baseUrl, { token: user.token });
    const other = await callerAs(env, null).auth.logIn({ email: user.email, password: TEST_PASSWORD });
    const d2 = await device(server.baseUrl, { token: other.token });
    const disconnected = (d: TestDevice) => () => !d.socket.connected;
    await callerAs(env, user.auth).auth.sessions.revoke({ id: other.token.split(".")[0]! });
    await eventually(disconnected(d2), "revoked session's socket dropped", 3000);
    expect(d1.socket.connected).toBe(true);
    await callerAs(env, user.auth).auth.logOut();
    await eventually(disconnected(d1), "logged-out session's socket dropped", 3000);
  });

  it("a session deleted without an announcement is dropped by the periodic check", async () => {
    const user = await createUser(env);
    const d = await device(server.baseUrl, { token: user.token });
    const { sessions } = await import("../../db/schema");
    const { eq } = await import("drizzle-orm");
    await env.deps.db.delete(sessions).where(eq(sessions.userId, user.id));
    await eventually(() => !d.socket.connected, "socket of a deleted session dropped", 3000);
  });

  it("no handshake lets a user receive another user's notifications", async () => {
    const victim = await createMarketplace(env);
    const watcher = await device(server.baseUrl, { token: victim.provider.token });
    await hire(env, victim, 1);
    const [theirs] = await watcher.waitFor(1);
    const attacker = await createMarketplace(env); // a provider: the marker below is a hire of their own
    const sneaky = await device(server.baseUrl, { token: attacker.provider.token, lastId: theirs!.id, userId: victim.provider.id } as never);
    await hire(env, victim, 2);
    await watcher.waitFor(2);
    // The attacker's own hire comes after the victim's on the same hub: had the victim's reached this
    // socket, it would be there first.
    const own = await marker(attacker, sneaky, 1, 1);
    expect(sneaky.received.map((n) => n.payload.hireId)).toEqual([own.id]);
  });

  it("refuses a connection without a token, with a bad token, from a foreign origin, or by cookie without an origin", async () => {
    const user = await createUser(env);
    const refusal = (auth: { token?: string }, opts: { origin?: string; cookie?: string } = {}) =>
      connectDevice(server.baseUrl, auth as { token: string }, opts).then(
        (d) => {
          d.close();
          return "connected";
        },
        (err: Error & { data?: { code?: string } }) => err.data?.code ?? err.message,
      );
    expect(await refusal({})).toBe("UNAUTHORIZED");
    expect(await refusal({ token: `${"a".repeat(26)}.${"b".repeat(52)}` })).toBe("UNAUTHORIZED");
    expect(await refusal({ token: user.token }, { origin: "https://evil.example" })).not.toBe("connected");
    expect(await refusal({ token: user.token }, { origin: "https://app.aiutami.test" })).toBe("connected");
  });
});

describe("socket limits and cookies", () => {
  it("an event flood gets the socket closed", async () => {
    const user = await createUser(env);
    const d = await device(server.baseUrl, { token: user.token });
    for (let i = 0; i < 200; i++) (d.socket as unknown as { emit: (e: string) => void }).emit("spam");
    await eventually(() => !d.socket.connected, "flooding socket closed", 3000);
  });

  it("a 2 MB message is refused and the socket closed", async () => {
    const user = await createUser(env);
    const d = await device(server.baseUrl, { token: user.token });
    (d.socket as unknown as { emit: (e: string, v: string) => void }).emit("big", "x".repeat(2 * 1024 * 1024));
    await eventually(() => !d.socket.connected, "socket closed after an oversized message", 5000);
  });

  it("an expired session cannot open a socket", async () => {
    const user = await createUser(env);
    env.clock.advance(15 * 86_400_000);
    try {
      const err = await connectDevice(server.baseUrl, { token: user.token }).then(
        (d) => {
          d.close();
          return "connected";
        },
        (e: Error & { data?: { code?: string } }) => e.data?.code,
      );
      expect(err).toBe("UNAUTHORIZED");
    } finally {
      env.clock.advance(-15 * 86_400_000);
    }
  });

  it("a cookie-authenticated socket needs an allowed Origin", async () => {
    const user = await createUser(env);
    const withCookie = (origin?: string) =>
      new Promise<string>((resolve) => {
        const socket = ioClient(server.baseUrl, {
          transports: ["websocket"],
          reconnection: false,
          forceNew: true,
          extraHeaders: { cookie: `aiutami_session=${user.token}`, ...(origin ? { origin } : {}) },
        });
        socket.once("connect", () => {
          socket.disconnect();
          resolve("connected");
        });
        socket.once("connect_error", (err: Error & { data?: { code?: string } }) => resolve(err.data?.code ?? err.message));
      });
    expect(await withCookie()).toBe("FORBIDDEN");
    expect(await withCookie("https://evil.example")).not.toBe("connected");
    expect(await withCookie("https://app.aiutami.test")).toBe("connected");
  });
});

describe("doorbells (decision 008)", () => {
  const bellsOf = (userId: string) => `${streamKey(userId)}:bells`;

  it("a connected user's set lists one live bell of the hub, and no longer once the user's last device leaves", async () => {
    const fresh = await createMarketplace(env);
    const d = await device(server.baseUrl, { token: fresh.provider.token });
    const bells = await redis.smembers(bellsOf(fresh.provider.id));
    expect(bells).toHaveLength(1);
    expect(bells[0]).toMatch(/^hub-bell:[0-9a-f-]{36}:[0-2]$/);
    expect(await redis.exists(bells[0]!)).toBe(1);
    expect(await redis.ttl(bells[0]!)).toBeGreaterThan(0);
    d.close();
    await eventually(async () => (await redis.exists(bellsOf(fresh.provider.id))) === 0, "the bell unlisted");
  });

  it("an append drops a stopped hub's bell from the set and does not recreate it", async () => {
    const fresh = await createMarketplace(env);
    const dead = `hub-bell:${randomUUID()}:0`;
    await redis.sadd(bellsOf(fresh.provider.id), dead);
    await hire(env, fresh);
    await eventually(async () => (await redis.xlen(streamKey(fresh.provider.id))) === 1, "the notification appended");
    expect(await redis.sismember(bellsOf(fresh.provider.id), dead)).toBe(0);
    expect(await redis.exists(dead)).toBe(0);
  });

  it("a missed ring delays a notification only until the reader's sweep; a stopped hub removes its bells", async () => {
    const { env: local, server: app, close } = await startTestApp({ HUB_SWEEP_MS: "300" });
    let bells: string[];
    try {
      const fresh = await createMarketplace(local);
      const d = await device(app.baseUrl, { token: fresh.provider.token });
      bells = await redis.smembers(bellsOf(fresh.provider.id));
      await redis.del(bellsOf(fresh.provider.id)); // the next append rings nobody
      await hire(local, fresh);
      const [n] = await d.waitFor(1, 3000);
      expect(n!.seq).toBe(1);
    } finally {
      await close();
    }
    expect(bells).toHaveLength(1);
    expect(await redis.exists(bells[0]!)).toBe(0);
  });
});

describe("rings that carry their entry", () => {
  it("an entry that follows on from the last one handed on is taken from the ring; one that does not is read from the stream", async () => {
    const { env: local, server: app, close } = await startTestApp({ HUB_SWEEP_MS: "60000" });
    const taken = async () => {
      const { values } = await app.app.deps.metrics.hubEntries.get();
      return Object.fromEntries(values.map((v) => [v.labels.via, v.value]));
    };
    try {
      const fresh = await createMarketplace(local);
      const d = await device(app.baseUrl, { token: fresh.provider.token });
      for (let i = 1; i <= 3; i++) {
        await hire(local, fresh, i);
        await d.waitFor(i, 3000);
      }
      expect(await taken()).toEqual({ ring: 3 });
      // An entry appended without a ring (an unknown kind, which the hub skips): the next ring does not
      // follow on from what the reader handed on, so the reader reads the stream and gets both.
      await redis.xadd(streamKey(fresh.provider.id), "*", "kind", "unknown");
      await hire(local, fresh, 4);
      const received = await d.waitFor(4, 3000);
      expect(received.map((n) => n.seq)).toEqual([1, 2, 3, 4]);
      expect(await taken()).toEqual({ ring: 3, read: 2 });
      // The rings carried whole notifications: once read, they are trimmed from the bell.
      const [bell] = await redis.smembers(`${streamKey(fresh.provider.id)}:bells`);
      await eventually(async () => (await redis.xlen(bell!)) === 0, "the read rings trimmed from the bell");
    } finally {
      await close();
    }
  });
});

describe("Redis connections", () => {
  it("the hub holds the same number of Redis connections with 1 and with 500 connected users", async () => {
    const name = `aiutami-conncount-${randomUUID().slice(0, 8)}`;
    const { env: local, server: hubServer, close } = await startTestApp({}, { redisName: name });
    const opened: TestDevice[] = [];
    try {
      const count = async () => ((await redis.client("LIST")) as string).split("\n").filter((l) => l.includes(` name=${name}-`)).length;
      const tokens: string[] = [];
      for (let i = 0; i < 500; i++) {
        const [u] = await local.deps.db.insert(users).values({ email: `${unique("c")}@conn.test`, passwordHash: "x", firstName: "C", lastName: String(i) }).returning({ id: users.id });
        tokens.push((await createSession({ db: local.deps.db, userId: u!.id, now: new Date(), policy: local.config.session })).token);
      }
      opened.push(await connectDevice(hubServer.baseUrl, { token: tokens[0]! }));
      await eventually(() => hubServer.app.hub!.stats().streams === 1, "one stream read");
      const withOne = await count();
      for (let i = 1; i < 500; i += 50) {
        opened.push(...(await Promise.all(tokens.slice(i, i + 50).map((token) => connectDevice(hubServer.baseUrl, { token })))));
      }
      await eventually(() => hubServer.app.hub!.stats().streams === 500, "500 streams read", 10_000);
      const withFiveHundred = await count();
      expect(withOne).toBeGreaterThan(0);
      expect(withFiveHundred).toBe(withOne);
      expect(withFiveHundred).toBeLessThanOrEqual(4);
    } finally {
      opened.forEach((d) => d.close());
      await close();
    }
  }, 60_000);
});

describe("Redis outage", () => {
  it("with Redis unreachable hires still succeed, and every notification arrives once it is back", async () => {
    const proxy = await new TcpProxy({ host: "127.0.0.1", port: Number(new URL(inject("redisUrl")).port || 6379) }).start();
    const { env: local, server: app, close } = await startTestApp({ REDIS_URL: proxy.redisUrlLike(inject("redisUrl")) });
    try {
      const m = await createMarketplace(local);
      const d = await device(app.baseUrl, { token: m.provider.token });
      await hire(local, m, 0);
      await d.waitFor(1);
      proxy.block();
      for (let i = 1; i <= 5; i++) await hire(local, m, i); // the commits do not need Redis
      // Each call has tried its append, and it failed: the outage is real, and they wait for the relay.
      const owner = openOwnerSql();
      try {
        const rows = await owner`select stream_attempts, streamed_at from notifications where user_id = ${m.provider.id} and seq > 1`;
        expect(rows.map((r) => ({ tried: Number(r.stream_attempts) > 0, streamed: r.streamed_at !== null }))).toEqual(Array.from({ length: 5 }, () => ({ tried: true, streamed: false })));
      } finally {
        await owner.end();
      }
      expect(d.received).toHaveLength(1);
      proxy.unblock();
      await d.waitFor(6, 15_000);
      await untilAllStreamed(m.provider.id);
      await hire(local, m, 6);
      await d.waitFor(7);
      expect(d.received.map((n) => n.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await close();
      await proxy.stop();
    }
  }, 40_000);
});
