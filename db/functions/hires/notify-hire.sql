-- The notification of a change to a hire, written in the change's transaction: every hire notification
-- is built here. It goes to the party who did not make the change (`p_by` made it), its type is 'hire.'
-- and the hire's new status, and its payload is that type's (HireRequestedPayload and HireStepPayload in
-- server/notifications/schemas.ts, which the server parses the returned payload with):
--   hire.requested   what the original system sent the provider: the client's name and phone as the hire
--                    snapshotted them, where, when (`time`, and `endsAt`) and the job
--   hire.<step>      the new status, who took the step (`byUserId`, and `byName` as their session names
--                    them now), when the job starts and what it is
-- Both carry the hire's and the tenant's ids, and `userId`, the recipient. Returns the recipient, the
-- type, and what app_write_notification stored, so the relay streams exactly what the inbox lists.
CREATE OR REPLACE FUNCTION app_notify_hire(
  p_id uuid, p_hire hires, p_by uuid, p_by_name text, p_tenant jsonb,
  OUT recipient uuid, OUT notification_type text, OUT seq bigint, OUT written_at timestamptz, OUT payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
  recipient := CASE WHEN p_hire.client_id = p_by THEN p_hire.provider_id ELSE p_hire.client_id END;
  notification_type := 'hire.' || p_hire.status;
  IF p_hire.status = 'requested' THEN
    payload := jsonb_build_object(
      'hireId', p_hire.id, 'tenantId', p_hire.tenant_id, 'userId', recipient, 'clientId', p_hire.client_id,
      'fullName', p_hire.client_full_name, 'phoneNumber', p_hire.client_phone, 'location', p_hire.location,
      'time', app_json_time(p_hire.starts_at), 'endsAt', app_json_time(p_hire.ends_at), 'jobDescription', p_hire.job_description);
  ELSE
    payload := jsonb_build_object(
      'hireId', p_hire.id, 'tenantId', p_hire.tenant_id, 'userId', recipient, 'status', p_hire.status,
      'byUserId', p_by, 'byName', p_by_name, 'time', app_json_time(p_hire.starts_at), 'jobDescription', p_hire.job_description);
  END IF;
  SELECT w.seq, w.written_at INTO seq, written_at
    FROM app_write_notification(p_id, recipient, p_hire.tenant_id, p_tenant, notification_type, payload) w;
END $$;

GRANT EXECUTE ON FUNCTION app_notify_hire(uuid, hires, uuid, text, jsonb) TO aiutami_app;
