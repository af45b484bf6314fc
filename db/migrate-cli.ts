/** `npm run db:migrate`: applies the committed migrations to the configured database. */
import { loadConfig } from "../server/config";
import { openConfiguredDatabase } from "../server/database";

const config = loadConfig();
const database = await openConfiguredDatabase(config);
await database.close();
console.log(`Migrations applied (${database.kind === "pglite" ? `embedded database at ${config.dataDir}/pg` : "PostgreSQL"}).`);
