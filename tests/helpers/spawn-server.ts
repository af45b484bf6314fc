import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { RELAXED_RATE_LIMITS } from "./rate-limits-off";

const ROOT = join(import.meta.dirname, "../..");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Resident memory of a process, from /proc (Linux), in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Node's flags as `npm start` (package.json) gives them: V8's helper pool sized by V8_POOL_SIZE, default 1. */
export const SERVER_NODE_FLAGS = [`--v8-pool-size=${process.env.V8_POOL_SIZE ?? "1"}`];

export type BenchServer = { baseUrl: string; pid: number; child: ChildProcess; stop(): Promise<void> };

/**
 * The real server, as its own process (node with the tsx loader, so the pid is the server's own),
 * on loopback, against the given environment.
 */
export async function startServer(env: Record<string, string>, opts: { nodeArgs?: string[] } = {}): Promise<BenchServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...(opts.nodeArgs ?? []), "--import", "tsx", "server/main.ts"], {
    cwd: ROOT,
    // ENV_FILE: a developer's own .env in the checkout must not reach the servers tests start.
    // Every caller here is 127.0.0.1, signing up and hiring faster than any person: the rate limits are
    // off unless a test sets them (tests/integration/limits.test.ts proves them).
    env: { ...process.env, ENV_FILE: "/dev/null", LOG_LEVEL: "warn", NODE_ENV: "production", HOST: "127.0.0.1", PORT: String(port), ...RELAXED_RATE_LIMITS, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the server did not become ready within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl,
    pid: child.pid!,
    child,
    stop: () =>
      new Promise((resolve) => {
        // Already gone: exited, or killed by a signal (then exitCode stays null and signalCode is set).
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
