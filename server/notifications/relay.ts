import { and, inArray, isNull, sql } from "drizzle-orm";
import type { Redis } from "ioredis";
import type { Database } from "../../db/client";
import { notifications } from "../../db/schema";
import { withRelayScope } from "../db-scope";
import type { Logger } from "../logger";
import { notificationColumns, toNotification, type NotificationRecord } from "./service";
import type { StreamSettings } from "./doorbell";
import { appendNotifications } from "./stream";

/** Retry delay after `attempts` failed appends: 250 ms doubling to 30 s, with jitter. */
export function backoffMs(attempts: number): number {
  const base = Math.min(30_000, 250 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * Moves committed notifications from PostgreSQL into their recipients' Redis streams.
 *
 * Fast path: `publish()` right after the commit appends at once and records the success in a
 * batched update. Safety net: a loop picks every notification not yet streamed (older than a
 * moment, or already failed once) with FOR UPDATE SKIP LOCKED, so several processes relay at once
 * without taking the same rows, and retries with backoff. A Redis outage delays delivery and loses
 * nothing. An append repeated after a crash is dropped by the hub, which tracks `seq`.
 */
export class NotificationRelay {
  private readonly marks = new Set<string>();
  private readonly pending: Array<{ records: NotificationRecord[]; resolve(): void }> = [];
  private readonly appending = new Set<Promise<void>>();
  private markTimer: NodeJS.Timeout | undefined;
  private loopTimer: NodeJS.Timeout | undefined;
  private running = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: { db: Database; redis: Redis; log: Logger; stream: StreamSettings },
    private readonly opts: { intervalMs: number; batchSize: number; graceMs: number } = { intervalMs: 500, batchSize: 500, graceMs: 2000 },
  ) {}

  /**
   * After a commit: append now; what fails is left for the loop with its first backoff. Publishes made
   * in the same turn of the event loop (the hires of one group commit) go to Redis in one pipeline.
   * Never rejects: an append that fails is the loop's to retry.
   */
  publish(records: NotificationRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.pending.push({ records, resolve });
      if (this.pending.length === 1) process.nextTick(() => this.startAppend());
    });
  }

  private startAppend(): void {
    const appending = this.appendPending();
    this.appending.add(appending);
    void appending.finally(() => this.appending.delete(appending));
  }

  private async appendPending(): Promise<void> {
    const waiting = this.pending.splice(0);
    if (waiting.length === 0) return; // taken already by stop()
    const records = waiting.flatMap((w) => w.records);
    try {
      let ok: string[] = [];
      try {
        ok = await appendNotifications({ redis: this.deps.redis, records, stream: this.deps.stream });
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, "stream append failed; the relay will retry");
      }
      for (const id of ok) this.marks.add(id);
      this.markTimer ??= setTimeout(() => void this.flushMarks(), 20);
      const appended = new Set(ok);
      const failed = records.filter((r) => !appended.has(r.id)).map((r) => r.id);
      if (failed.length) {
        await withRelayScope(this.deps.db, (tx) =>
          tx
            .update(notifications)
            .set({ streamAttempts: sql`${notifications.streamAttempts} + 1`, nextAttemptAt: new Date(Date.now() + backoffMs(1)) })
            .where(and(inArray(notifications.id, failed), isNull(notifications.streamedAt))),
        ).catch((err: unknown) => this.deps.log.error({ err }, "could not record a failed append"));
      }
    } finally {
      for (const w of waiting) w.resolve();
    }
  }

  /** Records appended notifications as streamed, many per statement. */
  async flushMarks(): Promise<void> {
    this.markTimer = undefined;
    const ids = [...this.marks];
    this.marks.clear();
    if (ids.length === 0) return;
    try {
      // One statement (db function app_mark_streamed), no explicit transaction. Ids are UUIDs, so the
      // array literal needs no escaping.
      await this.deps.db.execute(sql`select app_mark_streamed(${`{${ids.join(",")}}`}::uuid[])`);
    } catch (err) {
      // Unrecorded appends are appended again by the loop; the hub drops the repeats.
      this.deps.log.warn({ err: (err as Error).message, count: ids.length }, "could not record streamed notifications");
    }
  }

  /** One pass of the safety net. Returns how many notifications it appended. */
  async relayOnce(): Promise<number> {
    return withRelayScope(this.deps.db, async (tx) => {
      const rows = await tx
        .select({ ...notificationColumns, attempts: notifications.streamAttempts })
        .from(notifications)
        .where(
          sql`${notifications.streamedAt} is null and ${notifications.nextAttemptAt} <= now()
              and (${notifications.streamAttempts} > 0 or ${notifications.createdAt} < now() - make_interval(secs => ${this.opts.graceMs / 1000}))`,
        )
        .orderBy(notifications.userId, notifications.seq)
        .limit(this.opts.batchSize)
        .for("update", { skipLocked: true });
      if (rows.length === 0) return 0;
      let ok: string[] = [];
      try {
        ok = await appendNotifications({ redis: this.deps.redis, records: rows.map(toNotification), stream: this.deps.stream });
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message, pending: rows.length }, "relay: Redis append failed; backing off");
      }
      if (ok.length) await tx.update(notifications).set({ streamedAt: new Date() }).where(inArray(notifications.id, ok));
      for (const row of rows.filter((r) => !ok.includes(r.id))) {
        await tx
          .update(notifications)
          .set({ streamAttempts: row.attempts + 1, nextAttemptAt: new Date(Date.now() + backoffMs(row.attempts + 1)) })
          .where(sql`${notifications.id} = ${row.id}`);
      }
      return ok.length;
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = () => {
      this.busy = this.relayOnce()
        .then((n) => (n === this.opts.batchSize ? 0 : this.opts.intervalMs))
        .catch((err: unknown) => {
          this.deps.log.warn({ err: (err as Error).message }, "relay pass failed");
          return this.opts.intervalMs;
        })
        .then((delay) => {
          if (this.running) this.loopTimer = setTimeout(tick, delay);
        });
    };
    this.loopTimer = setTimeout(tick, this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.loopTimer);
    await this.busy;
    // Appends already under way (or due on the next tick) record their marks before the last flush.
    if (this.pending.length > 0) this.startAppend();
    await Promise.all(this.appending);
    if (this.markTimer) clearTimeout(this.markTimer);
    await this.flushMarks();
  }
}
