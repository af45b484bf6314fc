-- Slugs that PostgreSQL would read as a uuid (once their hyphens are dropped) could shadow another
-- tenant's id in x-tenant-id. The app never made one on purpose, but a tenant named like an id got one as its
-- derived slug. Rename any such slug before the checks below make them impossible: "t-" is never hex. The
-- owner role may not bypass the FORCEd row-level security, so lift FORCE for this one statement.
ALTER TABLE "tenants" NO FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
UPDATE "tenants" SET "slug" = 't-' || "slug" WHERE replace("slug", '-', '') ~* '^[0-9a-f]{32}$';
--> statement-breakpoint
ALTER TABLE "tenants" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE TYPE "public"."invitation_status" AS ENUM('pending', 'accepted', 'declined', 'revoked');--> statement-breakpoint
CREATE TABLE "tenant_invitations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"email" text NOT NULL,
	"role" "tenant_role" NOT NULL,
	"status" "invitation_status" DEFAULT 'pending' NOT NULL,
	"invited_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "tenant_invitations" ADD CONSTRAINT "tenant_invitations_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_invitations" ADD CONSTRAINT "tenant_invitations_invited_by_users_id_fk" FOREIGN KEY ("invited_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "tenant_invitations_pending_idx" ON "tenant_invitations" USING btree ("tenant_id","email") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "tenant_invitations_email_pending_idx" ON "tenant_invitations" USING btree ("email") WHERE status = 'pending';--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_slug_format" CHECK ("tenants"."slug" ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$');--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_slug_not_an_id" CHECK (replace("tenants"."slug", '-', '') !~* '^[0-9a-f]{32}$');
--> statement-breakpoint
-- The email of the user bound to the transaction: whom invitations are addressed to.
CREATE OR REPLACE FUNCTION app_user_email() RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT u.email FROM users u WHERE u.id = app_user_id() $$;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app_user_email() TO aiutami_app;
--> statement-breakpoint
-- Invitations are closed (accepted, declined, revoked), never deleted by the server.
GRANT SELECT, INSERT, UPDATE ON tenant_invitations TO aiutami_app;
--> statement-breakpoint
ALTER TABLE tenant_invitations ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE tenant_invitations FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
-- The tenant's staff manage its invitations with the tenant bound, like every tenant-owned table.
CREATE POLICY tenant_invitations_tenant ON tenant_invitations FOR ALL
  USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
--> statement-breakpoint
-- The invitee reads the invitations addressed to their email, across tenants. Answering one binds its
-- tenant first (server/tenants/invitations.ts), so writes go through the policy above.
CREATE POLICY tenant_invitations_invitee ON tenant_invitations FOR SELECT
  USING (email = app_user_email());
--> statement-breakpoint
-- An invitee may read the name of a tenant that invites them, before they are a member.
CREATE POLICY tenants_read_invited ON tenants FOR SELECT
  USING (id IN (SELECT i.tenant_id FROM tenant_invitations i WHERE i.email = app_user_email() AND i.status = 'pending'));
--> statement-breakpoint
-- The resolver (migration 0006) again, with one change: a reference shaped like a uuid is looked up as an id
-- only, anything else as a slug only. It used to match `id = ref OR slug = ref` with no order; with the
-- checks above no slug can be an id either, so each reference names at most one tenant.
CREATE OR REPLACE FUNCTION app_enter_tenant(p_user uuid, p_ref text)
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_name text, member_role tenant_role)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
  found_row record;
BEGIN
  PERFORM set_config('app.user_id', p_user::text, true);
  PERFORM set_config('app.tenant_id', '', true);
  IF p_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT t.id, t.slug, t.name, m.role INTO found_row
      FROM tenants t JOIN memberships m ON m.tenant_id = t.id AND m.user_id = p_user
      WHERE t.id = p_ref::uuid;
  ELSE
    SELECT t.id, t.slug, t.name, m.role INTO found_row
      FROM tenants t JOIN memberships m ON m.tenant_id = t.id AND m.user_id = p_user
      WHERE t.slug = lower(p_ref);
  END IF;
  IF found_row IS NULL THEN
    RETURN;
  END IF;
  PERFORM set_config('app.tenant_id', found_row.id::text, true);
  tenant_id := found_row.id;
  tenant_slug := found_row.slug;
  tenant_name := found_row.name;
  member_role := found_row.role;
  RETURN NEXT;
END $$;
