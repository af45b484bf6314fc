import type { Redis } from "ioredis";
import type { NotificationRecord } from "./service";

/** The recipient's stream, as in the original system: `user-<id>`. */
export const streamKey = (userId: string) => `user-${userId}`;

export type StreamSettings = { maxLen: number; ttlSeconds: number };

/** What a stream entry carries: a notification, or a control message for the user's open devices. */
export type StreamEvent =
  | { kind: "notification"; notification: NotificationRecord }
  | { kind: "read"; ids: string[] | "all" }
  | { kind: "revoked"; sessionIds: string[] | "all" };

/** The set of hub doorbells (one per hub reader) that hold a device of the stream's user. */
export const bellsKey = (stream: string) => `${stream}:bells`;

/** Bells keep their recent entries only: a reader that falls further behind is caught by its sweep. */
export const BELL_MAXLEN = 10_000;

/**
 * Appends one entry to a user's stream and rings the doorbell of every hub reader holding a device
 * of that user, atomically: a reader registered before the append is always rung. A ring carries
 * the entry itself, with its id and the id of the entry before it, 0-0 for a stream's first (`u <user>
 * e <id> p <previous> <fields...>`): a reader whose last id for the stream is that previous one takes the entry from the
 * ring and need not read the stream. A bell that no longer exists (its hub stopped and it expired)
 * is not recreated, and is dropped from the set.
 */
const APPEND_AND_RING = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[2])
local bells = redis.call('SMEMBERS', KEYS[2])
if #bells == 0 then return id end
local before = redis.call('XREVRANGE', KEYS[1], '(' .. id, '-', 'COUNT', 1)
local previous = before[1] and before[1][1] or '0-0'
for _, bell in ipairs(bells) do
  if not redis.call('XADD', bell, 'NOMKSTREAM', 'MAXLEN', '~', ${BELL_MAXLEN}, '*', 'u', ARGV[3], 'e', id, 'p', previous, unpack(ARGV, 4)) then
    redis.call('SREM', KEYS[2], bell)
  end
end
return id`;

type Appender = { appendAndRing(stream: string, bells: string, maxLen: number, ttlSeconds: number, userId: string, ...fields: string[]): Promise<string> };

/** The connection (or pipeline) with the append-and-ring script defined; EVALSHA, loaded on first use. */
function withAppender<T extends Redis>(redis: T): T & Appender {
  if (!("appendAndRing" in redis)) redis.defineCommand("appendAndRing", { numberOfKeys: 2, lua: APPEND_AND_RING });
  return redis as T & Appender;
}

function append(target: Appender, userId: string, fields: string[], settings: StreamSettings) {
  const key = streamKey(userId);
  return target.appendAndRing(key, bellsKey(key), settings.maxLen, settings.ttlSeconds, userId, ...fields);
}

/**
 * Appends notifications to their recipients' streams in one pipeline (approximate trimming, an
 * expiry: the "temporary storage"), ringing the bells of the hubs that hold their devices.
 * Returns the ids whose append succeeded.
 */
export type AppendNotificationsOptions = { redis: Redis; records: NotificationRecord[]; stream: StreamSettings };

export async function appendNotifications({ redis, records, stream }: AppendNotificationsOptions): Promise<string[]> {
  if (records.length === 0) return [];
  const pipeline = withAppender(redis).pipeline() as unknown as Appender & { exec(): Promise<Array<[Error | null, unknown]> | null> };
  for (const n of records) {
    append(pipeline, n.userId, [
      "kind", "notification", "id", n.id, "seq", String(n.seq), "type", n.type,
      "tenant", JSON.stringify(n.tenant), "createdAt", n.createdAt, "payload", JSON.stringify(n.payload),
    ], stream);
  }
  const results = (await pipeline.exec()) ?? [];
  return records.filter((_, i) => results[i] && !results[i][0]).map((n) => n.id);
}

/** A stream entry for the user's open devices that is not a notification: a read, or a revocation. */
export type ControlEvent = Exclude<StreamEvent, { kind: "notification" }>;

export type AppendControlOptions = { redis: Redis; stream: StreamSettings; userId: string; event: ControlEvent };

/** Tells every device of the user, on every hub process, that some notifications were read or sessions revoked. */
export async function appendControl({ redis, stream, userId, event }: AppendControlOptions) {
  const value = event.kind === "read" ? event.ids : event.sessionIds;
  await append(withAppender(redis), userId, ["kind", event.kind, "ids", value === "all" ? "all" : JSON.stringify(value)], stream);
}

/** Parses one entry's flat field list; unknown or damaged entries come back as null. */
export function parseEntry(userId: string, fields: string[]): StreamEvent | null {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  try {
    if (f.kind === "notification" && f.id && f.seq && f.type) {
      return {
        kind: "notification",
        notification: {
          id: f.id,
          userId,
          seq: Number(f.seq),
          type: f.type,
          tenant: JSON.parse(f.tenant ?? "{}"),
          payload: JSON.parse(f.payload ?? "{}"),
          createdAt: f.createdAt ?? new Date(0).toISOString(),
          readAt: null,
        } as NotificationRecord,
      };
    }
    if (f.kind === "read") return { kind: "read", ids: f.ids === "all" ? "all" : (JSON.parse(f.ids ?? "[]") as string[]) };
    if (f.kind === "revoked") return { kind: "revoked", sessionIds: f.ids === "all" ? "all" : (JSON.parse(f.ids ?? "[]") as string[]) };
  } catch {
    return null;
  }
  return null;
}

export type AnnounceOptions = AppendControlOptions & { log: { warn(obj: object, msg: string): void } };

/**
 * Tells every hub process holding a device of the user about a read or a revocation. Best effort:
 * a missed read event is corrected when the device next reads its count, and a missed revocation by
 * the hub's periodic session check.
 */
export async function announce({ log, ...control }: AnnounceOptions): Promise<void> {
  await appendControl(control).catch((err: unknown) =>
    log.warn({ err: (err as Error).message, kind: control.event.kind }, "could not announce to the user's devices"),
  );
}
