-- 'relay' is the scope of the outbox relay and of the hub's catch-up reads: they serve every user, so they
-- bind no single user. It is set like the others (set_config(..., true)), by server code only.
CREATE OR REPLACE FUNCTION app_scope() RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('app.scope', true), '') $$;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app_scope() TO aiutami_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON hires TO aiutami_app;
--> statement-breakpoint
ALTER TABLE hires ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE hires FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY hires_tenant ON hires FOR ALL
  USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
--> statement-breakpoint
-- Counters only (no tenant data): one row per recipient, locked while a notification takes its seq.
GRANT SELECT, INSERT, UPDATE ON user_inbox TO aiutami_app;
--> statement-breakpoint
-- Notifications are the recipient's own across tenants; they are written inside the tenant transaction
-- of the change that causes them, and never deleted by the server.
GRANT SELECT, INSERT, UPDATE ON notifications TO aiutami_app;
--> statement-breakpoint
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY notifications_read ON notifications FOR SELECT
  USING (user_id = app_user_id() OR app_scope() = 'relay');
--> statement-breakpoint
CREATE POLICY notifications_write ON notifications FOR INSERT
  WITH CHECK (tenant_id = app_tenant_id());
--> statement-breakpoint
CREATE POLICY notifications_update ON notifications FOR UPDATE
  USING (user_id = app_user_id() OR app_scope() = 'relay');
