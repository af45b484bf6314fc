-- An instant as JavaScript's Date#toISOString writes it (UTC, milliseconds, "Z"): the form of every time
-- the API answers (z.iso.datetime() in the output schemas), so what a database function puts in JSON
-- parses and compares like what the server writes. NULL stays NULL. STABLE, as to_char is: so PostgreSQL
-- inlines it into its callers' queries instead of running it as a function each time.
CREATE OR REPLACE FUNCTION app_json_time(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

GRANT EXECUTE ON FUNCTION app_json_time(timestamptz) TO aiutami_app;
