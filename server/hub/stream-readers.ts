import { randomUUID } from "node:crypto";
import type { ChainableCommander, Redis } from "ioredis";
import type { Logger } from "../logger";
import { BELL_MARKER, BELL_MAXLEN, bellKey, bellsKey, parseRing, streamKey } from "../notifications/doorbell";

type Entry = [id: string, fields: string[]];
type XReadReply = Array<[key: string, entries: Entry[]]> | null;
/** New entries of one stream, in order, and whether the ring carried them or they were read. */
export type EntriesHandler = (key: string, entries: Entry[], via: "ring" | "read") => void;

/** Entries taken per stream per XREAD; a stream that fills the page is read again at once. */
const PAGE = 500;
/** Streams named per sweep XREAD. */
const SWEEP_CHUNK = 1000;
/** A bell lives this long without its reader renewing it, so a stopped hub's bells go away. */
const BELL_TTL_SECONDS = 60;
const RENEW_EVERY_MS = 15_000;
/** How long one blocking read waits on the bell before the reader looks after itself. */
const BLOCK_MS = 1000;
/** Read rings are trimmed from the bell at most this often, so a busy reader pays for it once a second. */
const TRIM_EVERY_MS = 1000;

/** Whether stream id `a` ("ms-seq") comes after `b`. */
export function isAfter(a: string, b: string): boolean {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am !== bm ? am > bm : as > bs;
}

/** Runs a MULTI and returns its replies; a failed command, or a discarded MULTI, throws. */
async function execMulti(multi: ChainableCommander): Promise<unknown[]> {
  const replies = await multi.exec();
  if (!replies) throw new Error("MULTI was discarded");
  for (const [err] of replies) if (err) throw err;
  return replies.map(([, value]) => value);
}

/** The smallest stream id after `id`: trimming with MINID at it removes `id` and everything before. */
export function followingId(id: string): string {
  const [ms = "0", seq = "0"] = id.split("-");
  return `${ms}-${Number(seq) + 1}`;
}

const xread = (conn: Redis, ...args: (string | number)[]) => (conn.xread as (...a: (string | number)[]) => Promise<XReadReply>)(...args);

/**
 * One Redis connection reading the streams of many users, woken by a doorbell.
 *
 * The reader owns a bell stream, `hub-bell:<hub>:<n>`, and is listed in the set `user-<id>:bells`
 * of each user it reads. Every append to `user-<id>` rings, in the same Lua call, each bell in that
 * set (see `appendAndRing`). The reader blocks with `XREAD BLOCK` on its bell alone, and on a ring
 * reads the rung users' streams with one non-blocking `XREAD` over all of them, from each stream's
 * last id. So a wake costs Redis time in proportion to the entries, not to the users connected
 * (decision 008), and users come and go with a SADD or SREM: no connection per user, and no need
 * to interrupt a blocked read. A ring carries its entry and the id of the entry before it; when that
 * is the stream's last id here, the entry is taken from the ring and the stream is not read at all.
 *
 * Safety nets, so a missed ring only delays: every `sweepMs` the reader also reads all its streams
 * without blocking; and when its bell has vanished (Redis restarted or flushed) or its connection
 * came back, it recreates the bell, lists itself again in every user's set, then sweeps.
 */
