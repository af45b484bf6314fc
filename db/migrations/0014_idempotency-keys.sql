CREATE TABLE "idempotency_keys" (
	"user_id" uuid NOT NULL,
	"procedure" text NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"response" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_user_id_procedure_key_pk" PRIMARY KEY("user_id","procedure","key")
);
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idempotency_keys_user_id_expires_at_index" ON "idempotency_keys" USING btree ("user_id","expires_at");--> statement-breakpoint
-- Idempotency keys (server/idempotency): a user's own rows, across tenants, never another's.
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO aiutami_app;
--> statement-breakpoint
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY idempotency_keys_own ON idempotency_keys FOR ALL
  USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
--> statement-breakpoint
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
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app_claim_idempotency_key(uuid, text, text, text, jsonb, timestamptz, timestamptz) TO aiutami_app;
--> statement-breakpoint
-- app_create_hire (migration 0010) with an idempotency key: `p_idempotency` is null, or an object
-- { procedure, key, fingerprint, now, expires_at, response }, as app_claim_idempotency_key takes them,
-- where `response` is the hire as the caller will answer it, without its tenant id. The key is claimed in the hire's own transaction, right after the
-- tenant is entered, so it is recorded exactly when the hire commits: a retry after a lost COMMIT finds
-- it and creates nothing. Outcomes as in 0010, plus:
--   replay   the key was claimed before (committed, or earlier in this same statement): nothing is
--            written; replay_fingerprint and replay_response are the first request's
-- A refusal (not_client, no_provider) also releases the key it claimed, so it writes nothing at all.
CREATE OR REPLACE FUNCTION app_create_hire(
  p_user uuid, p_ref text,
  p_hire_id uuid, p_provider uuid, p_job text, p_location text, p_lat double precision, p_lng double precision,
  p_starts_at timestamptz, p_ends_at timestamptz, p_client_name text, p_client_phone text, p_now timestamptz,
  p_notification_id uuid, p_payload jsonb,
  p_audit_id uuid, p_audit_changes jsonb, p_session text, p_ip text, p_user_agent text, p_request_id text,
  p_idempotency jsonb)
