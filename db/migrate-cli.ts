/** `npm run db:migrate`: applies the committed migrations to the configured database. */
import { loadConfig } from "../server/config";
import { openConfiguredDatabase } from "../server/database";

try {
  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  await database.close();
  console.log(`Migrations applied (${database.kind === "pglite" ? `embedded database at ${config.dataDir}/pg` : "PostgreSQL"}).`);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
