import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../../db/client";
import { AppError } from "../errors";
import type { IdempotencyRequest } from "./request";

/** What the create that first used a key left: its request's fingerprint and its answer. */
export type EarlierAnswer = { fingerprint: string; response: unknown };

/** A jsonb value: postgres.js parses it, PGlite may hand back the text. */
const jsonOf = (value: unknown): unknown => (typeof value === "string" ? JSON.parse(value) : value);

/**
 * Claims the key inside the create's transaction `tx` (db function app_claim_idempotency_key), storing
 * `response` with it when it is already known. Returns null when the key is now this transaction's, or
 * what the create that claimed it first left. A transaction holding the same key makes this wait until it
 * commits (its answer is returned) or rolls back (the key is claimed here).
 */
export async function claimIdempotencyKey(tx: Database, request: IdempotencyRequest, response: unknown): Promise<EarlierAnswer | null> {
  const result = await tx.execute(sql`
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

/**
 * Runs `create` once per key, inside the create's own transaction `tx`: claims the key first (so a
 * concurrent call with the same key waits here, before any work), then runs `create` and stores its
 * answer in the same transaction. The key is therefore recorded exactly when the create commits: a retry
 * after a lost COMMIT finds it, and a create that fails (a refusal, or the database going away) leaves no
 * key behind, so it can be retried with the same key. Without a key `create` simply runs.
 *
 * Everything `create` writes must go through `tx`, and its answer must be the procedure's output (it is
 * what a retry answers). Work after the commit (publishing notifications) belongs after `runOnce`.
 * @example return db.transaction(async (tx) => runOnce(tx, idempotency, () => createThing(tx, input)));
 */
export async function runOnce<T>(tx: Database, request: IdempotencyRequest | null, create: () => Promise<T>): Promise<T> {
  if (!request) return create();
  const earlier = await claimIdempotencyKey(tx, request, null);
  if (earlier) return replayOf<T>(request, earlier);
  const answer = await create();
  await tx.execute(sql`
    update idempotency_keys set response = ${JSON.stringify(answer)}::jsonb
    where user_id = ${request.userId}::uuid and procedure = ${request.procedure} and key = ${request.key}`);
  return answer;
}
