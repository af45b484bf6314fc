import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../server/logger";
import { connectRedis, RedisUnavailableError } from "../../server/redis";
import { eventually } from "../helpers/sockets";

describe("Redis at start-up", () => {
  it("starts a private redis-server for the process when the default address does not answer, and stops it on close", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "aiutami-redis-"));
    try {
      const handle = await connectRedis({ url: "redis://127.0.0.1:1", explicit: false, dataDir, log: createLogger("silent") });
      expect(handle.url).not.toBe("redis://127.0.0.1:1");
      expect(await handle.redis.ping()).toBe("PONG");
      await handle.close();
      const refused = async () => {
        const probe = new Redis(handle.url, { lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false });
        probe.on("error", () => {});
        try {
          await probe.connect();
          return false;
        } catch {
          return true;
        } finally {
          probe.disconnect();
        }
      };
      // The process may take a moment to exit after the close: its port then refuses connections.
      await eventually(refused, "the private redis-server stopped");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("does not replace an explicit REDIS_URL that does not answer", async () => {
    await expect(
      connectRedis({ url: "redis://127.0.0.1:1", explicit: true, dataDir: tmpdir(), log: createLogger("silent") }),
    ).rejects.toBeInstanceOf(RedisUnavailableError);
  });
});
