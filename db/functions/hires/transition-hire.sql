-- One step of a hire (accept, decline, cancel, complete) in one statement, as app_create_hire does for the
-- first: enter the tenant, check the caller's role, move the hire from one of the allowed states if the
-- caller is an allowed party, and write the other party's notification and the audit row. SECURITY
-- INVOKER: row-level security applies as to the same statements sent one by one. The UPDATE carries the
-- allowed states and parties in its WHERE, so of two racing steps only one matches. Outcomes:
--   no_tenant   the tenant is unknown or not the caller's
--   wrong_role  the caller's role is not among p_roles (NULL: any member); member_role says which it is
--   not_found   no such hire, or not one the caller may see (a party, or an owner or admin)
--   not_party   the caller may see the hire but is not a party allowed to take this step
--   conflict    the caller may take it, but not from the hire's current state (current_status)
--   done        written: hire is the updated row, recipient the notified party, seq, notified_at and
--               payload the notification's
CREATE OR REPLACE FUNCTION app_transition_hire(
  p_user uuid, p_ref text, p_hire uuid, p_roles tenant_role[],
  p_from hire_status[], p_to hire_status, p_by_client boolean, p_by_provider boolean,
  p_by_name text, p_action text, p_now timestamptz,
  p_notification_id uuid, p_audit_id uuid, p_session text, p_ip text, p_user_agent text, p_request_id text)
RETURNS TABLE (outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role,
               current_status hire_status, hire jsonb, recipient uuid, seq bigint, notified_at timestamptz, payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
  t record;
  h hires%ROWTYPE;
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
  IF p_roles IS NOT NULL AND NOT (t.member_role = ANY (p_roles)) THEN
    outcome := 'wrong_role';
    RETURN NEXT;
    RETURN;
  END IF;

  UPDATE hires AS x SET status = p_to, updated_at = p_now
    WHERE x.tenant_id = t.tenant_id AND x.id = p_hire AND x.status = ANY (p_from)
      AND ((p_by_client AND x.client_id = p_user) OR (p_by_provider AND x.provider_id = p_user))
    RETURNING x.* INTO h;
  IF NOT FOUND THEN
    SELECT x.* INTO h FROM hires x WHERE x.tenant_id = t.tenant_id AND x.id = p_hire;
    IF NOT FOUND OR (t.member_role NOT IN ('owner', 'admin') AND h.client_id <> p_user AND h.provider_id <> p_user) THEN
      outcome := 'not_found';
    ELSIF NOT ((p_by_client AND h.client_id = p_user) OR (p_by_provider AND h.provider_id = p_user)) THEN
      outcome := 'not_party';
    ELSE
      outcome := 'conflict';
      current_status := h.status;
    END IF;
    RETURN NEXT;
    RETURN;
  END IF;

  recipient := CASE WHEN h.client_id = p_user THEN h.provider_id ELSE h.client_id END;
  payload := jsonb_build_object(
    'hireId', h.id, 'tenantId', t.tenant_id, 'userId', recipient, 'status', p_to::text,
    'byUserId', p_user, 'byName', p_by_name,
    'time', to_char(h.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'jobDescription', h.job_description);
  SELECT w.seq, w.written_at INTO next_seq, written_at FROM app_write_notification(
    p_notification_id, recipient, t.tenant_id, jsonb_build_object('id', t.tenant_id, 'slug', t.tenant_slug, 'name', t.tenant_name),
    'hire.' || p_to::text, payload) w;
  INSERT INTO audit_log (id, tenant_id, actor_user_id, actor_session_id, action, entity_type, entity_id, changes,
                         ip, user_agent, request_id, created_at)
    VALUES (p_audit_id, t.tenant_id, p_user, p_session, 'hire.' || p_action, 'hire', h.id::text,
            jsonb_build_object('status', jsonb_build_object('to', p_to::text)),
            p_ip, p_user_agent, p_request_id, p_now);
  outcome := 'done';
  hire := to_jsonb(h);
  seq := next_seq;
  notified_at := written_at;
  RETURN NEXT;
END $$;

GRANT EXECUTE ON FUNCTION app_transition_hire(uuid, text, uuid, tenant_role[], hire_status[], hire_status, boolean, boolean,
  text, text, timestamptz, uuid, uuid, text, text, text, text) TO aiutami_app;
