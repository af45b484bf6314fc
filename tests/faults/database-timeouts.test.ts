import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hire, createMarketplace, type Marketplace } from "../helpers/hiring";
import { startServer, type BenchServer } from "../helpers/spawn-server";
import { openOwnerSql, startTestApp, type TestApp } from "../helpers/test-app";
import { fileDatabaseUrl } from "../helpers/file-database";

/**
 * PostgreSQL's own limits on the server's connections: a statement that waits on a lock past
 * lock_timeout (SQLSTATE 55P03), or runs past statement_timeout (57014), fails in the database, and
 * its call answers 503 SERVICE_UNAVAILABLE with retryAfterSeconds, not 500. The lock is a hire's row,
 * held by another transaction while its provider accepts it.
 */
let app: TestApp;
let server: BenchServer;
const dataDir = mkdtempSync(join(tmpdir(), "aiutami-timeouts-"));

beforeAll(async () => {
  // In process, with the default limits (lock_timeout 2 s, statement_timeout 5 s).
  app = await startTestApp();
  // Its own process, configured so that statement_timeout comes first.
  server = await startServer({
    DATABASE_URL: fileDatabaseUrl(),
    REDIS_URL: inject("redisUrl"),
    DATABASE_STATEMENT_TIMEOUT_MS: "300",
    DATABASE_LOCK_TIMEOUT_MS: "10000",
    DATA_DIR: dataDir,
    NODE_ENV: "test",
  });
});
afterAll(async () => {
  await server?.stop();
  await app?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Accepts hire `id` over HTTP while another transaction holds its row; answers the error's status and data. */
async function acceptWhileLocked(baseUrl: string, m: Marketplace, id: string) {
  const owner = openOwnerSql();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = owner.begin(async (tx) => {
    await tx`select id from hires where id = ${id} for update`;
    locked();
    await held;
  });
  try {
    await isLocked;
    const res = await fetch(`${baseUrl}/trpc/hires.accept`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${m.provider.token}`, "x-tenant-id": m.tenant.slug },
      body: JSON.stringify({ id }),
    });
    const body = (await res.json()) as { error?: { message: string; data: { code: string; retryAfterSeconds?: number; requestId?: string } } };
    return { status: res.status, message: body.error?.message, data: body.error?.data };
  } finally {
    release();
    await holder;
    await owner.end();
  }
}

describe("fault: a statement past lock_timeout or statement_timeout", () => {
  it("lock_timeout (55P03): the call answers 503 with retryAfterSeconds, and the hire is unchanged", async () => {
    const m = await createMarketplace(app.env);
    const h = await hire(app.env, m);
    const answer = await acceptWhileLocked(app.server.baseUrl, m, h.id);
    expect(answer).toMatchObject({ status: 503, message: "The database is too slow to answer: try again shortly.", data: { code: "SERVICE_UNAVAILABLE", retryAfterSeconds: 1 } });
    expect(answer.data?.requestId).toBeTruthy();
    const owner = openOwnerSql();
    const [row] = await owner<{ status: string }[]>`select status from hires where id = ${h.id}`;
    await owner.end();
    expect(row?.status).toBe("requested");
  });

  it("statement_timeout (57014), set from DATABASE_STATEMENT_TIMEOUT_MS: the call answers 503 with retryAfterSeconds", async () => {
    const m = await createMarketplace(app.env);
    const h = await hire(app.env, m);
    const answer = await acceptWhileLocked(server.baseUrl, m, h.id);
    expect(answer).toMatchObject({ status: 503, message: "The database is too slow to answer: try again shortly.", data: { code: "SERVICE_UNAVAILABLE", retryAfterSeconds: 1 } });
  });
});
