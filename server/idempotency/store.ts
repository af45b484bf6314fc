import { sql } from "drizzle-orm";
import { rowsOf, type Transaction } from "../../db/client";
import { AppError } from "../errors";
import type { IdempotencyRequest } from "./request";

/** What the create that first used a key left: its request's fingerprint and its answer. */
export type EarlierAnswer = { fingerprint: string; response: unknown };

/** A jsonb value: postgres.js parses it, PGlite may hand back the text. */
const jsonOf = (value: unknown): unknown => (typeof value === "string" ? JSON.parse(value) : value);

export type ClaimIdempotencyKeyOptions = { db: Transaction; request: IdempotencyRequest; response: unknown };

/**
 * Claims the key inside the create's transaction `db` (db function app_claim_idempotency_key), storing
 * `response` with it when it is already known. Returns null when the key is now this transaction's, or
 * what the create that claimed it first left. A transaction holding the same key makes this wait until it
 * commits (its answer is returned) or rolls back (the key is claimed here).
 */
export async function claimIdempotencyKey({ db, request, response }: ClaimIdempotencyKeyOptions): Promise<EarlierAnswer | null> {
  const result = await db.execute(sql`
    select claimed, fingerprint, response from app_claim_idempotency_key(
      ${request.userId}::uuid, ${request.procedure}::text, ${request.key}::text, ${request.fingerprint}::text,
      ${response === null ? null : JSON.stringify(response)}::jsonb, ${request.now.toISOString()}::timestamptz, ${request.expiresAt.toISOString()}::timestamptz)`);
  const [row] = rowsOf<{ claimed: boolean; fingerprint: string | null; response: unknown }>(result);
  if (!row) throw new Error("app_claim_idempotency_key returned no row");
  return row.claimed ? null : { fingerprint: row.fingerprint!, response: jsonOf(row.response) };
}

/**
 * The earlier answer, when this request is the one that made it. Another input (or tenant) under the
 * same key is UNPROCESSABLE_CONTENT (422), as the IETF draft for the header answers a reused key, and
 * nothing runs. The answer was stored by the procedure, shaped by its output schema, which checks it again.
 */
export function replayOf<T>(request: IdempotencyRequest, earlier: EarlierAnswer): T {
  if (earlier.fingerprint !== request.fingerprint) {
    throw new AppError(
      "UNPROCESSABLE_CONTENT",
      `Idempotency-Key "${request.key}" was used with a different request (another input or tenant) in the last 24 hours: use a new key for a new request.`,
      { issues: [{ path: "Idempotency-Key", message: "was used with a different request" }] },
    );
  }
  if (earlier.response === null || earlier.response === undefined) {
    // Only a create earlier in the same transaction leaves no answer yet; not reachable through the API.
    throw new AppError("CONFLICT", `Idempotency-Key "${request.key}" is in use by a request still running: try again in a moment.`, { retryAfterSeconds: 1 });
  }
  request.onReplay();
  return earlier.response as T;
}

export type RunOnceOptions<T> = {
  /** The create's own transaction. */
  db: Transaction;
  /** The call's key (`ctx.idempotency`); null: `create` simply runs. */
  request: IdempotencyRequest | null;
  create: () => Promise<T>;
};

/**
 * Runs `create` once per key, inside the create's own transaction `db`: claims the key first (so a
 * concurrent call with the same key waits here, before any work), then runs `create` and stores its
 * answer in the same transaction. The key is therefore recorded exactly when the create commits: a retry
 * after a lost COMMIT finds it, and a create that fails (a refusal, or the database going away) leaves no
 * key behind, so it can be retried with the same key. Without a key `create` simply runs.
 *
 * Everything `create` writes must go through `db`, and its answer must be the procedure's output (it is
 * what a retry answers). Work after the commit (publishing notifications) belongs after the transaction.
 * @example return runOnce({ db: ctx.db, request: ctx.idempotency, create: () => createThing({ db: ctx.db, input }) });
 */
export async function runOnce<T>({ db, request, create }: RunOnceOptions<T>): Promise<T> {
  if (!request) return create();
  const earlier = await claimIdempotencyKey({ db, request, response: null });
  if (earlier) return replayOf<T>(request, earlier);
  const answer = await create();
  await db.execute(sql`
    update idempotency_keys set response = ${JSON.stringify(answer)}::jsonb
    where user_id = ${request.userId}::uuid and procedure = ${request.procedure} and key = ${request.key}`);
  return answer;
}
