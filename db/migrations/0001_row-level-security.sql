-- The server's own role: it owns no table and cannot bypass row-level security.
-- Roles are cluster-wide, so create it only when absent (several databases may share a cluster).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aiutami_app') THEN
    CREATE ROLE aiutami_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
--> statement-breakpoint
-- The tenant and user bound to the current transaction by the server (set_config(..., true)).
-- An unset or reset setting reads as '' and becomes NULL here, so a query with nothing bound matches no row.
CREATE OR REPLACE FUNCTION app_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_user_id() RETURNS uuid
  LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO aiutami_app;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app_tenant_id(), app_user_id() TO aiutami_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON users, sessions, tenants, memberships TO aiutami_app;
--> statement-breakpoint
-- The audit log is append-only for the server.
GRANT SELECT, INSERT ON audit_log TO aiutami_app;
--> statement-breakpoint
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
-- A user sees their own memberships (to list their tenants); everything else needs the tenant bound.
CREATE POLICY memberships_read ON memberships FOR SELECT
  USING (tenant_id = app_tenant_id() OR user_id = app_user_id());
--> statement-breakpoint
CREATE POLICY memberships_write ON memberships FOR ALL
  USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
--> statement-breakpoint
-- A tenant row is visible when it is the bound tenant or one the bound user belongs to.
CREATE POLICY tenants_read ON tenants FOR SELECT
  USING (id = app_tenant_id() OR id IN (SELECT m.tenant_id FROM memberships m WHERE m.user_id = app_user_id()));
--> statement-breakpoint
CREATE POLICY tenants_write ON tenants FOR ALL
  USING (id = app_tenant_id()) WITH CHECK (id = app_tenant_id());
--> statement-breakpoint
CREATE POLICY audit_log_tenant ON audit_log FOR ALL
  USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
