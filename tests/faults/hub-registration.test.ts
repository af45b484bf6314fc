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
    // Once the paused MULTI has run, the bell it listed is taken out again, and nothing comes back.
    await new Promise((r) => setTimeout(r, 2000));
    expect(hub.stats()).toMatchObject({ sockets: 0, users: 0, streams: 0 });
    expect(await control.exists(`user-${m.provider.id}:bells`)).toBe(0);
  }, 20_000);
});
