-- Records appended notifications as streamed in one statement, in the relay's scope, without an explicit
-- transaction (the relay's fast path calls it many times a second). The scope is transaction-local.
CREATE OR REPLACE FUNCTION app_mark_streamed(p_ids uuid[]) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
  updated integer;
BEGIN
  PERFORM set_config('app.scope', 'relay', true);
  UPDATE notifications SET streamed_at = now() WHERE id = ANY(p_ids) AND streamed_at IS NULL;
  GET DIAGNOSTICS updated = ROW_COUNT;
  PERFORM set_config('app.scope', '', true);
  RETURN updated;
END $$;

GRANT EXECUTE ON FUNCTION app_mark_streamed(uuid[]) TO aiutami_app;