RETURNS TABLE (outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role, seq bigint, notified_at timestamptz,
               payload jsonb, replay_fingerprint text, replay_response jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
  t record;
  c record;
  keyed boolean := coalesce(jsonb_typeof(p_idempotency) = 'object', false);
  next_seq bigint;
  written_at timestamptz;
BEGIN
  SELECT e.tenant_id, e.tenant_slug, e.tenant_name, e.member_role INTO t FROM app_enter_tenant(p_user, p_ref) e;
  IF NOT FOUND THEN
    outcome := 'no_tenant';
    RETURN NEXT;
    RETURN;
  END IF;
  tenant_id := t.tenant_id;
  tenant_slug := t.tenant_slug;
  tenant_name := t.tenant_name;
  member_role := t.member_role;
  IF keyed THEN
    SELECT * INTO c FROM app_claim_idempotency_key(p_user, p_idempotency->>'procedure', p_idempotency->>'key', p_idempotency->>'fingerprint',
      (p_idempotency->'response') || jsonb_build_object('tenantId', t.tenant_id),
      (p_idempotency->>'now')::timestamptz, (p_idempotency->>'expires_at')::timestamptz);
    IF NOT c.claimed THEN
      outcome := 'replay';
      replay_fingerprint := c.fingerprint;
      replay_response := c.response;
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;
  IF t.member_role <> 'client' THEN
    outcome := 'not_client';
  ELSE
    PERFORM 1 FROM memberships m
      JOIN provider_profiles pp ON pp.tenant_id = m.tenant_id AND pp.user_id = m.user_id
      WHERE m.tenant_id = t.tenant_id AND m.user_id = p_provider AND m.role = 'provider' AND pp.published;
    IF NOT FOUND THEN
      outcome := 'no_provider';
    END IF;
  END IF;
  IF outcome IS NOT NULL THEN
    IF keyed THEN
      DELETE FROM idempotency_keys k
        WHERE k.user_id = p_user AND k.procedure = p_idempotency->>'procedure' AND k.key = p_idempotency->>'key';
    END IF;
    RETURN NEXT;
    RETURN;
  END IF;

  INSERT INTO hires (id, tenant_id, client_id, provider_id, status, job_description, location, lat, lng,
                     starts_at, ends_at, client_full_name, client_phone, created_at, updated_at)
    VALUES (p_hire_id, t.tenant_id, p_user, p_provider, 'requested', p_job, p_location, p_lat, p_lng,
            p_starts_at, p_ends_at, p_client_name, p_client_phone, p_now, p_now);
  payload := p_payload || jsonb_build_object('tenantId', t.tenant_id);
  SELECT w.seq, w.written_at INTO next_seq, written_at FROM app_write_notification(
    p_notification_id, p_provider, t.tenant_id, jsonb_build_object('id', t.tenant_id, 'slug', t.tenant_slug, 'name', t.tenant_name),
    'hire.requested', payload) w;
  INSERT INTO audit_log (id, tenant_id, actor_user_id, actor_session_id, action, entity_type, entity_id, changes,
                         ip, user_agent, request_id, created_at)
    VALUES (p_audit_id, t.tenant_id, p_user, p_session, 'hire.create', 'hire', p_hire_id::text, p_audit_changes,
            p_ip, p_user_agent, p_request_id, p_now);
  outcome := 'created';
  seq := next_seq;
  notified_at := written_at;
  RETURN NEXT;
END $$;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app_create_hire(uuid, text, uuid, uuid, text, text, double precision, double precision,
  timestamptz, timestamptz, text, text, timestamptz, uuid, jsonb, uuid, jsonb, text, text, text, text, jsonb) TO aiutami_app;
--> statement-breakpoint
-- The version without a key (0010) now runs the one above, so the rule lives in one place; it stays for
-- a server of the previous release still running during an upgrade.
CREATE OR REPLACE FUNCTION app_create_hire(
  p_user uuid, p_ref text,
  p_hire_id uuid, p_provider uuid, p_job text, p_location text, p_lat double precision, p_lng double precision,
  p_starts_at timestamptz, p_ends_at timestamptz, p_client_name text, p_client_phone text, p_now timestamptz,
  p_notification_id uuid, p_payload jsonb,
  p_audit_id uuid, p_audit_changes jsonb, p_session text, p_ip text, p_user_agent text, p_request_id text)
RETURNS TABLE (outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role, seq bigint, notified_at timestamptz,
               payload jsonb)
LANGUAGE sql VOLATILE SECURITY INVOKER AS $$
  SELECT c.outcome, c.tenant_id, c.tenant_slug, c.tenant_name, c.member_role, c.seq, c.notified_at, c.payload
    FROM app_create_hire(p_user, p_ref, p_hire_id, p_provider, p_job, p_location, p_lat, p_lng, p_starts_at, p_ends_at,
                         p_client_name, p_client_phone, p_now, p_notification_id, p_payload, p_audit_id, p_audit_changes,
                         p_session, p_ip, p_user_agent, p_request_id, NULL::jsonb) c
$$;
--> statement-breakpoint
-- app_create_hires (0012) with each item's optional `idempotency` object (as app_create_hire's
-- p_idempotency above) and the replay columns. Its result columns change, so it is dropped and made
-- again; a caller that selects the old columns by name still works. Two items of one batch with the same
-- key: the second finds the first's claim in the same transaction and answers its replay. A key another
-- running batch holds makes this one wait for that batch's commit; two batches that wait on each other's
-- keys are a deadlock PostgreSQL ends, and the caller then runs the aborted batch's items alone.
DROP FUNCTION app_create_hires(jsonb);
--> statement-breakpoint
CREATE FUNCTION app_create_hires(p_hires jsonb)
RETURNS TABLE (idx integer, outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role, seq bigint,
               notified_at timestamptz, payload jsonb, replay_fingerprint text, replay_response jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
  h record;
BEGIN
  FOR h IN
    SELECT * FROM jsonb_to_recordset(p_hires) AS x(
      i integer, "user" uuid, ref text, hire_id uuid, provider uuid, job text, location text, lat double precision, lng double precision,
      starts_at timestamptz, ends_at timestamptz, client_name text, client_phone text, now timestamptz,
      notification_id uuid, payload jsonb, audit_id uuid, audit_changes jsonb, session text, ip text, user_agent text, request_id text,
      idempotency jsonb)
    ORDER BY x.provider, x.i
  LOOP
    RETURN QUERY SELECT h.i, c.outcome, c.tenant_id, c.tenant_slug, c.tenant_name, c.member_role, c.seq, c.notified_at, c.payload,
                        c.replay_fingerprint, c.replay_response
      FROM app_create_hire(h."user", h.ref, h.hire_id, h.provider, h.job, h.location, h.lat, h.lng, h.starts_at, h.ends_at,
                           h.client_name, h.client_phone, h.now, h.notification_id, h.payload, h.audit_id, h.audit_changes,
                           h.session, h.ip, h.user_agent, h.request_id, h.idempotency) c;
  END LOOP;
END $$;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app_create_hires(jsonb) TO aiutami_app;
