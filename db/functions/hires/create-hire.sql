-- Writes hires: `p_hires` is a JSON array of statements, one for a hire written alone, several for a
-- group commit (server/hires/writer.ts), which then share one round trip, one transaction and one WAL
-- flush. A statement is CreateHireStatement in server/hires/statements.ts, the one declaration of its
-- keys:
--   ref             the tenant, as the caller named it (an id or a slug)
--   roles           the tenant roles that may create a hire (HIRE_RULES in server/hires/rules.ts)
--   hire            the new hire as the call answers it, but for its tenant id: the row to insert, and
--                   the answer a key stores. Its client is the caller.
--   notificationId, auditId   the ids of the rows it writes besides the hire
--   actor           the audit row's actor (app_write_audit)
--   idempotency     null, or { procedure, key, fingerprint, now, expiresAt }: the call's key, claimed in
--                   the hire's own transaction, so it is recorded exactly when the hire commits
-- Each statement enters its tenant as its client (app_enter_tenant: row-level security applies as to
-- statements sent one by one), claims its key, checks the role and the provider, and writes the hire, the
-- provider's notification (app_notify_hire) and the audit row. One row per statement, `idx` its place in
-- the array, with its outcome:
--   created      written; recipient, notification_type, seq, notified_at and payload are the
--                notification's (app_notify_hire), tenant_* its tenant's
--   replay       the key was claimed before (committed, or by an earlier statement of this array):
--                nothing written; replay_fingerprint and replay_response are the first request's
--   no_tenant    the tenant is unknown or not the caller's
--   wrong_role   the caller's role (member_role) is not among `roles`
--   no_provider  hire.providerId is not a published provider of the tenant
-- A refusal writes nothing, and releases the key it claimed. An error (a constraint, a value PostgreSQL
-- will not store) aborts the whole statement: the writer then sends each hire alone.
-- Statements run in provider order (then in array order), so two group commits running at once take the
-- providers' inbox rows in the same order and cannot deadlock, and a provider's seqs follow the array. A
-- key that another running statement holds makes this one wait for that one's commit; two that wait on
-- each other's keys are a deadlock PostgreSQL ends, and the writer then sends the aborted one's hires alone.
CREATE OR REPLACE FUNCTION app_create_hire(p_hires jsonb)
RETURNS TABLE (idx integer, outcome text, tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role,
               recipient uuid, notification_type text, seq bigint, notified_at timestamptz, payload jsonb,
               replay_fingerprint text, replay_response jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
#variable_conflict use_column
DECLARE
  s record;
  t record;
  claim record;
  h hires%ROWTYPE;
  n record;
  k jsonb;
BEGIN
  FOR s IN
    SELECT (x.n - 1)::integer AS i, x.value AS p, (x.value->'hire'->>'clientId')::uuid AS client,
           (x.value->'hire'->>'providerId')::uuid AS provider
      FROM jsonb_array_elements(p_hires) WITH ORDINALITY AS x(value, n)
      ORDER BY provider, x.n
  LOOP
    idx := s.i;
    outcome := NULL; tenant_id := NULL; tenant_slug := NULL; tenant_name := NULL; member_role := NULL;
    recipient := NULL; notification_type := NULL; seq := NULL; notified_at := NULL; payload := NULL; replay_fingerprint := NULL; replay_response := NULL;
    k := CASE WHEN jsonb_typeof(s.p->'idempotency') = 'object' THEN s.p->'idempotency' END;

    SELECT e.tenant_id, e.tenant_slug, e.tenant_name, e.member_role INTO t FROM app_enter_tenant(s.client, s.p->>'ref') e;
    IF NOT FOUND THEN
      outcome := 'no_tenant';
      RETURN NEXT;
      CONTINUE;
    END IF;
    tenant_id := t.tenant_id;
    tenant_slug := t.tenant_slug;
    tenant_name := t.tenant_name;
    member_role := t.member_role;

    IF k IS NOT NULL THEN
      SELECT * INTO claim FROM app_claim_idempotency_key(s.client, k->>'procedure', k->>'key', k->>'fingerprint',
        (s.p->'hire') || jsonb_build_object('tenantId', t.tenant_id), (k->>'now')::timestamptz, (k->>'expiresAt')::timestamptz);
      IF NOT claim.claimed THEN
        outcome := 'replay';
        replay_fingerprint := claim.fingerprint;
        replay_response := claim.response;
        RETURN NEXT;
        CONTINUE;
      END IF;
    END IF;

    IF NOT coalesce((s.p->'roles') ? t.member_role::text, false) THEN
      outcome := 'wrong_role';
    ELSIF NOT EXISTS (
      SELECT 1 FROM memberships m
        JOIN provider_profiles pp ON pp.tenant_id = m.tenant_id AND pp.user_id = m.user_id
        WHERE m.tenant_id = t.tenant_id AND m.user_id = s.provider AND m.role = 'provider' AND pp.published) THEN
      outcome := 'no_provider';
    END IF;
    IF outcome IS NOT NULL THEN
      IF k IS NOT NULL THEN
        DELETE FROM idempotency_keys x WHERE x.user_id = s.client AND x.procedure = k->>'procedure' AND x.key = k->>'key';
      END IF;
      RETURN NEXT;
      CONTINUE;
    END IF;

    INSERT INTO hires AS x (id, tenant_id, client_id, provider_id, status, job_description, location, lat, lng,
                            starts_at, ends_at, client_full_name, client_phone, created_at, updated_at)
      VALUES ((s.p->'hire'->>'id')::uuid, t.tenant_id, s.client, s.provider, (s.p->'hire'->>'status')::hire_status,
              s.p->'hire'->>'jobDescription', s.p->'hire'->>'location', (s.p->'hire'->>'lat')::double precision,
              (s.p->'hire'->>'lng')::double precision, (s.p->'hire'->>'startsAt')::timestamptz, (s.p->'hire'->>'endsAt')::timestamptz,
              s.p->'hire'->>'clientFullName', s.p->'hire'->>'clientPhone', (s.p->'hire'->>'createdAt')::timestamptz,
              (s.p->'hire'->>'updatedAt')::timestamptz)
      RETURNING x.* INTO h;
    SELECT * INTO n FROM app_notify_hire((s.p->>'notificationId')::uuid, h, h.client_id, h.client_full_name,
      jsonb_build_object('id', t.tenant_id, 'slug', t.tenant_slug, 'name', t.tenant_name));
    PERFORM app_write_audit((s.p->>'auditId')::uuid, t.tenant_id, s.p->'actor', 'hire.create', 'hire', h.id::text,
      jsonb_build_object('status', h.status, 'providerId', h.provider_id), h.created_at);
    outcome := 'created';
    recipient := n.recipient;
    notification_type := n.notification_type;
    seq := n.seq;
    notified_at := n.written_at;
    payload := n.payload;
    RETURN NEXT;
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION app_create_hire(jsonb) TO aiutami_app;
