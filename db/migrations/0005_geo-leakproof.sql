-- Row-level security lets PostgreSQL use a condition as an index condition only when every function
-- in it is LEAKPROOF (otherwise it must run after the policy, as a filter). The radius test
-- `earth_box(...) @> ll_to_earth(lat, lng)` calls ll_to_earth and cube_contains (the planner uses its
-- commutator cube_contained). None of them can raise an error or reveal anything about their
-- arguments, so mark them LEAKPROOF; only a superuser may. Where the migrating role is not one, search
-- still answers correctly, only without the geo index (see docs/decisions/005-geo-search-under-rls.md).
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION ll_to_earth(float8, float8) LEAKPROOF;
    ALTER FUNCTION cube_contains(cube, cube) LEAKPROOF;
    ALTER FUNCTION cube_contained(cube, cube) LEAKPROOF;
    ALTER FUNCTION cube_distance(cube, cube) LEAKPROOF;
  ELSE
    RAISE WARNING 'aiutami: not a superuser, so the geo functions stay non-LEAKPROOF and radius search will not use its index under row-level security. Ask an administrator to run db/migrations/0005_geo-leakproof.sql.';
  END IF;
END $$;
