import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import type { Logger } from "./logger";

export type { Redis };

export class RedisUnavailableError extends Error {}

export type RedisHandle = {
  redis: Redis;
  url: string;
  /** Opens another connection to the same server (blocking readers need their own). */
  duplicate(): Redis;
  close(): Promise<void>;
};

async function answers(url: string, timeoutMs = 1500): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

function hasRedisServerBinary(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

async function startPrivateRedis(dataDir: string, log: Logger): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const dir = resolve(dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await answers(url, 200)) {
      log.warn({ url }, "no Redis answered at the default address: started a private redis-server for this process");
      return { url, child };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new RedisUnavailableError("A private redis-server was started but did not answer within 5 s.");
}

/**
 * Connects to Redis. With the default address and no server there, starts a private
 * `redis-server` for the life of the process when the binary is installed; an explicit
 * REDIS_URL that does not answer is an error (silently replacing it would split replicas).
 */
export async function connectRedis(opts: {
  url: string;
  explicit: boolean;
  dataDir: string;
  log: Logger;
  /** CLIENT SETNAME prefix, so CLIENT LIST shows which process holds which connection. */
  name?: string;
}): Promise<RedisHandle> {
  let url = opts.url;
  let child: ChildProcess | undefined;
  if (!(await answers(url))) {
    if (opts.explicit || !hasRedisServerBinary()) {
      throw new RedisUnavailableError(
        `Redis does not answer at ${url}${opts.explicit ? " (REDIS_URL)" : ""}: start one (e.g. \`redis-server --port ${new URL(url).port || 6379}\` or \`docker compose up -d redis\`) or set REDIS_URL.`,
      );
    }
    ({ url, child } = await startPrivateRedis(opts.dataDir, opts.log));
  }
  const name = opts.name ?? `aiutami-${process.pid}`;
  let made = 0;
  const make = () => {
    const client = new Redis(url, {
      maxRetriesPerRequest: 2,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      connectionName: made++ === 0 ? `${name}-main` : `${name}-reader`,
      // Reconnect quickly, but not in a tight loop while Redis is away.
      retryStrategy: (times) => Math.min(1000, 50 * times),
    });
    client.on("error", (err) => opts.log.warn({ err: err.message }, "redis connection error"));
    return client;
  };
  const redis = make();
  await new Promise<void>((ok, fail) => {
    redis.once("ready", ok);
    redis.once("end", () => fail(new RedisUnavailableError(`Redis at ${url} closed the connection`)));
  });
  return {
    redis,
    url,
    duplicate: make,
    close: async () => {
      redis.disconnect();
      child?.kill("SIGTERM");
    },
  };
}
