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

GRANT EXECUTE ON FUNCTION app_create_hire(uuid, text, uuid, uuid, text, text, double precision, double precision,
  timestamptz, timestamptz, text, text, timestamptz, uuid, jsonb, uuid, jsonb, text, text, text, text, jsonb) TO aiutami_app;
