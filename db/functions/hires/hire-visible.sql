-- Who may see a hire: its two parties, and the tenant's owners and admins. The one statement of that
-- rule: hires.get filters with it, and app_transition_hire answers not_found to anyone else, so a hire
-- that is not yours and one that does not exist look the same.
CREATE OR REPLACE FUNCTION app_hire_visible(p_client uuid, p_provider uuid, p_user uuid, p_role tenant_role) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_role IN ('owner', 'admin') OR p_user = p_client OR p_user = p_provider
$$;

GRANT EXECUTE ON FUNCTION app_hire_visible(uuid, uuid, uuid, tenant_role) TO aiutami_app;
