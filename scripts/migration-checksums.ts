/**
 * `npm run db:checksums`: adds the checksum of every migration not yet in db/migrations/checksums.sha256.
 * It never changes a listed one: a released migration is frozen, and its changes go in a new migration.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { CHECKSUMS_FILE, MIGRATIONS_FOLDER, MigrationRefused, readChecksums, readMigrations } from "../db/migrator";

try {
  const listed = readChecksums();
  const added = readMigrations().filter((m) => !listed.has(m.file));
  for (const m of added) appendFileSync(join(MIGRATIONS_FOLDER, CHECKSUMS_FILE), `${m.hash}  ${m.file}\n`);
  console.log(added.length ? `Listed ${added.map((m) => m.file).join(", ")}.` : "Every migration is listed already.");
} catch (err) {
  console.error(err instanceof MigrationRefused ? err.message : err);
  process.exit(1);
}
