-- app_create_hire with 22 positional arguments (its idempotency key the last) was added by 0014 in this
-- release and is called by nothing now: this code calls app_create_hire(jsonb), and a server of the release
-- it upgrades from calls the 21-argument version, which db/functions/hires/previous-release.sql keeps for it.
-- The functions this release adds (app_create_hire(jsonb), app_transition_hire(jsonb) and their helpers)
-- are defined by db/functions, applied after this migration.
DROP FUNCTION app_create_hire(uuid, text, uuid, uuid, text, text, double precision, double precision,
  timestamptz, timestamptz, text, text, timestamptz, uuid, jsonb, uuid, jsonb, text, text, text, text, jsonb);
