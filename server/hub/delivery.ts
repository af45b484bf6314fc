import type { NotificationRecord } from "../notifications/service";

/**
 * Delivers one user's notifications to one socket exactly once and in `seq` order. Everything
 * goes through one queue, so catch-up and live entries cannot interleave:
 *   seq <= last delivered  -> a repeat (an append retried by the relay, a stream re-read): dropped;
 *   seq == last + 1        -> delivered, with any parked ones that now follow;
 *   seq >  last + 1        -> parked for `reorderMs`. Two hires to one user that commit a moment apart
 *                             can reach the stream in the other order (their appends race), and the
 *                             missing one then arrives within that window. If it does not (its append
 *                             failed and waits for the relay), the missing ones are committed (seq order
 *                             is commit order), so they are fetched from PostgreSQL and delivered first.
 */
export class DeliveryChannel {
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Entries that came ahead of a gap, by seq, waiting for it to fill. */
  private readonly parked = new Map<number, NotificationRecord>();
  private gapTimer: NodeJS.Timeout | undefined;
  /** The open gap: after which seq it starts, and until when it may stay open. */
  private gap = { after: -1, until: 0 };

  constructor(
    public lastSeq: number,
    private readonly emit: (n: NotificationRecord) => void,
    private readonly fetchRange: (afterSeq: number, uptoSeq: number) => Promise<NotificationRecord[]>,
    private readonly onError: (err: unknown) => void,
    private readonly reorderMs = 50,
  ) {}

  /** Queues work that must run in order with deliveries (the catch-up at connect). */
  run(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(task).catch((err: unknown) => this.onError(err));
    return this.chain;
  }

  /** A live entry from the stream. */
  offer(n: NotificationRecord): void {
    void this.run(async () => {
      if (this.closed || n.seq <= this.lastSeq) return;
      if (n.seq > this.lastSeq + 1 && this.reorderMs > 0) {
        this.parked.set(n.seq, n);
        this.watchGap();
        return;
      }
      await this.deliver(n);
    });
  }

  /** Delivers `n` and anything missing before it, then whatever parked entries follow. */
  async deliver(n: NotificationRecord): Promise<void> {
    if (this.closed || n.seq <= this.lastSeq) return;
    if (n.seq > this.lastSeq + 1) {
      const missing = await this.fetchRange(this.lastSeq, n.seq - 1);
      for (const m of missing) this.send(m);
    }
    this.send(n);
    this.drainParked();
  }

  /** Gives a gap that just opened its full window; a gap already open keeps its deadline. */
  private watchGap(): void {
    if (this.gap.after !== this.lastSeq) this.gap = { after: this.lastSeq, until: Date.now() + this.reorderMs };
    this.gapTimer ??= setTimeout(() => void this.run(() => this.fillGap()), Math.max(0, this.gap.until - Date.now())).unref();
  }

  /** The window passed with a gap still open: fetch up to the first parked entry. */
  private async fillGap(): Promise<void> {
    this.gapTimer = undefined;
    if (this.parked.size === 0) return;
    // The timer may belong to a gap that closed meanwhile; a newer one gets its own window.
    if (this.gap.after !== this.lastSeq || Date.now() < this.gap.until) return this.watchGap();
    const first = Math.min(...this.parked.keys());
    const n = this.parked.get(first);
    if (!n) return;
    this.parked.delete(first);
    await this.deliver(n);
  }

  private drainParked(): void {
    for (let next = this.parked.get(this.lastSeq + 1); next; next = this.parked.get(this.lastSeq + 1)) {
      this.parked.delete(next.seq);
      this.send(next);
    }
    for (const seq of this.parked.keys()) if (seq <= this.lastSeq) this.parked.delete(seq);
    if (this.parked.size === 0) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    } else this.watchGap();
  }

  private send(n: NotificationRecord): void {
    if (this.closed || n.seq <= this.lastSeq) return;
    this.lastSeq = n.seq;
    this.emit(n);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.gapTimer);
    this.parked.clear();
  }
}
