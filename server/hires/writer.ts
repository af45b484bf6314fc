import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../../db/client";
import { bindToSignal } from "../../db/query-abort";
import { AppError, DeadlineExceededError, isDatabaseUnavailable, pgErrorCode, PG_LOCK_NOT_AVAILABLE } from "../errors";
import type { Logger } from "../logger";
import type { TenantRole } from "../tenants/resolve";

/** app_create_hire's arguments by name (its parameters without the `p_`). */
export type HireStatement = {
  user: string; ref: string;
  hire_id: string; provider: string; job: string; location: string; lat: number | null; lng: number | null;
  starts_at: string; ends_at: string | null; client_name: string; client_phone: string | null; now: string;
  notification_id: string; payload: Record<string, unknown>;
  audit_id: string; audit_changes: Record<string, unknown>; session: string | null; ip: string | null; user_agent: string | null; request_id: string | null;
  /** The call's idempotency key, claimed in the hire's own transaction (migration 0014), or null. */
  idempotency?: HireIdempotency | null;
};

/** `response` is the hire as the call answers it, without the tenant id the statement adds; `now` is the key's clock. */
export type HireIdempotency = { procedure: string; key: string; fingerprint: string; now: string; expires_at: string; response: Record<string, unknown> };

/** A jsonb column: postgres.js parses it, PGlite may hand back the text. */
export type Json = Record<string, unknown> | string;

/** What app_create_hire answers for one hire; `replay`: its key was used before, and nothing was written. */
export type HireOutcome = {
  outcome: "created" | "replay" | "no_tenant" | "not_client" | "no_provider";
  tenant_id: string; tenant_slug: string; tenant_name: string; member_role: TenantRole;
  seq: string | number; notified_at: Date | string; payload: Json;
  replay_fingerprint: string | null; replay_response: Json | null;
};

type Waiting = {
  statement: HireStatement;
  resolve(row: HireOutcome | undefined): void;
  reject(err: unknown): void;
  /** The call's signal (its deadline, or its client gone), when it came through a bound writer. */
  signal?: AbortSignal;
};

/**
 * Writes hires with group commit. A hire that finds the writer idle goes to PostgreSQL at once (after
 * the requests read in the same turn of the event loop, which join it); while `concurrency` statements
 * are in flight, new hires wait and then go together, up to `maxBatch` in one statement
 * (app_create_hires): one round trip, one transaction and one WAL flush for all of them, instead of one
 * each. Under light load every hire is a batch of one, so nothing waits; under heavy load the batches
 * grow with the queue, which is what lets two cores carry more hires a second. At most `maxQueued` hires
 * wait; past that a hire is refused at once with SERVICE_UNAVAILABLE (retry after a second) rather than
 * left to wait without bound.
 *
 * Each hire is still written by app_create_hire with its own tenant, role and provider checks, and its
 * refusal is its own. An error (not a refusal) aborts its batch's transaction, so nothing of it is
 * written; the batch's hires are then run again one at a time, in their order, in the same slot, and
 * only the one at fault fails. When the database is unreachable they all fail at once, as they would
 * alone. A hire's idempotency key is claimed by its own statement item, in the batch's transaction, so
 * the key commits exactly when the hire does (migration 0014).
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
  create(statement: HireStatement, signal?: AbortSignal): Promise<HireOutcome | undefined> {
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
    return Object.create(this, { create: { value: (statement: HireStatement) => this.create(statement, signal) } }) as HireWriter;
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
    let rows: Array<HireOutcome & { idx: number }>;
    this.stats.statements++;
    this.stats.hires += batch.length;
    try {
      rows = rowsOf(await db.execute(sql`select * from app_create_hires(${JSON.stringify(batch.map((w, i) => ({ ...w.statement, i })))}::jsonb)`));
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
    const byIndex = new Map(rows.map((r) => [Number(r.idx), r]));
    batch.forEach((w, i) => w.resolve(byIndex.get(i)));
  }

  /** One hire in its own statement; answers it, and returns its error if it failed. */
  private async alone(w: Waiting, db: Database): Promise<unknown> {
    const s = w.statement;
    this.stats.statements++;
    this.stats.hires++;
    try {
      const result = await db.execute(sql`
        select outcome, tenant_id, tenant_slug, tenant_name, member_role, seq, notified_at, payload, replay_fingerprint, replay_response from app_create_hire(
          ${s.user}::uuid, ${s.ref}::text,
          ${s.hire_id}::uuid, ${s.provider}::uuid, ${s.job}::text, ${s.location}::text, ${s.lat}::float8, ${s.lng}::float8,
          ${s.starts_at}::timestamptz, ${s.ends_at}::timestamptz, ${s.client_name}::text, ${s.client_phone}::text, ${s.now}::timestamptz,
          ${s.notification_id}::uuid, ${JSON.stringify(s.payload)}::jsonb,
          ${s.audit_id}::uuid, ${JSON.stringify(s.audit_changes)}::jsonb, ${s.session}::text, ${s.ip}::text, ${s.user_agent}::text, ${s.request_id}::text,
          ${s.idempotency ? JSON.stringify(s.idempotency) : null}::jsonb)`);
      w.resolve(rowsOf<HireOutcome>(result)[0]);
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
