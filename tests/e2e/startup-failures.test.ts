import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, startServer, type BenchServer } from "../helpers/spawn-server";
import { fileDatabaseUrl } from "../helpers/file-database";

/**
 * Each start-up failure a person can fix ends the process with exit 1 and one line that names the
 * variable or the cause and what to do: no stack trace. The server runs as `npm start` runs it.
 */
const ROOT = join(import.meta.dirname, "../..");

function runServer(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "server/main.ts")], {
      cwd: ROOT,
      env: { ...process.env, ENV_FILE: "/dev/null", NODE_ENV: "test", LOG_LEVEL: "warn", HOST: "127.0.0.1", DATA_DIR: mkdtempSync(join(tmpdir(), "aiutami-startup-")), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the server did not exit within 60 s:\n${out}`));
    }, 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, lines: out.split("\n").filter((l) => l.trim() !== "") });
    });
  });
}

function expectOneLine(result: { code: number | null; lines: string[] }, ...patterns: RegExp[]) {
  expect(result.code).toBe(1);
  expect(result.lines, result.lines.join("\n")).toHaveLength(1);
  for (const pattern of patterns) expect(result.lines[0]).toMatch(pattern);
  expect(result.lines[0]).not.toMatch(/^\s+at /);
}

const admin = () => new URL(fileDatabaseUrl());
const redisUrl = () => inject("redisUrl");

describe("start-up that explains itself", () => {
  let closedPort: number;
  let sql: postgres.Sql;
  const role = `aiutami_nocreate_${process.pid}`;

  beforeAll(async () => {
    closedPort = await freePort();
    sql = postgres(fileDatabaseUrl(), { max: 1, onnotice: () => {} });
    await sql.unsafe(`CREATE ROLE ${role} LOGIN`);
  });
  afterAll(async () => {
    await sql.unsafe(`DROP ROLE IF EXISTS ${role}`);
    await sql.end();
  });

  it("a port in use names PORT", async () => {
    const port = await freePort();
    const holder = createServer().listen(port, "127.0.0.1");
    try {
      expectOneLine(await runServer({ PORT: String(port), REDIS_URL: redisUrl() }), new RegExp(`Port ${port} is already in use`), /PORT=/);
    } finally {
      holder.close();
    }
  }, 90_000);

  it("a database on a closed port names DATABASE_URL", async () => {
    const result = await runServer({ PORT: "0", REDIS_URL: redisUrl(), DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/x` });
    expectOneLine(result, /PostgreSQL does not answer/, new RegExp(`127.0.0.1:${closedPort}`), /DATABASE_URL/);
  }, 90_000);

  it("an unknown role names it and DATABASE_URL", async () => {
    const url = admin();
    url.username = "no_such_role_here";
    const result = await runServer({ PORT: "0", REDIS_URL: redisUrl(), DATABASE_URL: url.toString() });
    expectOneLine(result, /refused role "no_such_role_here"/, /DATABASE_URL/);
  }, 90_000);

  it("a missing database the role may not create says how to create it", async () => {
    const url = admin();
    url.username = role;
    url.pathname = `/aiutami_missing_${process.pid}`;
    const result = await runServer({ PORT: "0", REDIS_URL: redisUrl(), DATABASE_URL: url.toString() });
    expectOneLine(result, /does not exist/, /createdb/, /DATABASE_URL/);
  }, 90_000);

  it("a missing database the owner may create is created, and the server starts", async () => {
    const url = admin();
    const name = `aiutami_created_${process.pid}_${Date.now().toString(36)}`;
    url.pathname = `/${name}`;
    let server: BenchServer | undefined;
    try {
      server = await startServer({ REDIS_URL: redisUrl(), DATABASE_URL: url.toString(), DATA_DIR: mkdtempSync(join(tmpdir(), "aiutami-startup-")) });
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
    } finally {
      await server?.stop();
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  }, 90_000);

  it("Redis unreachable names REDIS_URL with the URL's own port in the hint", async () => {
    const result = await runServer({ PORT: "0", REDIS_URL: `redis://127.0.0.1:${closedPort}` });
    expectOneLine(result, /Redis does not answer/, /REDIS_URL/, new RegExp(`redis-server --port ${closedPort}`));
  }, 90_000);

  it("the embedded database held by another process names that process", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "aiutami-startup-"));
    const first = await startServer({ REDIS_URL: redisUrl(), DATA_DIR: dataDir, DATABASE_URL: "" });
    try {
      const result = await runServer({ PORT: "0", REDIS_URL: redisUrl(), DATA_DIR: dataDir, DATABASE_URL: "" });
      expectOneLine(result, /embedded database .* is in use by process \d+/, /DATABASE_URL/);
    } finally {
      await first.stop();
    }
  }, 120_000);

  it("reads the .env file before validation, and a variable already set wins over it", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "aiutami-dotenv-")), ".env");
    writeFileSync(file, `REDIS_URL=redis://127.0.0.1:${closedPort}\nPORT=eighty\n`);
    const bad = await runServer({ ENV_FILE: file });
    // Both come from the file: PORT is refused by validation before anything connects.
    expect(bad.code).toBe(1);
    expect(bad.lines.join("\n")).toMatch(/PORT/);
    const overridden = await runServer({ ENV_FILE: file, PORT: "0" });
    expectOneLine(overridden, new RegExp(`redis-server --port ${closedPort}`));
  }, 90_000);
});
