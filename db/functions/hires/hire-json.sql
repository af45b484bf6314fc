-- A hire as the API answers it: HireOutput in server/hires/schemas.ts, which the server parses this with.
-- The one mapping from a hires row to that shape, for every answer read from the database (hires.get,
-- hires.list, and each step's updated row from app_transition_hire). A new hire's answer is the `hire`
-- object its statement carried (app_create_hire), built by the server before the row exists.
CREATE OR REPLACE FUNCTION app_hire_json(p_hire hires) RETURNS jsonb
LANGUAGE sql STABLE SECURITY INVOKER AS $$
  SELECT jsonb_build_object(
    'id', p_hire.id, 'tenantId', p_hire.tenant_id, 'clientId', p_hire.client_id, 'providerId', p_hire.provider_id,
    'status', p_hire.status, 'jobDescription', p_hire.job_description, 'location', p_hire.location,
    'lat', p_hire.lat, 'lng', p_hire.lng, 'startsAt', app_json_time(p_hire.starts_at), 'endsAt', app_json_time(p_hire.ends_at),
    'clientFullName', p_hire.client_full_name, 'clientPhone', p_hire.client_phone,
    'createdAt', app_json_time(p_hire.created_at), 'updatedAt', app_json_time(p_hire.updated_at))
$$;

GRANT EXECUTE ON FUNCTION app_hire_json(hires) TO aiutami_app;
