-- The email of the user bound to the transaction: whom invitations are addressed to.
CREATE OR REPLACE FUNCTION app_user_email() RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT u.email FROM users u WHERE u.id = app_user_id() $$;

GRANT EXECUTE ON FUNCTION app_user_email() TO aiutami_app;
