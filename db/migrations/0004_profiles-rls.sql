GRANT SELECT, INSERT, UPDATE, DELETE ON provider_profiles TO aiutami_app;
--> statement-breakpoint
ALTER TABLE provider_profiles ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE provider_profiles FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY provider_profiles_tenant ON provider_profiles FOR ALL
  USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
