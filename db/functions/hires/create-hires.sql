-- Several hires in one statement (group commit): one round trip, one transaction and one WAL flush for
-- hires that arrive together, each written by app_create_hire exactly as when it is called alone, with its
-- own tenant entered, its own checks and its own optional `idempotency` object. `p_hires` is a JSON array of
-- objects whose keys are app_create_hire's parameters without the `p_` prefix, plus `i`, the item's place in
-- the caller's batch, returned as `idx` beside that item's outcome row.
-- The items run in provider order (then in the caller's order), so two batches running at once take the
-- providers' inbox rows in the same order and cannot deadlock, and a provider's seqs follow the caller's
-- order. A refusal is that item's outcome and writes nothing for it; an error aborts the whole statement,
-- and the caller then runs each item alone. Two items of one batch with the same key: the second finds the
-- first's claim in the same transaction and answers its replay. A key another running batch holds makes
-- this one wait for that batch's commit; two batches that wait on each other's keys are a deadlock
-- PostgreSQL ends, and the caller then runs the aborted batch's items alone.
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

GRANT EXECUTE ON FUNCTION app_create_hires(jsonb) TO aiutami_app;