class StreamReader {
  /** User stream key -> the id of the last entry handed on. */
  readonly streams = new Map<string, string>();
  /** Streams whose registration is under way, each with whether a ring for it came meanwhile. */
  private readonly starting = new Map<string, { rung: boolean }>();
  private bellLastId = "0-0";
  /** The last ring trimmed from the bell, and when. */
  private trimmedTo = "0-0";
  private trimmedAt = 0;
  private resync = true;
  private renewedAt = 0;
  private sweptAt = 0;
  private running = true;
  private stop$!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.stop$ = resolve));
  readonly done: Promise<void>;

  constructor(
    private readonly conn: Redis,
    private readonly control: Redis,
    readonly bell: string,
    private readonly onEntries: EntriesHandler,
    private readonly log: Logger,
    private readonly sweepMs: number,
  ) {
    // After a reconnect Redis may have lost everything (no persistence): start again.
    conn.on("ready", () => (this.resync = true));
    this.done = this.loop();
  }

  /**
   * Lists this reader in the user's bell set and takes the stream's top entry as the starting
   * point, in one MULTI: every later append rings this bell and lies after that entry. A ring can
   * reach the reader before the MULTI's reply reaches us; it is remembered and served here.
   */
  async add(key: string): Promise<void> {
    // This registration's own entry: a remove and a newer add of the same key meanwhile replace it.
    const entry = { rung: false };
    this.starting.set(key, entry);
    try {
      const [, top] = await execMulti(this.control.multi().sadd(bellsKey(key), this.bell).xrevrange(key, "+", "-", "COUNT", 1));
      if (this.starting.get(key) !== entry) return; // removed meanwhile
      this.streams.set(key, (top as Entry[])[0]?.[0] ?? "0-0");
      this.starting.delete(key);
      // From here on the loop serves rings itself; one that came before is served now.
      if (entry.rung) await this.readStreams(this.control, [key]);
    } finally {
      if (this.starting.get(key) === entry) this.starting.delete(key);
    }
  }

  /** Streams read or being registered: what the pool balances on. */
  get load(): number {
    return this.streams.size + this.starting.size;
  }

  remove(key: string): void {
    this.starting.delete(key);
    this.streams.delete(key);
    void this.control.srem(bellsKey(key), this.bell).catch((err: unknown) => this.log.debug({ err: (err as Error).message, key }, "SREM of a bell failed; the next append drops it"));
  }

  /** Non-blocking reads of `keys` from their last ids, until none has a full page left. */
  private async readStreams(conn: Redis, keys: string[]): Promise<void> {
    let pending = keys.filter((k) => this.streams.has(k));
    while (pending.length > 0) {
      const reply = await xread(conn, "COUNT", PAGE, "STREAMS", ...pending, ...pending.map((k) => this.streams.get(k) ?? "0-0"));
      pending = [];
      for (const [key, read] of reply ?? []) {
        const last = this.streams.get(key);
        if (last === undefined) continue; // the user left meanwhile
        // Two reads of one stream can overlap (a start-up read on the control connection): hand on
        // only what is newer than what was already handed on.
        const entries = read.filter(([id]) => isAfter(id, last));
        if (entries.length === 0) continue;
        this.streams.set(key, entries.at(-1)![0]);
        this.onEntries(key, entries, "read");
        if (read.length === PAGE) pending.push(key);
      }
    }
  }

  private async sweep(): Promise<void> {
    const keys = [...this.streams.keys()];
    for (let i = 0; i < keys.length; i += SWEEP_CHUNK) await this.readStreams(this.conn, keys.slice(i, i + SWEEP_CHUNK));
    this.sweptAt = performance.now();
  }

  /** (Re)creates the bell, lists this reader in every user's set again, then reads everything since. */
  private async resynchronise(): Promise<void> {
    this.resync = false;
    // The bell and its expiry together, so no bell outlives its reader for want of an EXPIRE.
    const [markerId] = await execMulti(this.conn.multi().xadd(this.bell, "MAXLEN", "~", BELL_MAXLEN, "*", ...BELL_MARKER).expire(this.bell, BELL_TTL_SECONDS));
    this.bellLastId = markerId as string;
    this.renewedAt = performance.now();
    // SADDs go on the control connection, after any SREM already sent there for a user who left; a
    // user who leaves while they are sent is taken out again below.
    const keys = [...this.streams.keys()];
    for (let i = 0; i < keys.length; i += SWEEP_CHUNK) {
      const pipeline = this.control.pipeline();
      for (const key of keys.slice(i, i + SWEEP_CHUNK)) pipeline.sadd(bellsKey(key), this.bell);
      await pipeline.exec();
    }
    const gone = keys.filter((key) => !this.streams.has(key) && !this.starting.has(key));
    if (gone.length > 0) {
      const pipeline = this.control.pipeline();
      for (const key of gone) pipeline.srem(bellsKey(key), this.bell);
      await pipeline.exec();
    }
    // Anything appended from here on rings the bell; anything before is read now.
    await this.sweep();
  }

  /**
   * Blocks on the bell for rings after the last one read. Rings carry whole entries, so those already
   * read are trimmed away, at most once a second, in the same write as the read: a copy of a
   * notification stays in the bell about two seconds at most after its reading (a quiet bell's read
   * returns within BLOCK_MS).
   */
  private async readBell(): Promise<Entry[] | undefined> {
    const args = ["COUNT", BELL_MAXLEN, "BLOCK", BLOCK_MS, "STREAMS", this.bell, this.bellLastId];
    if (this.trimmedTo === this.bellLastId || performance.now() - this.trimmedAt < TRIM_EVERY_MS) return (await xread(this.conn, ...args))?.[0]?.[1];
    const trimTo = this.bellLastId;
    this.trimmedAt = performance.now();
    const pipeline = this.conn.pipeline().xtrim(this.bell, "MINID", followingId(trimTo));
    const replies = await (pipeline.xread as (...a: (string | number)[]) => typeof pipeline)(...args).exec();
    const [trimmed, read] = replies ?? [];
    if (read?.[0]) throw read[0];
    if (trimmed && !trimmed[0]) this.trimmedTo = trimTo;
    return (read?.[1] as XReadReply)?.[0]?.[1];
  }

  private async loop(): Promise<void> {
    if (this.conn.status !== "ready") await Promise.race([new Promise((resolve) => this.conn.once("ready", resolve)), this.stopped]);
    while (this.running) {
      try {
        const now = performance.now();
        if (this.resync) await this.resynchronise();
        else if (now - this.renewedAt > RENEW_EVERY_MS) {
          this.renewedAt = now;
          // 0: the bell is gone (Redis restarted or flushed), and so are the users' sets.
          if (Number(await this.conn.expire(this.bell, BELL_TTL_SECONDS)) === 0) this.resync = true;
          continue;
        } else if (now - this.sweptAt > this.sweepMs) await this.sweep();

        const rings = await this.readBell();
        if (!rings?.length) continue;
        this.bellLastId = rings.at(-1)![0];
        // Streams to read: those whose ring did not follow on from what was handed on.
        const toRead = new Set<string>();
        for (const [, fields] of rings) {
          const ring = parseRing(fields);
          if (!ring) continue; // a resync marker
          const { id, previous, entry } = ring;
          const key = streamKey(ring.userId);
          const last = this.streams.get(key);
          if (last === undefined) {
            const registering = this.starting.get(key);
            if (registering) registering.rung = true;
          } else if (toRead.has(key)) {
            // An earlier ring of this batch did not follow on: the read gets this entry too.
          } else if (id !== undefined && previous === last && entry.length > 0) {
            // The entry right after the last one handed on, carried by the ring: no read needed.
            this.streams.set(key, id);
            this.onEntries(key, [[id, entry]], "ring");
          } else if (id === undefined || isAfter(id, last)) toRead.add(key);
        }
        await this.readStreams(this.conn, [...toRead]);
      } catch (err) {
        if (!this.running) break;
        this.log.warn({ err: (err as Error).message, bell: this.bell }, "stream reader: read failed; retrying");
        this.resync = true;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Removes the bell and this reader's place in its users' sets (best effort: both expire or get dropped anyway). */
  async stop(): Promise<void> {
    this.running = false;
    this.stop$();
    // The loop first, so that no resync recreates the bell or lists it again after it is removed.
    this.conn.disconnect();
    await this.done.catch(() => {});
    const pipeline = this.control.pipeline().del(this.bell);
    for (const key of this.streams.keys()) pipeline.srem(bellsKey(key), this.bell);
    await pipeline.exec().catch(() => {});
  }
}

/**
 * A fixed pool of readers for one hub process. Each user's stream is read by exactly one of them,
 * whatever the number of users: Redis connections do not grow with users.
 */
export class StreamReaderPool {
  private readonly readers: StreamReader[];
  /** Each stream read: the reader that owns it, and its registration (done, or under way). */
  private readonly registrations = new Map<string, { reader: StreamReader; ready: Promise<void> }>();
  readonly hubId = randomUUID();

  constructor(opts: { size: number; connect: () => Redis; control: Redis; onEntries: EntriesHandler; log: Logger; sweepMs: number }) {
    this.readers = Array.from(
      { length: opts.size },
      (_, n) => new StreamReader(opts.connect(), opts.control, bellKey(this.hubId, n), opts.onEntries, opts.log, opts.sweepMs),
    );
  }

  /**
   * Starts reading `key` after its current top entry. Resolves once this process's bell is listed
   * for the user, so anything appended afterwards is read; a second call while the first is under
   * way waits for the same registration.
   */
  add(key: string): Promise<void> {
    const known = this.registrations.get(key);
    if (known) return known.ready;
    const reader = this.readers.reduce((a, b) => (b.load < a.load ? b : a));
    const ready = reader.add(key).catch((err: unknown) => {
      if (this.registrations.get(key)?.ready === ready) this.remove(key);
      throw err;
    });
    this.registrations.set(key, { reader, ready });
    return ready;
  }

  remove(key: string): void {
    const registration = this.registrations.get(key);
    if (!registration) return;
    this.registrations.delete(key);
    registration.reader.remove(key);
  }

  get size(): number {
    return this.readers.length;
  }

  get streams(): number {
    return this.registrations.size;
  }

  async close(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
  }
}
