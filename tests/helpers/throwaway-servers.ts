import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./spawn-server";

const isRoot = process.getuid?.() === 0;

/** Runs a server binary as its own system user when we are root (STACK.md: never as root). */
function asUser(user: string, cmd: string, args: string[]): [string, string[]] {
  if (!isRoot) return [cmd, args];
  return ["runuser", ["-u", user, "--", cmd, ...args]];
}

function ownedTempDir(user: string, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  return dir;
}

/** A Redis server of the test's own, on its own port, that the test may kill and restart. */
export async function startThrowawayRedis() {
  const port = await freePort();
  const dir = ownedTempDir("redis", "aiutami-redis-");
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    const [cmd, args] = asUser("redis", "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "yes"]);
    execFileSync(cmd, args);
    for (let i = 0; i < 100; i++) {
      const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false });
      probe.on("error", () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        // not yet
      } finally {
        probe.disconnect();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("throwaway redis-server did not start");
  };
  const pid = async () => {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    await probe.connect();
    const info = await probe.info("server");
    probe.disconnect();
    return Number(/process_id:(\d+)/.exec(info)?.[1]);
  };
  await start();
  return {
    url,
    port,
    /** SIGKILL: no shutdown, no save; everything in it is gone. */
    kill: async () => {
      process.kill(await pid(), "SIGKILL");
      await new Promise((r) => setTimeout(r, 100));
    },
    restart: start,
    stop: async () => {
      await pid().then((p) => process.kill(p, "SIGKILL"), () => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const PG_BIN = "/usr/lib/postgresql/15/bin";

/** A PostgreSQL cluster of the test's own (initdb, trust auth), on its own port, that the test may stop. */
export async function startThrowawayPostgres() {
  const port = await freePort();
  const dir = ownedTempDir("postgres", "aiutami-pg-");
  const data = join(dir, "data");
  const run = (cmd: string, args: string[]) => {
    const [c, a] = asUser("postgres", join(PG_BIN, cmd), args);
    return execFileSync(c, a, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  };
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync"]);
  const start = () => run("pg_ctl", ["-D", data, "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "-l", join(dir, "log"), "-w", "start"]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    /** Immediate shutdown: in-flight transactions are cut off, as in a crash. */
    stopImmediately: () => void run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]),
    restart: () => void start(),
    stop: () => {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

