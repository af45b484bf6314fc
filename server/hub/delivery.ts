import type { NotificationRecord } from "../notifications/service";

/**
 * Delivers one user's notifications to one socket exactly once and in `seq` order. Everything
 * goes through one queue, so catch-up and live entries cannot interleave:
 *   seq <= last delivered  -> a repeat (an append retried by the relay, a stream re-read): dropped;
 *   seq == last + 1        -> delivered;
 *   seq >  last + 1        -> the missing ones are committed (seq order is commit order), so they
 *                             are fetched from PostgreSQL and delivered first.
 */
export class DeliveryChannel {
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    public lastSeq: number,
    private readonly emit: (n: NotificationRecord) => void,
    private readonly fetchRange: (afterSeq: number, uptoSeq: number) => Promise<NotificationRecord[]>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Queues work that must run in order with deliveries (the catch-up at connect). */
  run(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(task).catch((err: unknown) => this.onError(err));
    return this.chain;
  }

  offer(n: NotificationRecord): void {
    void this.run(() => this.deliver(n));
  }

  /** Delivers `n` and anything missing before it. */
  async deliver(n: NotificationRecord): Promise<void> {
    if (this.closed || n.seq <= this.lastSeq) return;
    if (n.seq > this.lastSeq + 1) {
      const missing = await this.fetchRange(this.lastSeq, n.seq - 1);
      for (const m of missing) this.send(m);
    }
    this.send(n);
  }

  private send(n: NotificationRecord): void {
    if (this.closed || n.seq <= this.lastSeq) return;
    this.lastSeq = n.seq;
    this.emit(n);
  }

  close(): void {
    this.closed = true;
  }
}
