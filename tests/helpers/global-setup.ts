import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { migratePostgresDatabase } from "../../db/migrate";

/**
 * One fresh database per test run on the real PostgreSQL server (TEST_DATABASE_ADMIN_URL, default the
 * local trust-auth server), migrated as the owner exactly as the server does it.
 */
export default async function setup(project: TestProject) {
  const admin = process.env.TEST_DATABASE_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const name = process.env.TEST_DATABASE_NAME ?? `aiutami_test_${project.name}`;
  const sql = postgres(admin, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await sql.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await sql.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  await migratePostgresDatabase(url.toString());
  project.provide("ownerDatabaseUrl", url.toString());
  project.provide("redisUrl", process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
}

declare module "vitest" {
  export interface ProvidedContext {
    ownerDatabaseUrl: string;
    redisUrl: string;
  }
}
