-- Claims an idempotency key for the transaction that runs a create, or finds the create that claimed it
-- first. The key is (user, procedure, key); a row whose expires_at has passed counts as absent and is
-- taken over. INSERT ... ON CONFLICT waits for a concurrent transaction that holds the same key until it
-- commits or rolls back, so of two calls at once with one key the second finds the first's row (and
-- answers its response), or claims the key itself when the first wrote nothing.
--   claimed = true   the key is this transaction's: it commits, or rolls back, with the create
--   claimed = false  fingerprint and response are the earlier create's (response is null only when the
--                    earlier create runs in this same transaction and has not stored it yet)
-- A new claim also deletes up to two of the user's expired keys (skipping rows another transaction holds),
-- so the table keeps about a day of each user's keyed creates without a sweeper. Binds the user for
-- row-level security, as app_enter_tenant does, so any transaction of the server can claim.
CREATE OR REPLACE FUNCTION app_claim_idempotency_key(
  p_user uuid, p_procedure text, p_key text, p_fingerprint text, p_response jsonb, p_now timestamptz, p_expires_at timestamptz,
  OUT claimed boolean, OUT fingerprint text, OUT response jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.user_id', p_user::text, true);
  INSERT INTO idempotency_keys AS k (user_id, procedure, key, fingerprint, response, created_at, expires_at)
    VALUES (p_user, p_procedure, p_key, p_fingerprint, p_response, p_now, p_expires_at)
    ON CONFLICT (user_id, procedure, key) DO UPDATE
      SET fingerprint = excluded.fingerprint, response = excluded.response, created_at = excluded.created_at, expires_at = excluded.expires_at
      WHERE k.expires_at <= p_now;
  IF FOUND THEN
    claimed := true;
    DELETE FROM idempotency_keys d USING (
        SELECT x.procedure, x.key FROM idempotency_keys x
          WHERE x.user_id = p_user AND x.expires_at <= p_now
          LIMIT 2 FOR UPDATE SKIP LOCKED) old
      WHERE d.user_id = p_user AND d.procedure = old.procedure AND d.key = old.key;
    RETURN;
  END IF;
  claimed := false;
  SELECT k.fingerprint, k.response INTO fingerprint, response FROM idempotency_keys k
    WHERE k.user_id = p_user AND k.procedure = p_procedure AND k.key = p_key;
END $$;

GRANT EXECUTE ON FUNCTION app_claim_idempotency_key(uuid, text, text, text, jsonb, timestamptz, timestamptz) TO aiutami_app;
