import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");

type Running = { child: ChildProcessWithoutNullStreams; output: () => string; exited: Promise<number | null> };

function startServer(env: Record<string, string>): Running {
  let output = "";
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DATABASE_|REDIS_|PORT|DATA_DIR|LOG_LEVEL|NODE_ENV)/.test(k)));
  const child = spawn(TSX, ["server/main.ts"], { cwd: ROOT, env: { ...base, ...env } as NodeJS.ProcessEnv });
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForPort(running: Running, timeoutMs = 45_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /"port":(\d+)/.exec(running.output());
    if (match) return Number(match[1]);
    if (running.child.exitCode !== null) throw new Error(`server exited early:\n${running.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not start:\n${running.output()}`);
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("the server process", () => {
  it("starts on the embedded database, serves sign-up, and stops cleanly on SIGTERM within 10 s", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "aiutami-e2e-"));
    dirs.push(dataDir);
    const running = startServer({ PORT: "0", DATA_DIR: dataDir, HOST: "127.0.0.1" });
    const port = await waitForPort(running);
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const res = await fetch(`${base}/trpc/auth.signUp`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "e2e@example.test", password: "an-e2e-passphrase", firstName: "E", lastName: "Two" }),
    });
    expect(res.status).toBe(200);
    // The log line travels through a pipe and may arrive just after the response.
    let logLine: string | undefined;
    for (let i = 0; i < 30 && !logLine; i++) {
      logLine = running.output().split("\n").find((l) => l.includes('"path":"auth.signUp"'));
      if (!logLine) await new Promise((r) => setTimeout(r, 100));
    }
    expect(JSON.parse(logLine!)).toMatchObject({ level: 30, path: "auth.signUp", reqId: res.headers.get("x-request-id") });

    running.child.kill("SIGTERM");
    // Exit 0 after "stopped": the close finished inside the server's own SHUTDOWN_TIMEOUT_MS (10 s),
    // past which it logs "shutdown took too long" and exits 1. No wall clock of the test's.
    expect(await running.exited).toBe(0);
    expect(running.output()).toContain('"msg":"stopped"');
    expect(running.output()).not.toContain("shutdown took too long");
  });

  it("refuses to start with bad configuration, naming every bad variable", async () => {
    const running = startServer({ PORT: "not-a-port", DATABASE_URL: "mysql://nope", SESSION_ABSOLUTE_DAYS: "zero" });
    expect(await running.exited).toBe(1);
    const out = running.output();
    for (const name of ["PORT", "DATABASE_URL", "SESSION_ABSOLUTE_DAYS"]) expect(out).toContain(`- ${name}:`);
  });

  it("says in one line how to start Redis when an explicit REDIS_URL does not answer", async () => {
    const running = startServer({ REDIS_URL: "redis://127.0.0.1:1", DATA_DIR: mkdtempSync(join(tmpdir(), "aiutami-e2e-")) });
    expect(await running.exited).toBe(1);
    const lines = running.output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Redis does not answer at redis:\/\/127\.0\.0\.1:1 \(REDIS_URL\): start one \(e\.g\. `redis-server --port 1`/);
  });
});
