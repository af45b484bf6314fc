-- The hire functions as the previous release's server (commit 4e6b8df, migrations to 0012) calls them, kept only while such a server may still
-- be running: during a rolling upgrade, a server of the previous release keeps serving against the
-- migrated database. Each translates its arguments into the current function's statement and runs it,
-- so the rules stay in app_create_hire(jsonb) and app_transition_hire(jsonb): the previous release built
-- the requested payload and the audit changes itself, and those arguments are ignored (the current
-- functions build the same payload, and the audit changes in the current shape). That release's server
-- asked for the client role on every create and named wrong_role not_client, which is what they pass and
-- answer. Drop all three in the next release's migration, and this file with them.

-- The previous release's app_create_hire: one hire, its values as arguments, no idempotency key.
CREATE OR REPLACE FUNCTION app_create_hire(
  p_user uuid, p_ref text,
  p_hire_id uuid, p_provider uuid, p_job text, p_location text, p_lat double precision, p_lng double precision,
  p_starts_at timestamptz, p_ends_at timestamptz, p_client_name text, p_client_phone text, p_now timestamptz,
  p_notification_id uuid, p_payload jsonb,
  p_audit_id uuid, p_audit_changes jsonb, p_session text, p_ip text, p_user_agent text, p_request_id text)
RETURNS TABLE (outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role, seq bigint, notified_at timestamptz,
               payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
  RETURN QUERY
    SELECT CASE c.outcome WHEN 'wrong_role' THEN 'not_client' ELSE c.outcome END, c.tenant_id, c.tenant_slug, c.tenant_name,
           c.member_role, c.seq, c.notified_at, c.payload
      FROM app_create_hire(jsonb_build_array(jsonb_build_object(
        'ref', p_ref,
        'roles', jsonb_build_array('client'),
        'hire', jsonb_build_object(
          'id', p_hire_id, 'clientId', p_user, 'providerId', p_provider, 'status', 'requested', 'jobDescription', p_job,
          'location', p_location, 'lat', p_lat, 'lng', p_lng, 'startsAt', app_json_time(p_starts_at), 'endsAt', app_json_time(p_ends_at),
          'clientFullName', p_client_name, 'clientPhone', p_client_phone, 'createdAt', app_json_time(p_now), 'updatedAt', app_json_time(p_now)),
        'notificationId', p_notification_id,
        'auditId', p_audit_id,
        'actor', jsonb_build_object('actorUserId', p_user, 'actorSessionId', p_session, 'ip', p_ip, 'userAgent', p_user_agent, 'requestId', p_request_id),
        'idempotency', NULL))) c;
END $$;

GRANT EXECUTE ON FUNCTION app_create_hire(uuid, text, uuid, uuid, text, text, double precision, double precision,
  timestamptz, timestamptz, text, text, timestamptz, uuid, jsonb, uuid, jsonb, text, text, text, text) TO aiutami_app;

-- The previous release's group commit: a JSON array of the arguments above by name (without `p_`), plus
-- `i`, the item's place in the batch, answered as `idx`; in provider order, as app_create_hire(jsonb).
-- Its result keeps the two replay columns (always null here) that the database's version already has.
CREATE OR REPLACE FUNCTION app_create_hires(p_hires jsonb)
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
      notification_id uuid, payload jsonb, audit_id uuid, audit_changes jsonb, session text, ip text, user_agent text, request_id text)
    ORDER BY x.provider, x.i
  LOOP
    RETURN QUERY SELECT h.i, c.outcome, c.tenant_id, c.tenant_slug, c.tenant_name, c.member_role, c.seq, c.notified_at, c.payload,
                        NULL::text, NULL::jsonb
      FROM app_create_hire(h."user", h.ref, h.hire_id, h.provider, h.job, h.location, h.lat, h.lng, h.starts_at, h.ends_at,
                           h.client_name, h.client_phone, h.now, h.notification_id, h.payload, h.audit_id, h.audit_changes,
                           h.session, h.ip, h.user_agent, h.request_id) c;
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION app_create_hires(jsonb) TO aiutami_app;

-- The previous release's app_transition_hire: the step's rule as arguments (roles NULL: any member; the
-- parties as two flags), and `hire` answered as that release reads it, the row's to_jsonb.
CREATE OR REPLACE FUNCTION app_transition_hire(
  p_user uuid, p_ref text, p_hire uuid, p_roles tenant_role[],
  p_from hire_status[], p_to hire_status, p_by_client boolean, p_by_provider boolean,
  p_by_name text, p_action text, p_now timestamptz,
  p_notification_id uuid, p_audit_id uuid, p_session text, p_ip text, p_user_agent text, p_request_id text)
RETURNS TABLE (outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role,
               current_status hire_status, hire jsonb, recipient uuid, seq bigint, notified_at timestamptz, payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
  r record;
BEGIN
  SELECT * INTO r FROM app_transition_hire(jsonb_build_object(
    'user', p_user, 'ref', p_ref, 'hireId', p_hire, 'action', p_action,
    'rule', jsonb_build_object(
      'roles', to_jsonb(coalesce(p_roles, enum_range(NULL::tenant_role))),
      'by', to_jsonb(array_remove(ARRAY[CASE WHEN p_by_client THEN 'client' END, CASE WHEN p_by_provider THEN 'provider' END], NULL)),
      'from', to_jsonb(p_from), 'to', p_to),
    'byName', p_by_name, 'now', p_now, 'notificationId', p_notification_id, 'auditId', p_audit_id,
    'actor', jsonb_build_object('actorUserId', p_user, 'actorSessionId', p_session, 'ip', p_ip, 'userAgent', p_user_agent, 'requestId', p_request_id)));
  outcome := r.outcome;
  tenant_id := r.tenant_id;
  tenant_slug := r.tenant_slug;
  tenant_name := r.tenant_name;
  member_role := r.member_role;
  current_status := r.current_status;
  IF r.outcome = 'done' THEN
    SELECT to_jsonb(x) INTO hire FROM hires x WHERE x.id = p_hire;
  END IF;
  recipient := r.recipient;
  seq := r.seq;
  notified_at := r.notified_at;
  payload := r.payload;
  RETURN NEXT;
END $$;

GRANT EXECUTE ON FUNCTION app_transition_hire(uuid, text, uuid, tenant_role[], hire_status[], hire_status, boolean, boolean,
  text, text, timestamptz, uuid, uuid, text, text, text, text) TO aiutami_app;
