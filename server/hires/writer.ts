import type { Database } from "../../db/client";
import { bindToSignal } from "../../db/query-abort";
import { AppError, DeadlineExceededError, isDatabaseUnavailable, pgErrorCode, PG_LOCK_NOT_AVAILABLE } from "../errors";
import type { Logger } from "../logger";
import { runCreateHire, type CreateHireOutcome, type CreateHireStatement } from "./statements";

type Waiting = {
  statement: CreateHireStatement;
  resolve(outcome: CreateHireOutcome): void;
  reject(err: unknown): void;
  /** The call's signal (its deadline, or its client gone), when it came through a bound writer. */
  signal?: AbortSignal;
};

/**
 * Writes hires with group commit. A hire that finds the writer idle goes to PostgreSQL at once (after
 * the requests read in the same turn of the event loop, which join it); while `concurrency` statements
 * are in flight, new hires wait and then go together, up to `maxBatch` in one statement
 * (app_create_hire): one round trip, one transaction and one WAL flush for all of them, instead of one
 * each. Under light load every hire is a batch of one, so nothing waits; under heavy load the batches
 * grow with the queue, which is what lets two cores carry more hires a second. At most `maxQueued` hires
 * wait; past that a hire is refused at once with SERVICE_UNAVAILABLE (retry after a second) rather than
 * left to wait without bound.
 *
 * A hire alone and a batch are the same statement (app_create_hire over an array of one or more), in
 * which each hire keeps its own tenant, role and provider checks, and its refusal is its own. An error
 * (not a refusal) aborts its batch's transaction, so nothing of it is written; the batch's hires are then
 * run again one at a time, in their order, in the same slot, and only the one at fault fails. When the
 * database is unreachable they all fail at once, as they would alone. A hire's idempotency key is claimed
 * by its own statement item, in the batch's transaction, so the key commits exactly when the hire does.
 *
 * Bounded waits: a hire whose call ends (its deadline, or its client gone) while it waits here leaves the
 * queue unwritten. A statement is abandoned (not sent, or cancelled in PostgreSQL: nothing of it is
 * written) when one of its hires reaches its call's deadline, since that call has answered
 * SERVICE_UNAVAILABLE and must not commit afterwards, or when every one of its calls has ended.
 */
export class HireWriter {
  private readonly queue: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Statements sent, and hires sent in them (a batch that is run again alone counts again). */
  readonly stats = { statements: 0, hires: 0 };

  constructor(
    private readonly db: Database,
    private readonly log: Pick<Logger, "warn" | "error">,
    private readonly opts: { concurrency: number; maxBatch: number; maxQueued: number } = { concurrency: 2, maxBatch: 64, maxQueued: 5_000 },
  ) {}

  /** Writes one hire (in a batch or alone) and answers its outcome once that has committed. */
  create(statement: CreateHireStatement, signal?: AbortSignal): Promise<CreateHireOutcome> {
    if (this.queue.length >= this.opts.maxQueued) {
      return Promise.reject(new AppError("SERVICE_UNAVAILABLE", "Too many hires are waiting to be written: try again in a second.", { retryAfterSeconds: 1 }));
    }
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { statement, resolve, reject, signal };
      signal?.addEventListener("abort", () => {
        const at = this.queue.indexOf(waiting);
        if (at === -1) return; // in a statement already: see statementSignal
        this.queue.splice(at, 1);
        reject(signal.reason);
      }, { once: true });
      this.queue.push(waiting);
      this.schedule();
    });
  }

  /**
   * This writer as one call sees it: its hires carry the call's signal. The queue and the statements
   * are this writer's own.
   * @example createHire({ writer: ctx.hireWriter.bound(deadline.signal), … })
   */
  bound(signal: AbortSignal): HireWriter {
    return Object.create(this, { create: { value: (statement: CreateHireStatement) => this.create(statement, signal) } }) as HireWriter;
  }

  /** Aborts when one of the batch's calls reaches its deadline, or when all of them have ended. */
  private statementSignal(batch: Waiting[]): AbortSignal | undefined {
    const calls = batch.flatMap((w) => (w.signal ? [w.signal] : []));
    if (calls.length === 0) return undefined;
    const controller = new AbortController();
    let ended = 0;
    for (const signal of calls) {
      signal.addEventListener("abort", () => {
        // A call past its deadline has answered SERVICE_UNAVAILABLE: its hire must not commit afterwards.
        // A call whose client left is owed nothing, but the others in the statement still wait for it.
        if (signal.reason instanceof DeadlineExceededError || ++ended === batch.length) controller.abort(signal.reason);
      }, { once: true });
    }
    return controller.signal;
  }

  private schedule() {
    if (this.scheduled || this.inFlight >= this.opts.concurrency || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.queue.length > 0 && this.inFlight < this.opts.concurrency) {
        const batch = this.queue.splice(0, this.opts.maxBatch);
        this.inFlight++;
        this.write(batch)
          .catch((err: unknown) => {
            // Not expected (each path settles its own hires); a hire already answered ignores this.
            this.log.error({ err }, "hire writer failed");
            for (const w of batch) w.reject(err);
          })
          .finally(() => {
            this.inFlight--;
            this.schedule();
          });
      }
    });
  }

  private async write(batch: Waiting[]): Promise<void> {
    const signal = this.statementSignal(batch);
    const db = signal ? bindToSignal(this.db, signal) : this.db;
    if (batch.length === 1) {
      await this.alone(batch[0]!, db);
      return;
    }
    let outcomes: CreateHireOutcome[];
    this.stats.statements++;
    this.stats.hires += batch.length;
    try {
      outcomes = await runCreateHire(db, batch.map((w) => w.statement));
    } catch (err) {
      if (!hireAtFault(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      // Nothing of the batch was written: each hire on its own, in order, so only the faulty one fails.
      this.log.warn({ err, hires: batch.length }, "a group commit of hires failed; writing them one at a time");
      for (const [i, w] of batch.entries()) {
        const failure = await this.alone(w, db);
        if (failure !== undefined && !hireAtFault(failure)) {
          // The database went away meanwhile: the rest would fail the same way, one slow attempt each.
          for (const rest of batch.slice(i + 1)) rest.reject(failure);
          return;
        }
      }
      return;
    }
    batch.forEach((w, i) => w.resolve(outcomes[i]!));
  }

  /** One hire in its own statement; answers it, and returns its error if it failed. */
  private async alone(w: Waiting, db: Database): Promise<unknown> {
    this.stats.statements++;
    this.stats.hires++;
    try {
      const [outcome] = await runCreateHire(db, [w.statement]);
      w.resolve(outcome!);
      return undefined;
    } catch (err) {
      w.reject(err);
      return err;
    }
  }
}

/**
 * True when a failed statement was refused for one of its hires' data (a constraint, a value PostgreSQL
 * will not take), so running the hires one by one isolates it. Not for a database that is unreachable,
 * shutting down, out of resources or out of time (SQLSTATE classes 08, 53, 57, 58, and lock_timeout's
 * 55P03), or an error without a SQLSTATE: every hire would fail that way again.
 */
function hireAtFault(err: unknown): boolean {
  if (isDatabaseUnavailable(err)) return false;
  const code = pgErrorCode(err);
  return code !== undefined && code !== PG_LOCK_NOT_AVAILABLE && !/^(08|53|57|58)/.test(code);
}
