-- The tenant and user bound to the current transaction by the server (set_config(..., true)).
-- An unset or reset setting reads as '' and becomes NULL here, so a query with nothing bound matches no row.
CREATE OR REPLACE FUNCTION app_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

GRANT EXECUTE ON FUNCTION app_tenant_id() TO aiutami_app;
