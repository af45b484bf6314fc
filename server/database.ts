import { migratePostgresDatabase, openPglite, openPostgres, type OpenedDatabase } from "../db/migrate";
import type { Config } from "./config";
import { explainDatabaseFailure, StartupError } from "./startup-errors";

/**
 * Migrates as the owner, then opens the server's handle as the app role (embedded or real PostgreSQL)
 * and checks that it answers, so a wrong URL, role or password fails at start with one line naming it.
 */
export async function openConfiguredDatabase(config: Config): Promise<OpenedDatabase> {
  if (config.database.kind === "pglite") {
    try {
      return await openPglite(config.database.dataDir);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("The embedded database")) throw new StartupError(err.message);
      throw err;
    }
  }
  const { ownerUrl, appUrl, appPassword, poolSize } = config.database;
  try {
    await migratePostgresDatabase(ownerUrl, appPassword);
  } catch (err) {
    throw explainDatabaseFailure(err, ownerUrl, "DATABASE_URL") ?? err;
  }
  const database = openPostgres(appUrl, poolSize, config.database.limits);
  try {
    await database.ping();
  } catch (err) {
    await database.close().catch(() => {});
    throw explainDatabaseFailure(err, appUrl, config.database.appUrlGiven ? "DATABASE_APP_URL" : "DATABASE_URL", "app") ?? err;
  }
  return database;
}
