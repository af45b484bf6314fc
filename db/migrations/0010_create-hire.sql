-- A notification for `p_user`: takes their next seq under their inbox row's lock (held to the commit, so per
-- recipient seq order is commit order) and writes the row, stamped just before it is written. Shared by
-- app_create_hire below and app_transition_hire (migration 0011).
CREATE OR REPLACE FUNCTION app_write_notification(
  p_id uuid, p_user uuid, p_tenant_id uuid, p_tenant jsonb, p_type text, p_payload jsonb,
  OUT seq bigint, OUT written_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
  INSERT INTO user_inbox AS ui (user_id, last_seq) VALUES (p_user, 1)
    ON CONFLICT (user_id) DO UPDATE SET last_seq = ui.last_seq + 1
    RETURNING ui.last_seq INTO seq;
  written_at := clock_timestamp();
  INSERT INTO notifications (id, user_id, seq, tenant_id, tenant, type, payload, created_at)
    VALUES (p_id, p_user, seq, p_tenant_id, p_tenant, p_type, p_payload, written_at);
END $$;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app_write_notification(uuid, uuid, uuid, jsonb, text, jsonb) TO aiutami_app;
--> statement-breakpoint
-- A hire in one statement, so in one round trip and one implicit transaction: enter the tenant (as
-- app_enter_tenant does), check the caller's role and the provider, then write the hire, the provider's
-- notification (taking the next seq under the inbox row's lock) and the audit row. SECURITY INVOKER:
-- row-level security applies exactly as it does to the same statements sent one by one, with the user
-- and the tenant bound transaction-locally. A refusal writes nothing and says which check failed:
--   no_tenant    the tenant is unknown or not the caller's (no tenant bound, nothing read)
--   not_client   the caller's role in the tenant is not client (member_role says which it is)
--   no_provider  no published provider with that id in the tenant
--   created      everything is written; seq is the notification's place in the provider's inbox,
--                notified_at the moment its row was written, just before the commit, and payload what
--                it carries (p_payload with the tenant's id)
-- Ids and the hire's times come from the caller, which returns the hire and publishes the notification
-- after the statement commits.
CREATE OR REPLACE FUNCTION app_create_hire(
  p_user uuid, p_ref text,
  p_hire_id uuid, p_provider uuid, p_job text, p_location text, p_lat double precision, p_lng double precision,
  p_starts_at timestamptz, p_ends_at timestamptz, p_client_name text, p_client_phone text, p_now timestamptz,
  p_notification_id uuid, p_payload jsonb,
  p_audit_id uuid, p_audit_changes jsonb, p_session text, p_ip text, p_user_agent text, p_request_id text)
RETURNS TABLE (outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role, seq bigint, notified_at timestamptz,
               payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
  t record;
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
  IF t.member_role <> 'client' THEN
    outcome := 'not_client';
    RETURN NEXT;
    RETURN;
  END IF;
  PERFORM 1 FROM memberships m
    JOIN provider_profiles pp ON pp.tenant_id = m.tenant_id AND pp.user_id = m.user_id
    WHERE m.tenant_id = t.tenant_id AND m.user_id = p_provider AND m.role = 'provider' AND pp.published;
  IF NOT FOUND THEN
    outcome := 'no_provider';
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
  timestamptz, timestamptz, text, text, timestamptz, uuid, jsonb, uuid, jsonb, text, text, text, text) TO aiutami_app;
