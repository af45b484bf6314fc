-- A notification for `p_user`: takes their next seq under their inbox row's lock (held to the commit, so per
-- recipient seq order is commit order) and writes the row, stamped just before it is written. Every
-- notification the database writes goes through it (db/functions/hires).
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

GRANT EXECUTE ON FUNCTION app_write_notification(uuid, uuid, uuid, jsonb, text, jsonb) TO aiutami_app;
