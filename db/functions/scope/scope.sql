-- 'relay' is the scope of the outbox relay and of the hub's catch-up reads: they serve every user, so they
-- bind no single user. It is set like the others (set_config(..., true)), by server code only.
CREATE OR REPLACE FUNCTION app_scope() RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('app.scope', true), '') $$;

GRANT EXECUTE ON FUNCTION app_scope() TO aiutami_app;
