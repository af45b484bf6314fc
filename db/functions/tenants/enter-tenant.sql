-- The tenant resolver in one round trip: binds the user, finds the tenant named by `p_ref` among the user's
-- memberships (under the same row-level security, SECURITY INVOKER), and binds that tenant. A reference
-- shaped like a uuid is looked up as an id only, anything else as a slug only; no slug can look like an id
-- (the tenants_slug_not_an_id check), so each reference names at most one tenant. Returns no row for an
-- unknown tenant and for one the user is not in alike, leaving no tenant bound.
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

GRANT EXECUTE ON FUNCTION app_enter_tenant(uuid, text) TO aiutami_app;
