import { io as ioClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migratePostgresDatabase } from "../../db/migrate";
import type { HubErrorData } from "../../server/hub/events";
import { createMarketplace, type Marketplace } from "../helpers/hiring";
import { connectDevice, eventually } from "../helpers/sockets";
import { startThrowawayPostgres, startThrowawayRedis } from "../helpers/throwaway-servers";
import { startTestApp, type TestApp } from "../helpers/test-app";

/**
 * The hub's side of "temporary is not final", socket by socket: a handshake that meets an outage is
 * answered SERVICE_UNAVAILABLE with retryAfterSeconds (not UNAUTHORIZED, which the SDK takes as final),
 * a revoked session is still UNAUTHORIZED during an outage, and the periodic session check that cannot
 * reach the database disconnects nobody.
 */
let pg: Awaited<ReturnType<typeof startThrowawayPostgres>>;
let redis: Awaited<ReturnType<typeof startThrowawayRedis>>;
let app: TestApp;
let m: Marketplace;
let sweepFailures = 0;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startThrowawayPostgres(), startThrowawayRedis()]);
  await migratePostgresDatabase(pg.url);
  app = await startTestApp({ DATABASE_URL: pg.url, REDIS_URL: redis.url, HUB_SESSION_CHECK_MS: "200" });
  // Counts the hub's failed session checks, from its own log line.
  const log = app.env.deps.log;
  const warn = log.warn.bind(log);
  log.warn = ((obj: unknown, msg?: string) => {
    if (msg?.startsWith("session sweep failed")) sweepFailures++;
    return warn(obj as object, msg);
  }) as typeof log.warn;
  m = await createMarketplace(app.env);
});
afterAll(async () => {
  await app?.close();
  await redis?.stop();
  pg?.stop();
});

/** A handshake's outcome: "connected", or the refusal's data. */
function handshake(token: string): Promise<"connected" | Partial<HubErrorData>> {
  const socket = ioClient(app.server.baseUrl, { path: "/socket.io", transports: ["websocket"], auth: { token }, reconnection: false, forceNew: true });
  return new Promise((resolve) => {
    socket.once("connect", () => {
      socket.disconnect();
      resolve("connected");
    });
    socket.once("connect_error", (err: Error & { data?: Partial<HubErrorData> }) => {
      socket.disconnect();
      resolve(err.data ?? { code: undefined });
    });
  });
}

describe("fault: socket handshakes during an outage", () => {
  it("with Redis down the handshake answers SERVICE_UNAVAILABLE with retryAfterSeconds, and connects once it is back", async () => {
    await redis.kill();
    try {
      expect(await handshake(m.provider.token)).toEqual({ code: "SERVICE_UNAVAILABLE", retryAfterSeconds: 1 });
      // A session that does not exist is still refused for good: PostgreSQL can say so.
      expect(await handshake("a".repeat(26) + "." + "b".repeat(52))).toEqual({ code: "UNAUTHORIZED" });
    } finally {
      await redis.restart();
    }
    await eventually(async () => (await handshake(m.provider.token)) === "connected", "a handshake succeeds again", 15_000);
  });

  it("with PostgreSQL down connected sockets stay through failed session checks, and new handshakes answer SERVICE_UNAVAILABLE", async () => {
    const device = await connectDevice(app.server.baseUrl, { token: m.provider.token });
    let disconnected = false;
    device.socket.on("disconnect", () => (disconnected = true));
    pg.stopImmediately();
    try {
      const before = sweepFailures;
      await eventually(() => sweepFailures >= before + 3, "three session checks failed", 30_000);
      expect(disconnected).toBe(false);
      expect(device.socket.connected).toBe(true);
      expect(await handshake(m.provider.token)).toEqual({ code: "SERVICE_UNAVAILABLE", retryAfterSeconds: 1 });
    } finally {
      pg.restart();
    }
    await eventually(async () => (await handshake(m.provider.token)) === "connected", "a handshake succeeds again", 30_000);
    expect(disconnected).toBe(false);
    device.close();
  });
});
