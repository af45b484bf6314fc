import type { Redis } from "ioredis";
import type { Logger } from "../logger";
import type { SessionUser } from "./sessions";

/** What a session check reads from PostgreSQL: the row and its user. */
export type SessionRow = { id: string; userId: string; secretHash: Uint8Array; createdAt: Date; lastSeenAt: Date; user: SessionUser };

/** Every process's revocations, newest last: the other processes drop those sessions from their caches. */
export const REVOCATIONS_KEY = "sessions-revoked";
const REVOCATIONS_MAXLEN = 10_000;

type Revocation = { userId: string; sessionIds: string[] | "all" };

/**
 * Session rows for a few seconds, so most calls check their token without a query. The checks that
 * need no query still run on every call (the secret, both expiries). A revocation (log-out, log-out
 * everywhere, revoking a device) drops the session here at once, and reaches the other processes
 * through a Redis stream they poll every `pollMs`. While that poll fails, the cache is emptied and
 * bypassed, so a revocation is never missed for longer than `ttlMs`, the hard bound on any entry's age.
 */
export class SessionCache {
  private readonly entries = new Map<string, { row: SessionRow; until: number }>();
  private cursor: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** Counts revocations: a row read from the database before one is not cached after it. */
  generation = 0;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly opts: { ttlMs: number; pollMs: number; maxEntries: number },
  ) {}

  /** Usable only while this process hears every revocation. */
  private get live(): boolean {
    return this.opts.ttlMs > 0 && this.cursor !== null;
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
    try {
      if (this.cursor === null) {
        const [top] = (await this.redis.xrevrange(REVOCATIONS_KEY, "+", "-", "COUNT", 1)) as Array<[string, string[]]>;
        this.cursor = top?.[0] ?? "0-0";
        return;
      }
      const reply = (await this.redis.xread("COUNT", 1000, "STREAMS", REVOCATIONS_KEY, this.cursor)) as Array<[string, Array<[string, string[]]>]> | null;
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        this.cursor = id;
        const userId = fields[fields.indexOf("user") + 1]!;
        this.forget({ userId, sessionIds: JSON.parse(fields[fields.indexOf("sessions") + 1]!) as string[] | "all" });
      }
    } catch (err) {
      if (this.cursor !== null) this.log.warn({ err: (err as Error).message }, "session cache off: cannot read revocations");
      this.cursor = null;
      this.entries.clear();
      this.generation++;
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
