import postgres from "postgres";

/**
 * Everything a migration decides about a database, read from the catalog in a stable order: tables and
 * columns, constraints, indexes, row-level security flags and policies, types, functions (definition and
 * grants), table grants, triggers and extensions. Two databases with equal catalogs behave alike.
 */
export async function schemaCatalog(url: string): Promise<Record<string, string[]>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const lines = async (query: string) => (await sql.unsafe<{ line: string }[]>(query)).map((r) => r.line);
  try {
    return {
      columns: await lines(`SELECT concat_ws(' ', table_name, column_name, data_type, udt_name, is_nullable, column_default) AS line
        FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`),
      constraints: await lines(`SELECT concat_ws(' ', c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)) AS line
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' ORDER BY 1`),
      indexes: await lines(`SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`),
      rowSecurity: await lines(`SELECT concat_ws(' ', relname, relrowsecurity, relforcerowsecurity, relacl::text) AS line
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S') ORDER BY relname`),
      policies: await lines(`SELECT concat_ws(' ', tablename, policyname, permissive, roles::text, cmd, qual, with_check) AS line
        FROM pg_policies WHERE schemaname = 'public' ORDER BY tablename, policyname`),
      types: await lines(`SELECT concat_ws(' ', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)) AS line
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' GROUP BY t.typname ORDER BY t.typname`),
      functions: await lines(`SELECT concat_ws(' ', p.proname, pg_get_function_identity_arguments(p.oid), p.proacl::text, pg_get_functiondef(p.oid)) AS line
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
        ORDER BY p.proname, 1`),
      leakproof: await lines(`SELECT concat_ws(' ', p.proname, pg_get_function_identity_arguments(p.oid)) AS line
        FROM pg_proc p WHERE p.proleakproof AND p.pronamespace = 'public'::regnamespace ORDER BY 1`),
      triggers: await lines(`SELECT concat_ws(' ', tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)) AS line
        FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`),
      extensions: await lines(`SELECT concat_ws(' ', extname, extversion) AS line FROM pg_extension ORDER BY extname`),
    };
  } finally {
    await sql.end();
  }
}

/** The names of the database's own functions (not those of extensions). */
export async function functionNames(url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ proname: string }[]>`SELECT DISTINCT p.proname FROM pg_proc p
      WHERE p.pronamespace = 'public'::regnamespace
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') ORDER BY 1`;
    return rows.map((r) => r.proname);
  } finally {
    await sql.end();
  }
}
