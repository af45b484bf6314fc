import type { Redis } from "ioredis";
import type { Logger } from "../logger";

type Entry = [id: string, fields: string[]];
export type EntriesHandler = (key: string, entries: Entry[]) => void;

/**
 * One Redis connection running `XREAD BLOCK` over many streams. When the set of streams changes
 * while it is blocked, `CLIENT UNBLOCK` (sent on another connection) wakes it so the next XREAD
 * carries the new set: no connection per user.
 */
class StreamReader {
  readonly streams = new Map<string, string>();
  private clientId: number | null = null;
  private inFlight = false;
  private dirty = false;
  private running = true;
  private wakeUp: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(
    private readonly conn: Redis,
    private readonly control: Redis,
    private readonly onEntries: EntriesHandler,
    private readonly log: Logger,
    private readonly coalesceMs: number,
  ) {
    conn.on("ready", () => {
      this.clientId = null;
    });
    this.done = this.loop();
  }

  private async id(): Promise<number> {
    this.clientId ??= Number(await this.conn.client("ID"));
    return this.clientId;
  }

  /** Adds or removes streams; wakes a blocked XREAD so the change applies at once. */
  changed(): void {
    this.dirty = true;
    this.wakeUp?.();
    void this.unblock(0);
  }

  private async unblock(attempt: number): Promise<void> {
    if (!this.inFlight || !this.dirty || !this.running) return;
    try {
      const unblocked = Number(await this.control.client("UNBLOCK", await this.id()));
      // 0: the XREAD is on its way but not yet blocked; try again in a moment.
      if (unblocked === 0 && attempt < 50) setTimeout(() => void this.unblock(attempt + 1), 2);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, "CLIENT UNBLOCK failed");
    }
  }

  private async read(): Promise<Array<[string, Entry[]]> | null> {
    const keys = [...this.streams.keys()];
    const ids = keys.map((k) => this.streams.get(k)!);
    const args: (string | number)[] = ["COUNT", 500, "BLOCK", 5000];
    this.inFlight = true;
    try {
      return (await (this.conn.xread as (...a: (string | number)[]) => Promise<Array<[string, Entry[]]> | null>)(...args, "STREAMS", ...keys, ...ids));
    } finally {
      this.inFlight = false;
    }
  }

  private deliver(result: Array<[string, Entry[]]>): number {
    let count = 0;
    for (const [key, entries] of result) {
      if (!this.streams.has(key) || entries.length === 0) continue;
      this.streams.set(key, entries.at(-1)![0]);
      count += entries.length;
      this.onEntries(key, entries);
    }
    return count;
  }

  private async loop(): Promise<void> {
    let lastWake = 0;
    while (this.running) {
      if (this.streams.size === 0) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        this.wakeUp = null;
        continue;
      }
      this.dirty = false;
      try {
        const result = await this.read();
        if (!result) continue; // timed out, or unblocked because the set changed
        this.deliver(result);
        // Each XREAD registers this connection on every stream it names, which costs Redis time in
        // proportion to the streams. Under load (wakes closer than coalesceMs), wait out the rest of
        // that window so the next XREAD collects everything that arrived meanwhile in one call.
        const now = performance.now();
        const sinceLast = now - lastWake;
        lastWake = now;
        if (this.coalesceMs > 0 && sinceLast < this.coalesceMs) await new Promise((r) => setTimeout(r, this.coalesceMs - sinceLast));
        // Redis 7.0 wakes a multi-stream XREAD with only the stream that woke it (STACK.md pitfall 2).
        // The next XREAD names every stream with its own last id, so any stream that also has new
        // entries answers at once instead of blocking: nothing waits, and no extra call is spent.
      } catch (err) {
        if (!this.running) break;
        this.log.warn({ err: (err as Error).message }, "stream reader: XREAD failed; retrying");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    this.conn.disconnect();
    await this.done.catch(() => {});
  }
}

/**
 * A fixed pool of readers for one hub process. Each user's stream is read by exactly one of them,
 * whatever the number of users: Redis connections do not grow with users.
 */
export class StreamReaderPool {
  private readonly readers: StreamReader[];
  private readonly owner = new Map<string, StreamReader>();

  constructor(opts: { size: number; connect: () => Redis; control: Redis; onEntries: EntriesHandler; log: Logger; coalesceMs: number }) {
    this.readers = Array.from({ length: opts.size }, () => new StreamReader(opts.connect(), opts.control, opts.onEntries, opts.log, opts.coalesceMs));
  }

  /** Starts reading `key` after `fromId` (an entry id, or "0-0" for the whole stream). */
  add(key: string, fromId: string): void {
    if (this.owner.has(key)) return;
    const reader = this.readers.reduce((a, b) => (b.streams.size < a.streams.size ? b : a));
    reader.streams.set(key, fromId);
    this.owner.set(key, reader);
    reader.changed();
  }

  remove(key: string): void {
    const reader = this.owner.get(key);
    if (!reader) return;
    this.owner.delete(key);
    reader.streams.delete(key);
    reader.changed();
  }

  get size(): number {
    return this.readers.length;
  }

  get streams(): number {
    return this.owner.size;
  }

  async close(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
  }
}
