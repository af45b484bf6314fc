-- app_create_hire without an idempotency key (21 arguments, from 0010) was kept by 0014 for a server of
-- the release before it during that upgrade. Nothing calls it now: this code calls app_create_hire(jsonb),
-- and the release it upgrades from calls the 22-argument version, which db/functions/hires/previous-release.sql
-- keeps for it. The functions this release adds (app_create_hire(jsonb), app_transition_hire(jsonb) and
-- their helpers) are defined by db/functions, applied after this migration.
DROP FUNCTION app_create_hire(uuid, text, uuid, uuid, text, text, double precision, double precision,
  timestamptz, timestamptz, text, text, timestamptz, uuid, jsonb, uuid, jsonb, text, text, text, text);
