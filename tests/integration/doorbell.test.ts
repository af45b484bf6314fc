import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { BELL_MARKER, bellKey, bellsKey, parseEntry, parseRing, streamKey, userIdOfStreamKey, type ControlEvent, type StreamEvent } from "../../server/notifications/doorbell";
import type { NotificationRecord } from "../../server/notifications/service";
import { appendControl, appendNotifications } from "../../server/notifications/stream";

const settings = { maxLen: 1000, ttlSeconds: 60 };
let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject("redisUrl"));
});
afterAll(() => {
  redis.disconnect();
});

function notification(userId: string, seq: number, jobDescription: string): NotificationRecord {
  const tenantId = randomUUID();
  return {
    id: randomUUID(),
    userId,
    seq,
    type: "hire.requested",
    tenant: { id: tenantId, slug: "a-b", name: "Tenant \"u\" e p" },
    createdAt: new Date(Date.UTC(2026, 0, seq)).toISOString(),
    readAt: null,
    payload: {
      hireId: randomUUID(), tenantId, userId, clientId: randomUUID(), fullName: "Zoë O'Brien", phoneNumber: null,
      location: "Via Roma 1\n20100 Milano", time: new Date(Date.UTC(2026, 1, 1)).toISOString(), endsAt: null, jobDescription,
    },
  };
}

/** A user with `bells` hub readers holding a device: each bell exists (as a reader makes it) and is listed. */
async function userWithBells(bells: number) {
  const userId = randomUUID();
  const hub = randomUUID();
  const names = Array.from({ length: bells }, (_, n) => bellKey(hub, n));
  for (const bell of names) {
    await redis.xadd(bell, "*", ...BELL_MARKER);
    await redis.sadd(bellsKey(streamKey(userId)), bell);
  }
  return { userId, bells: names };
}

describe("the doorbell's wire format, through the real script", () => {
  it("a stream key names its user, and back", () => {
    const userId = randomUUID();
    expect(userIdOfStreamKey(streamKey(userId))).toBe(userId);
    expect(userIdOfStreamKey(bellKey(randomUUID(), 0))).toBeNull();
    expect(userIdOfStreamKey(streamKey(""))).toBeNull();
  });

  it("every ring carries its entry, its id and the id before it, and both decode to what was written", async () => {
    const { userId, bells } = await userWithBells(2);
    // Values that look like the format itself: header names, stream ids, JSON, separators, a newline.
    const written: StreamEvent[] = [
      { kind: "notification", notification: notification(userId, 1, "u") },
      { kind: "notification", notification: notification(userId, 2, "e p 0-0 \"kind\": \"read\"") },
      { kind: "notification", notification: notification(userId, 3, "") },
    ];
    const records = written.map((e) => (e as Extract<StreamEvent, { kind: "notification" }>).notification);
    expect(await appendNotifications({ redis, records, stream: settings })).toEqual(records.map((n) => n.id));
    const control: ControlEvent[] = [
      { kind: "read", ids: [records[0]!.id, records[2]!.id] },
      { kind: "read", ids: "all" },
      { kind: "revoked", sessionIds: ["abc", "d-e"] },
      { kind: "revoked", sessionIds: "all" },
    ];
    for (const event of control) await appendControl({ redis, stream: settings, userId, event });

    const stream = await redis.xrange(streamKey(userId), "-", "+");
    expect(stream.map(([, fields]) => parseEntry(userId, fields))).toEqual([...written, ...control]);
    expect(await redis.ttl(streamKey(userId))).toBeGreaterThan(0);
    for (const bell of bells) {
      const [marker, ...rings] = await redis.xrange(bell, "-", "+");
      expect(parseRing(marker![1])).toBeNull();
      expect(rings.map(([, fields]) => parseRing(fields))).toEqual(
        stream.map(([id, fields], i) => ({ userId, id, previous: i === 0 ? "0-0" : stream[i - 1]![0], entry: fields })),
      );
    }
  });

  it("with no bell listed the entry is written and nothing is rung; a bell gone is dropped, not recreated", async () => {
    const quiet = await userWithBells(0);
    await appendControl({ redis, stream: settings, userId: quiet.userId, event: { kind: "read", ids: "all" } });
    expect((await redis.xrange(streamKey(quiet.userId), "-", "+")).map(([, f]) => parseEntry(quiet.userId, f))).toEqual([{ kind: "read", ids: "all" }]);

    const { userId, bells } = await userWithBells(2);
    await redis.del(bells[0]!);
    await appendNotifications({ redis, records: [notification(userId, 1, "x")], stream: settings });
    expect(await redis.exists(bells[0]!)).toBe(0);
    expect(await redis.smembers(bellsKey(streamKey(userId)))).toEqual([bells[1]]);
    const [, ring] = await redis.xrange(bells[1]!, "-", "+");
    expect(parseRing(ring![1])).toMatchObject({ userId, previous: "0-0" });
  });

  it("a ring from an older server (the user alone) says which stream to read and carries nothing", () => {
    const userId = randomUUID();
    expect(parseRing(["u", userId])).toEqual({ userId, id: undefined, previous: undefined, entry: [] });
    expect(parseRing(["x", userId])).toBeNull();
  });
});
