import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_FOLDER, readChecksums, readMigrations } from "../../db/migrator";

describe("released migrations are frozen", () => {
  it("every migration file is in db/migrations/checksums.sha256 with its checksum (npm run db:checksums adds a new one)", () => {
    // readMigrations refuses a file whose checksum differs from the committed one.
    const migrations = readMigrations();
    const listed = readChecksums();
    const files = readdirSync(MIGRATIONS_FOLDER).filter((f) => f.endsWith(".sql")).sort();
    expect(migrations.map((m) => m.file)).toEqual(files);
    for (const m of migrations) expect(listed.get(m.file), m.file).toBe(m.hash);
  });
});
