import { Redis } from "ioredis";
import { io as ioClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMarketplace } from "../helpers/hiring";
import { eventually } from "../helpers/sockets";
import { startThrowawayRedis } from "../helpers/throwaway-servers";
import { startTestApp, type TestApp } from "../helpers/test-app";

let redis: Awaited<ReturnType<typeof startThrowawayRedis>>;
let app: TestApp;
let control: Redis;
beforeAll(async () => {
  redis = await startThrowawayRedis();
  app = await startTestApp({ REDIS_URL: redis.url });
  control = new Redis(redis.url);
});
afterAll(async () => {
  control.disconnect();
  await app.close();
  await redis.stop();
});

describe("fault: a client leaves while its registration waits on Redis", () => {
  it("leaves nothing behind: no user held, no stream read, no bell listed", async () => {
    const { env, server } = app;
    const m = await createMarketplace(env);
    const hub = server.app.hub!;
    // Redis reports each change of the user's bell set (keyspace notifications, on this test's own Redis).
    const bells = `user-${m.provider.id}:bells`;
    await control.config("SET", "notify-keyspace-events", "Ksg");
    const watcher = new Redis(redis.url);
    const changes: string[] = [];
    watcher.on("message", (_channel: string, change: string) => changes.push(change));
    await watcher.subscribe(`__keyspace@${control.options.db ?? 0}__:${bells}`);
    // Writes wait for 1.5 s, so the registration's MULTI (SADD of the bell) is held up.
    await control.client("PAUSE", 1500, "WRITE");
    const client = ioClient(server.baseUrl, { path: "/socket.io", transports: ["websocket"], auth: { token: m.provider.token }, reconnection: false });
    try {
      await eventually(() => hub.stats().users === 1, "the registration under way");
      client.close();
      await eventually(() => hub.stats().users === 0 && hub.stats().streams === 0, "the user released", 3000);
    } finally {
      client.close();
    }
    try {
      // Once the paused MULTI has run (Redis says so), the bell it listed is taken out again.
      await eventually(() => changes.includes("sadd"), "the paused registration's SADD ran", 10_000);
      await eventually(async () => (await control.exists(bells)) === 0, "the bell taken out again");
      expect(hub.stats()).toMatchObject({ sockets: 0, users: 0, streams: 0 });
      expect(changes.filter((c) => c === "sadd")).toHaveLength(1);
    } finally {
      watcher.disconnect();
    }
  }, 20_000);
});
