import type { Redis } from "ioredis";
import type { Logger } from "../logger";
import type { SessionUser } from "./sessions";

/** What a session check reads from PostgreSQL: the row and its user. */
export type SessionRow = { id: string; userId: string; secretHash: Uint8Array; createdAt: Date; lastSeenAt: Date; user: SessionUser };

/** Every process's revocations, newest last: the other processes drop those sessions from their caches. */
export const REVOCATIONS_KEY = "sessions-revoked";
const REVOCATIONS_MAXLEN = 10_000;
/** Revocations read per poll. */
const PAGE = 1000;

type Revocation = { userId: string; sessionIds: string[] | "all" };

/**
 * Session rows for a few seconds, so most calls check their token without a query. The checks that
 * need no query still run on every call (the secret, both expiries). A revocation (log-out, log-out
 * everywhere, revoking a device) drops the session here at once, and reaches the other processes
 * through a Redis stream they poll every `pollMs`. The cache is on only while those polls succeed and
 * are recent: when one fails, or none has succeeded for a few intervals (a hung connection), it is
 * emptied and bypassed, and it starts again from the stream's newest entry. `ttlMs` bounds any entry's
 * age in every case.
 */
export class SessionCache {
  private readonly entries = new Map<string, { row: SessionRow; until: number }>();
  /** The last revocation read; null while the cache is off. */
  private cursor: string | null = null;
  private polledAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /**
   * Counts revocations, and the cache turning on or off: a row read from the database before any of
   * those is not cached after it.
   */
  generation = 0;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly opts: { ttlMs: number; pollMs: number; maxEntries: number },
  ) {}

  /** Usable only while this process hears every revocation, as of a recent poll. */
  private get live(): boolean {
    if (this.opts.ttlMs <= 0 || this.cursor === null) return false;
    if (Date.now() - this.polledAt <= Math.max(4 * this.opts.pollMs, 1000)) return true;
    this.turnOff("session cache off: no recent read of revocations");
    return false;
  }

  private turnOff(reason: string, err?: unknown): void {
    if (this.cursor !== null) this.log.warn({ err: (err as Error | undefined)?.message }, reason);
    this.cursor = null;
    this.entries.clear();
    this.generation++;
  }

  get(id: string): SessionRow | undefined {
    if (!this.live) return undefined;
    const entry = this.entries.get(id);
    if (entry && entry.until > Date.now()) return entry.row;
    if (entry) this.entries.delete(id);
    return undefined;
  }

  /** Caches a row read while `generation` was `seen`: unless a revocation came in between. */
  set(row: SessionRow, seen: number): void {
    if (!this.live || seen !== this.generation) return;
    if (this.entries.size >= this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(row.id, { row, until: Date.now() + this.opts.ttlMs });
  }

  /** Drops sessions here; `revoke` also tells the other processes. */
  forget({ userId, sessionIds }: Revocation): void {
    this.generation++;
    if (sessionIds !== "all") {
      for (const id of sessionIds) this.entries.delete(id);
      return;
    }
    for (const [id, entry] of this.entries) if (entry.row.userId === userId) this.entries.delete(id);
  }

  /** After the sessions' rows are deleted: drops them here and announces it to every process. */
  async revoke(revocation: Revocation): Promise<void> {
    this.forget(revocation);
    await this.redis
      .xadd(REVOCATIONS_KEY, "MAXLEN", "~", REVOCATIONS_MAXLEN, "*", "user", revocation.userId, "sessions", JSON.stringify(revocation.sessionIds))
      .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, "could not announce a revoked session to other processes"));
  }

  /** Reads the revocations since the last poll; on failure, empties and bypasses the cache until one succeeds. */
  async poll(): Promise<void> {
    const from = this.cursor;
    try {
      if (from === null) {
        // Turning on: revocations older than the newest one concern rows not cached here, and any row
        // read while the cache was off is refused by the new generation.
        const [top] = (await this.redis.xrevrange(REVOCATIONS_KEY, "+", "-", "COUNT", 1)) as Array<[string, string[]]>;
        this.cursor = top?.[0] ?? "0-0";
        this.generation++;
        this.polledAt = Date.now();
        return;
      }
      const reply = (await this.redis.xread("COUNT", PAGE, "STREAMS", REVOCATIONS_KEY, from)) as Array<[string, Array<[string, string[]]>]> | null;
      if (this.cursor !== from) return; // turned off while this poll was out: start again next time
      const entries = reply?.[0]?.[1] ?? [];
      // A full page may mean more waiting, or this process fell behind the stream's trimming: start afresh.
      if (entries.length === PAGE) return this.turnOff("session cache reset: too many revocations at once");
      for (const [id, fields] of entries) {
        this.cursor = id;
        const userId = fields[fields.indexOf("user") + 1]!;
        this.forget({ userId, sessionIds: JSON.parse(fields[fields.indexOf("sessions") + 1]!) as string[] | "all" });
      }
      this.polledAt = Date.now();
    } catch (err) {
      this.turnOff("session cache off: cannot read revocations", err);
    }
  }

  start(): void {
    if (this.opts.ttlMs <= 0 || this.timer) return;
    const tick = () => {
      void this.poll().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.opts.pollMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.cursor = null;
    this.entries.clear();
  }
}
