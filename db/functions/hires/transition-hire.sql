-- One step of a hire (accept, decline, cancel, complete) in one statement. `p_step` is
-- TransitionHireStatement in server/hires/statements.ts, the one declaration of its keys:
--   user, ref       the caller, and the tenant as they named it
--   hireId, action  the hire, and the step's name (the audit row's action is 'hire.' || action)
--   rule            the step's row of HIRE_RULES (server/hires/rules.ts): `roles`, the tenant roles that may
--                   call it; `by`, the parties of the hire ("client", "provider") who may take it; `from`,
--                   the states it leaves; `to`, the state it reaches
--   byName, now     the caller's name for the notification, and the time the change is stamped with
--   notificationId, auditId, actor   as for app_create_hire
-- It enters the tenant as the caller (row-level security applies as to statements sent one by one),
-- checks the role, locks the hire, and checks in this order who may see it (app_hire_visible), whether
-- the caller is a party the step allows, and whether the hire is in a state the step leaves; then it
-- updates the hire and writes the other party's notification (app_notify_hire) and the audit row. The
-- lock makes racing steps take turns: the second sees the first's state, and answers conflict. Outcomes:
--   no_tenant   the tenant is unknown or not the caller's
--   wrong_role  the caller's role (member_role) is not among rule.roles
--   not_found   no such hire, or not one the caller may see
--   not_party   the caller may see the hire but is not a party the step allows
--   conflict    the caller may take the step, but not from the hire's current state (current_status)
--   done        written: hire is the updated hire as the API answers it (app_hire_json); recipient,
--               notification_type, seq, notified_at and payload are the notification's (app_notify_hire)
-- A refusal writes nothing.
CREATE OR REPLACE FUNCTION app_transition_hire(p_step jsonb)
RETURNS TABLE (outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role,
               current_status hire_status, hire jsonb, recipient uuid, notification_type text, seq bigint, notified_at timestamptz, payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
  caller uuid := (p_step->>'user')::uuid;
  step_rule jsonb := p_step->'rule';
  t record;
  h hires%ROWTYPE;
  left_status hire_status;
  n record;
BEGIN
  SELECT e.tenant_id, e.tenant_slug, e.tenant_name, e.member_role INTO t FROM app_enter_tenant(caller, p_step->>'ref') e;
  IF NOT FOUND THEN
    outcome := 'no_tenant';
    RETURN NEXT;
    RETURN;
  END IF;
  tenant_id := t.tenant_id;
  tenant_slug := t.tenant_slug;
  tenant_name := t.tenant_name;
  member_role := t.member_role;
  IF NOT coalesce((step_rule->'roles') ? t.member_role::text, false) THEN
    outcome := 'wrong_role';
    RETURN NEXT;
    RETURN;
  END IF;

  SELECT x.* INTO h FROM hires x WHERE x.tenant_id = t.tenant_id AND x.id = (p_step->>'hireId')::uuid FOR UPDATE;
  IF NOT FOUND OR NOT app_hire_visible(h.client_id, h.provider_id, caller, t.member_role) THEN
    outcome := 'not_found';
  ELSIF NOT ((h.client_id = caller AND coalesce((step_rule->'by') ? 'client', false))
          OR (h.provider_id = caller AND coalesce((step_rule->'by') ? 'provider', false))) THEN
    outcome := 'not_party';
  ELSIF NOT coalesce((step_rule->'from') ? h.status::text, false) THEN
    outcome := 'conflict';
    current_status := h.status;
  END IF;
  IF outcome IS NOT NULL THEN
    RETURN NEXT;
    RETURN;
  END IF;

  left_status := h.status;
  UPDATE hires AS x SET status = (step_rule->>'to')::hire_status, updated_at = (p_step->>'now')::timestamptz
    WHERE x.tenant_id = h.tenant_id AND x.id = h.id
    RETURNING x.* INTO h;
  SELECT * INTO n FROM app_notify_hire((p_step->>'notificationId')::uuid, h, caller, p_step->>'byName',
    jsonb_build_object('id', t.tenant_id, 'slug', t.tenant_slug, 'name', t.tenant_name));
  PERFORM app_write_audit((p_step->>'auditId')::uuid, t.tenant_id, p_step->'actor', 'hire.' || (p_step->>'action'), 'hire', h.id::text,
    jsonb_build_object('status', jsonb_build_object('from', left_status, 'to', h.status)), h.updated_at);
  outcome := 'done';
  hire := app_hire_json(h);
  recipient := n.recipient;
  notification_type := n.notification_type;
  seq := n.seq;
  notified_at := n.written_at;
  payload := n.payload;
  RETURN NEXT;
END $$;

GRANT EXECUTE ON FUNCTION app_transition_hire(jsonb) TO aiutami_app;
