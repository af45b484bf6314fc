-- The audit row of a change the database writes itself (the hire functions), in the same transaction as
-- the change. The row has the shape of every other feature's (recordAudit in server/audit/service.ts):
-- `p_actor` is auditActorColumns(actor) from that module, { actorUserId, actorSessionId, ip, userAgent,
-- requestId }, so both writers take the actor's part of the row from one function; `p_changes` follows
-- the convention written on AuditEntry there. `p_at` is the time the change itself is stamped with.
CREATE OR REPLACE FUNCTION app_write_audit(
  p_id uuid, p_tenant_id uuid, p_actor jsonb, p_action text, p_entity_type text, p_entity_id text, p_changes jsonb, p_at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
BEGIN
  -- PL/pgSQL rather than SQL: PostgreSQL keeps its INSERT's plan for the session (a SQL function's
  -- INSERT was planned again in each statement, a tenth of a millisecond per hire).
  INSERT INTO audit_log (id, tenant_id, actor_user_id, actor_session_id, action, entity_type, entity_id, changes,
                         ip, user_agent, request_id, created_at)
    VALUES (p_id, p_tenant_id, (p_actor->>'actorUserId')::uuid, p_actor->>'actorSessionId', p_action, p_entity_type, p_entity_id, p_changes,
            p_actor->>'ip', p_actor->>'userAgent', p_actor->>'requestId', p_at);
END $$;

GRANT EXECUTE ON FUNCTION app_write_audit(uuid, uuid, jsonb, text, text, text, jsonb, timestamptz) TO aiutami_app;
