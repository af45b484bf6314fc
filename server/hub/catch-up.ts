import type { Redis } from "ioredis";
import type { Database } from "../../db/client";
import { parseEntry, streamKey } from "../notifications/doorbell";
import { withUserScope } from "../db-scope";
import { latestSeq, notificationsAfter, type NotificationRecord } from "../notifications/service";
import type { DeliveryChannel } from "./delivery";

const CATCH_UP_PAGE = 500;
/** Stream entries per XREVRANGE, and the most pages looked at before PostgreSQL is asked instead. */
const STREAM_PAGE = 200;
const STREAM_PAGES = 10;

/** The user's notifications with `afterSeq < seq <= uptoSeq`, from PostgreSQL, in pages. */
export function fetchRange(db: Database, userId: string) {
  return async (afterSeq: number, uptoSeq: number): Promise<NotificationRecord[]> => {
    const out: NotificationRecord[] = [];
    for (let from = afterSeq; from < uptoSeq; ) {
      const page = await withUserScope(db, userId, (tx) => notificationsAfter({ db: tx, userId, afterSeq: from, uptoSeq, limit: CATCH_UP_PAGE }));
      out.push(...page);
      if (page.length < CATCH_UP_PAGE) break;
      from = page.at(-1)!.seq;
    }
    return out;
  };
}

/**
 * Catch-up after the channel's `lastSeq`, from the stream when it still holds everything since then,
 * else (trimmed, expired, lost, or a hole) from PostgreSQL.
 */
export async function catchUp(deps: { db: Database; redis: Redis }, userId: string, channel: DeliveryChannel): Promise<void> {
  const after = channel.lastSeq;
  const collected: NotificationRecord[] = [];
  let reachedKnown = false;
  let end = "+";
  for (let pages = 0; pages < STREAM_PAGES && !reachedKnown; pages++) {
    const entries = (await deps.redis.xrevrange(streamKey(userId), end, "-", "COUNT", STREAM_PAGE)) as Array<[string, string[]]>;
    for (const [, fields] of entries) {
      const event = parseEntry(userId, fields);
      if (event?.kind !== "notification") continue;
      if (event.notification.seq <= after) reachedKnown = true;
      else collected.push(event.notification);
    }
    if (entries.length < STREAM_PAGE) break;
    end = `(${entries.at(-1)![0]}`;
  }
  collected.sort((a, b) => a.seq - b.seq);
  const contiguous = reachedKnown && collected.every((n, i) => n.seq === after + i + 1);
  if (contiguous) {
    for (const n of collected) await channel.deliver(n);
  } else {
    const top = Math.max(await latestSeq({ db: deps.db, userId }), collected.at(-1)?.seq ?? 0);
    for (const n of await fetchRange(deps.db, userId)(after, top)) await channel.deliver(n);
  }
}
