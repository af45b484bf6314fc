import type { Redis } from "ioredis";
import type { NotificationRecord } from "./service";

/**
 * The wire format between the writers of a user's stream and the hub's readers (decision 008), encoded
 * and decoded here only: the key names, a stream entry's fields, and a doorbell's ring, with the Lua that
 * writes them beside the TypeScript that reads them.
 */

const STREAM_PREFIX = "user-";

/** The recipient's stream, as in the original system: `user-<id>`. */
export const streamKey = (userId: string) => `${STREAM_PREFIX}${userId}`;

/** The user whose stream `key` is (the inverse of `streamKey`); null for a key that names no user's stream. */
export function userIdOfStreamKey(key: string): string | null {
  return key.startsWith(STREAM_PREFIX) && key.length > STREAM_PREFIX.length ? key.slice(STREAM_PREFIX.length) : null;
}

/** The set of hub doorbells (one per hub reader) that hold a device of the stream's user. */
export const bellsKey = (stream: string) => `${stream}:bells`;

/** The doorbell of reader `n` of hub process `hubId`. */
export const bellKey = (hubId: string, n: number) => `hub-bell:${hubId}:${n}`;

/** Bells keep their recent entries only: a reader that falls further behind is caught by its sweep. */
export const BELL_MAXLEN = 10_000;

/** What a stream entry carries: a notification, or a control message for the user's open devices. */
export type StreamEvent =
  | { kind: "notification"; notification: NotificationRecord }
  | { kind: "read"; ids: string[] | "all" }
  | { kind: "revoked"; sessionIds: string[] | "all" };

export type ControlEvent = Exclude<StreamEvent, { kind: "notification" }>;

/** An entry's flat field list (name, value, name, value...). The recipient is the stream's, not a field. */
export function encodeEntry(event: StreamEvent): string[] {
  if (event.kind !== "notification") {
    const ids = event.kind === "read" ? event.ids : event.sessionIds;
    return ["kind", event.kind, "ids", ids === "all" ? "all" : JSON.stringify(ids)];
  }
  const n = event.notification;
  return [
    "kind", "notification", "id", n.id, "seq", String(n.seq), "type", n.type,
    "tenant", JSON.stringify(n.tenant), "createdAt", n.createdAt, "payload", JSON.stringify(n.payload),
  ];
}

/** Parses one entry's flat field list (`encodeEntry`'s); unknown or damaged entries come back as null. */
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

/**
 * A ring's header, in this order; the rung entry's own fields follow it. `lua` is the expression that
 * holds the value in APPEND_AND_RING. Older servers wrote `userId` alone, so a reader accepts that too.
 */
const RING_HEADER = {
  userId: { field: "u", lua: "ARGV[3]" },
  /** The rung entry's id. */
  id: { field: "e", lua: "id" },
  /** The id of the entry before it in the stream, 0-0 for the stream's first. */
  previous: { field: "p", lua: "previous" },
} as const;
type RingHeader = keyof typeof RING_HEADER;
const RING_ORDER = Object.keys(RING_HEADER) as RingHeader[];

/** What a reader writes to its bell to (re)create it: a ring that names no user. */
export const BELL_MARKER: string[] = [RING_HEADER.userId.field, ""];

/**
 * Appends one entry to a user's stream and rings the doorbell of every hub reader holding a device
 * of that user, atomically: a reader registered before the append is always rung. A ring carries
 * the entry itself after its header (RING_HEADER): a reader whose last id for the stream is the
 * previous one takes the entry from the ring and need not read the stream. A bell that no longer
 * exists (its hub stopped and it expired) is not recreated, and is dropped from the set.
 */
const APPEND_AND_RING = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[2])
local bells = redis.call('SMEMBERS', KEYS[2])
if #bells == 0 then return id end
local before = redis.call('XREVRANGE', KEYS[1], '(' .. id, '-', 'COUNT', 1)
local previous = before[1] and before[1][1] or '0-0'
for _, bell in ipairs(bells) do
  if not redis.call('XADD', bell, 'NOMKSTREAM', 'MAXLEN', '~', ${BELL_MAXLEN}, '*', ${RING_ORDER.map((h) => `'${RING_HEADER[h].field}', ${RING_HEADER[h].lua}`).join(", ")}, unpack(ARGV, 4)) then
    redis.call('SREM', KEYS[2], bell)
  end
end
return id`;

/** A ring as a reader takes it: `id` and `previous` are missing from an older server's, `entry` then empty. */
export type Ring = { userId: string; id: string | undefined; previous: string | undefined; entry: string[] };

/** Decodes a ring's fields; null for a bell's marker (or anything that names no user). */
export function parseRing(fields: string[]): Ring | null {
  const header: Partial<Record<RingHeader, string>> = {};
  RING_ORDER.forEach((name, i) => {
    if (fields[2 * i] === RING_HEADER[name].field) header[name] = fields[2 * i + 1];
  });
  const { userId, id, previous } = header;
  if (!userId) return null;
  const whole = id !== undefined && previous !== undefined;
  return { userId, id, previous, entry: whole ? fields.slice(2 * RING_ORDER.length) : [] };
}

export type StreamSettings = { maxLen: number; ttlSeconds: number };

export type Appender = { appendAndRing(stream: string, bells: string, maxLen: number, ttlSeconds: number, userId: string, ...fields: string[]): Promise<string> };

/** The connection (or pipeline) with the append-and-ring script defined; EVALSHA, loaded on first use. */
export function withAppender<T extends Redis>(redis: T): T & Appender {
  if (!("appendAndRing" in redis)) redis.defineCommand("appendAndRing", { numberOfKeys: 2, lua: APPEND_AND_RING });
  return redis as T & Appender;
}

/** Appends `event` to the user's stream and rings their bells; resolves to the entry's id. */
export function appendEntry(target: Appender, userId: string, event: StreamEvent, settings: StreamSettings): Promise<string> {
  const key = streamKey(userId);
  return target.appendAndRing(key, bellsKey(key), settings.maxLen, settings.ttlSeconds, userId, ...encodeEntry(event));
}
