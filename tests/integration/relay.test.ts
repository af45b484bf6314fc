import { Redis } from "ioredis";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLogger } from "../../server/logger";
import { NotificationRelay } from "../../server/notifications/relay";
import { streamKey } from "../../server/notifications/doorbell";
import { createMarketplace, hireInput } from "../helpers/hiring";
import { callerAs, createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";

let env: TestEnv;
let owner: postgres.Sql;
let redis: Redis;
beforeAll(async () => {
  env = await createTestEnv();
  owner = openOwnerSql();
  redis = new Redis(inject("redisUrl"));
});
afterAll(async () => {
  redis.disconnect();
  await owner.end();
  await env.close();
});

/** Commits hires whose notifications are not appended (as if the process died right after the commit). */
async function hiresWithoutAppend(count: number) {
  const m = await createMarketplace(env);
  const publish = env.deps.relay.publish;
  env.deps.relay.publish = async () => {};
  try {
    for (let i = 0; i < count; i++) await callerAs(env, m.client.auth, { tenant: m.tenant.slug }).hires.create(hireInput(m.provider.id, i));
  } finally {
    env.deps.relay.publish = publish;
  }
  // Past the relay's grace period for rows whose fast path may still be under way.
  await owner`update notifications set created_at = now() - interval '1 minute' where user_id = ${m.provider.id}`;
  return m;
}

const streamed = async (userId: string) =>
  (await redis.xrange(streamKey(userId), "-", "+")).map(([, fields]) => fields[fields.indexOf("seq") + 1]);

describe("the outbox relay", () => {
  it("appends what was committed but never appended; two relays at once append each notification once", async () => {
    const m = await hiresWithoutAppend(30);
    expect(await streamed(m.provider.id)).toEqual([]);
    const log = createLogger("silent");
    const relays = [0, 1].map(() => new NotificationRelay({ db: env.deps.db, redis: env.deps.redis, log, stream: env.config.stream }, { intervalMs: 50, batchSize: 7, graceMs: 2000 }));
    let total = 0;
    for (let pass = 0; pass < 10; pass++) total += (await Promise.all(relays.map((r) => r.relayOnce()))).reduce((a, b) => a + b, 0);
    // The file's database is its own (tests/helpers/file-database.ts): these 30 are all there is to take.
    expect(total).toBe(30);
    const seqs = await streamed(m.provider.id);
    expect([...seqs].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const [{ n }] = (await owner`select count(*)::int as n from notifications where user_id = ${m.provider.id} and streamed_at is null`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  });

  it("backs off while Redis is unreachable, loses nothing, and appends once it is back", async () => {
    const m = await hiresWithoutAppend(3);
    const dead = new Redis("redis://127.0.0.1:1", { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    dead.on("error", () => {});
    const log = createLogger("silent");
    const broken = new NotificationRelay({ db: env.deps.db, redis: dead, log, stream: env.config.stream });
    expect(await broken.relayOnce()).toBe(0);
    const rows = await owner`select stream_attempts, next_attempt_at > now() as later from notifications where user_id = ${m.provider.id}`;
    expect(rows.every((r) => r.stream_attempts === 1 && r.later === true)).toBe(true);
    // Due again at once, as after the backoff: the healthy relay appends them.
    await owner`update notifications set next_attempt_at = now() where user_id = ${m.provider.id}`;
    const healthy = new NotificationRelay({ db: env.deps.db, redis: env.deps.redis, log, stream: env.config.stream });
    expect(await healthy.relayOnce()).toBe(3);
    expect(await streamed(m.provider.id)).toEqual(["1", "2", "3"]);
    dead.disconnect();
  });
});
