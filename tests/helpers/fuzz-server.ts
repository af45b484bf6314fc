import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { inject } from "vitest";
import { freePort, SERVER_NODE_FLAGS } from "./spawn-server";
import { fileDatabaseUrl } from "./file-database";

const ROOT = join(import.meta.dirname, "../..");

/** A pino line the server wrote at error level or above. */
export type ServerError = { level: number; msg: string; reqId?: string; err?: { type?: string; message?: string; stack?: string; code?: string } };

export type FuzzServer = {
  baseUrl: string;
  child: ChildProcess;
  /** Error lines the server logged, oldest first (everything it printed that was not JSON included). */
  errors: ServerError[];
  /** Resolves once the server has logged a line with this request id (every tRPC call logs one). */
  waitForLogOf(reqId: string): Promise<void>;
  /** Throws when the process has exited (with its last words), or when `/healthz` does not answer 200. */
  assertAlive(): Promise<void>;
  stop(): Promise<void>;
};

/**
 * The real server as its own process (so a crash shows as the process exiting, not as a failed test
 * worker), against the run's test database and Redis, with its log read for error lines. Behind a
 * trusted proxy (TRUST_PROXY): each fuzz request names its own client address in X-Forwarded-For, so
 * per-address throttles count the fuzz's requests apart from everything else on 127.0.0.1.
 */
export async function startFuzzServer(env: Record<string, string> = {}): Promise<FuzzServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "aiutami-fuzz-"));
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, "--import", "tsx", "server/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      ENV_FILE: "/dev/null",
      // Info: every call's line carries its request id, so "the server has logged everything about a
      // request" is a condition to wait for (see waitForLogOf), not a guess.
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: fileDatabaseUrl(),
      REDIS_URL: inject("redisUrl"),
      DATA_DIR: dataDir,
      TRUST_PROXY: "true",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const errors: ServerError[] = [];
  const tail: string[] = [];
  const logged = new Set<string>();
  const waiting = new Map<string, () => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      try {
        const entry = JSON.parse(line) as ServerError;
        if (typeof entry.level === "number" && entry.level >= 50) errors.push(entry);
        if (entry.reqId && waiting.has(entry.reqId)) {
          logged.add(entry.reqId);
          waiting.get(entry.reqId)!();
        }
      } catch {
        if (line.trim()) errors.push({ level: 60, msg: line });
      }
    });
  }
  let exit: string | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = `exited with ${signal ?? code}`;
      resolve();
    }),
  );
  const lastWords = () => `the server ${exit}; its last lines:\n${tail.join("\n")}`;

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exit) throw new Error(lastWords());
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the fuzz server did not become ready within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    baseUrl,
    child,
    errors,
    waitForLogOf: (reqId) =>
      logged.has(reqId) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(reqId, resolve)),
    async assertAlive() {
      if (exit) throw new Error(lastWords());
      let status: number | string;
      try {
        status = (await fetch(`${baseUrl}/healthz`)).status;
      } catch (err) {
        status = (err as Error & { cause?: Error }).cause?.message ?? String(err);
      }
      if (exit) throw new Error(lastWords());
      if (status !== 200) throw new Error(`/healthz answered ${status} instead of 200`);
    },
    async stop() {
      if (!exit) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
