import { migratePostgresDatabase, openPglite, openPostgres, type OpenedDatabase } from "../db/migrate";
import type { Config } from "./config";

/** Migrates as the owner, then opens the server's handle as the app role (embedded or real PostgreSQL). */
export async function openConfiguredDatabase(config: Config): Promise<OpenedDatabase> {
  if (config.database.kind === "pglite") return openPglite(config.database.dataDir);
  await migratePostgresDatabase(config.database.ownerUrl, config.database.appPassword);
  return openPostgres(config.database.appUrl, config.database.poolSize, config.database.limits);
}
