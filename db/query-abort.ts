import type { Database } from "./client";

/**
 * The parts of a postgres.js query (a `Query`, which is a Promise) that abandoning it needs. They are
 * postgres.js internals (3.4.x): `state` is set when the query is handed to a connection, `canceller`
 * sends a CancelRequest for one that was, and `strings`/`args` are read only when it is sent.
 */
type PendingQuery = Promise<unknown> & {
  state: unknown;
  strings: string[];
  args: unknown[];
  reject(reason: unknown): void;
  canceller: ((query: PendingQuery) => Promise<void> | undefined) | null;
};

/**
 * Stops a query when `signal` aborts (a call's deadline, or its client gone), so that a call answered
 * with an error leaves no work behind that could still write later.
 *
 * - Not yet sent (waiting for a connection, as every query does while postgres.js reconnects to a
 *   database that is down): it is rejected with the signal's reason at once, and its text becomes
 *   `select 1`, so when postgres.js sends it after all it does nothing. (Its own `cancel()` would mark it
 *   cancelled instead, and a connection whose first query is a cancelled one is left unusable.)
 * - Sent: PostgreSQL is asked to cancel it (a CancelRequest); it then fails with 57014 in its caller, and
 *   a transaction it belongs to rolls back.
 */
export function abandonOnAbort(query: unknown, signal: AbortSignal): void {
  const q = query as PendingQuery;
  const abandon = () => {
    if (q.state) {
      const canceller = q.canceller;
      q.canceller = null;
      // The cancel request needs a new connection, which fails while the database is away: nothing to do then.
      void canceller?.(q)?.catch(() => {});
      return;
    }
    q.strings = ["select 1"];
    q.args = [];
    q.reject(signal.reason);
  };
  if (signal.aborted) return abandon();
  signal.addEventListener("abort", abandon, { once: true });
  const settled = () => signal.removeEventListener("abort", abandon);
  // Promise.prototype.then, not the query's own: that one would start the query before drizzle sets its mode.
  void Promise.prototype.then.call(q, settled, settled);
}

/**
 * `work`'s outcome, or the signal's reason as soon as it aborts (`work` then goes on unobserved).
 * @example await orAbort(redis.ping(), AbortSignal.timeout(1000));
 */
export function orAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason as Error);
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

const binders = new WeakMap<Database, (signal: AbortSignal) => Database>();

/** Lets `bindToSignal` derive handles of `db` (done by openPostgres). */
export function registerSignalBinding(db: Database, bind: (signal: AbortSignal) => Database): void {
  binders.set(db, bind);
}

/**
 * A handle on the same pool whose queries (transactions included) are abandoned when `signal` aborts
 * (see abandonOnAbort). On the embedded database, which runs one query at a time in this process and
 * cannot be cut off, it is `db` itself.
 * @example const tx = bindToSignal(ctx.db, AbortSignal.timeout(5000));
 */
export function bindToSignal(db: Database, signal: AbortSignal): Database {
  return binders.get(db)?.(signal) ?? db;
}
