import type { Redis } from "ioredis";
import { appendEntry, withAppender, type Appender, type ControlEvent, type StreamSettings } from "./doorbell";
import type { NotificationRecord } from "./service";

// Where tests outside the hub's still look for it; the format itself lives in ./doorbell.
export { streamKey } from "./doorbell";

/**
 * Appends notifications to their recipients' streams in one pipeline (approximate trimming, an
 * expiry: the "temporary storage"), ringing the bells of the hubs that hold their devices.
 * Returns the ids whose append succeeded.
 */
export async function appendNotifications(redis: Redis, records: NotificationRecord[], settings: StreamSettings): Promise<string[]> {
  if (records.length === 0) return [];
  const pipeline = withAppender(redis).pipeline() as unknown as Appender & { exec(): Promise<Array<[Error | null, unknown]> | null> };
  for (const n of records) void appendEntry(pipeline, n.userId, { kind: "notification", notification: n }, settings);
  const results = (await pipeline.exec()) ?? [];
  return records.filter((_, i) => results[i] && !results[i][0]).map((n) => n.id);
}

/** Tells every device of the user, on every hub process, that some notifications were read. */
export async function appendControl(redis: Redis, userId: string, event: ControlEvent, settings: StreamSettings) {
  await appendEntry(withAppender(redis), userId, event, settings);
}

/**
 * Tells every hub process holding a device of the user about a read or a revocation. Best effort:
 * a missed read event is corrected when the device next reads its count, and a missed revocation by
 * the hub's periodic session check.
 */
export async function announce(
  deps: { redis: Redis; config: { stream: StreamSettings }; log: { warn(obj: object, msg: string): void } },
  userId: string,
  event: ControlEvent,
): Promise<void> {
  await appendControl(deps.redis, userId, event, deps.config.stream).catch((err: unknown) =>
    deps.log.warn({ err: (err as Error).message, kind: event.kind }, "could not announce to the user's devices"),
  );
}
