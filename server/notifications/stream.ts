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

/**
 * Appends notifications to their recipients' streams in one pipeline: XADD with approximate
 * trimming, then EXPIRE (the "temporary storage"). Returns the ids whose append succeeded.
 */
export async function appendNotifications(redis: Redis, records: NotificationRecord[], settings: StreamSettings): Promise<string[]> {
  if (records.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const n of records) {
    const key = streamKey(n.userId);
    pipeline.xadd(
      key, "MAXLEN", "~", String(settings.maxLen), "*",
      "kind", "notification", "id", n.id, "seq", String(n.seq), "type", n.type,
      "tenant", JSON.stringify(n.tenant), "createdAt", n.createdAt, "payload", JSON.stringify(n.payload),
    );
    pipeline.expire(key, settings.ttlSeconds);
  }
  const results = (await pipeline.exec()) ?? [];
  return records.filter((_, i) => !results[i * 2]?.[0]).map((n) => n.id);
}

/** Tells every device of the user, on every hub process, that some notifications were read. */
export async function appendControl(redis: Redis, userId: string, event: Exclude<StreamEvent, { kind: "notification" }>, settings: StreamSettings) {
  const key = streamKey(userId);
  const value = event.kind === "read" ? event.ids : event.sessionIds;
  await redis
    .multi()
    .xadd(key, "MAXLEN", "~", String(settings.maxLen), "*", "kind", event.kind, "ids", value === "all" ? "all" : JSON.stringify(value))
    .expire(key, settings.ttlSeconds)
    .exec();
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

/**
 * Tells every hub process holding a device of the user about a read or a revocation. Best effort:
 * a missed read event is corrected when the device next reads its count, and a missed revocation by
 * the hub's periodic session check.
 */
export async function announce(
  deps: { redis: Redis; config: { stream: StreamSettings }; log: { warn(obj: object, msg: string): void } },
  userId: string,
  event: Exclude<StreamEvent, { kind: "notification" }>,
): Promise<void> {
  await appendControl(deps.redis, userId, event, deps.config.stream).catch((err: unknown) =>
    deps.log.warn({ err: (err as Error).message, kind: event.kind }, "could not announce to the user's devices"),
  );
}
