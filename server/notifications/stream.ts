import type { Redis } from "ioredis";
import { appendEntry, withAppender, type Appender, type ControlEvent, type StreamSettings } from "./doorbell";
import type { NotificationRecord } from "./service";

/**
 * Appends notifications to their recipients' streams in one pipeline (approximate trimming, an
 * expiry: the "temporary storage"), ringing the bells of the hubs that hold their devices.
 * Returns the ids whose append succeeded.
 */
export type AppendNotificationsOptions = { redis: Redis; records: NotificationRecord[]; stream: StreamSettings };

export async function appendNotifications({ redis, records, stream }: AppendNotificationsOptions): Promise<string[]> {
  if (records.length === 0) return [];
  const pipeline = withAppender(redis).pipeline() as unknown as Appender & { exec(): Promise<Array<[Error | null, unknown]> | null> };
  for (const n of records) void appendEntry(pipeline, n.userId, { kind: "notification", notification: n }, stream);
  const results = (await pipeline.exec()) ?? [];
  return records.filter((_, i) => results[i] && !results[i][0]).map((n) => n.id);
}

export type AppendControlOptions = { redis: Redis; stream: StreamSettings; userId: string; event: ControlEvent };

/** Tells every device of the user, on every hub process, that some notifications were read or sessions revoked. */
export async function appendControl({ redis, stream, userId, event }: AppendControlOptions) {
  await appendEntry(withAppender(redis), userId, event, stream);
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
