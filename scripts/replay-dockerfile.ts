/**
 * Proves the Dockerfile where there is no container engine (CI): replays it on this machine, then runs
 * the image's CMD against the machine's PostgreSQL and Redis.
 *
 *   npx tsx scripts/replay-dockerfile.ts [--keep] [--dockerfile FILE]
 *
 * --keep leaves the stage folders in place; --dockerfile replays another file (e.g. a deliberately broken
 * copy) with this repository as the build context.
 *
 * Each stage gets an empty folder standing for its filesystem; its COPY, ENV, WORKDIR and RUN steps run
 * in order (scripts/replay/build.ts). Then, in the last stage: the project's patches must be applied and
 * no dev-only package installed; the CMD starts (as the image's USER, or a non-root stand-in: see
 * scripts/replay/user.ts) with a database and a Redis logical database of its own, as `docker run -e`
 * would pass them; /readyz must answer 200, the HEALTHCHECK exit 0, /demo serve the SDK's browser build,
 * docker-compose.yml's seed command succeed and a seeded provider log in; SIGTERM must stop it with exit
 * code 0, after which the HEALTHCHECK must fail. Every folder, the database and the Redis keys are removed.
 *
 * What it cannot show: the base image's own files. Steps run on this machine's Node and npm (the
 * replay fails when the Node major differs from the FROM line's, and says when the patch level differs).
 *
 * Environment: REPLAY_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), REPLAY_REDIS_URL
 * (default redis://127.0.0.1:6379), REPLAY_READY_TIMEOUT_MS (default 60000), REPLAY_RUN_TIMEOUT_MS (per
 * RUN step, default 900000).
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { DEMO_PASSWORD, DEMO_PEOPLE } from "../db/seed";
import { type BuiltStage, buildStage, checkImagePaths, describe, hostPath, killGroup, runCommand, running, startCommand } from "./replay/build";
import { checkNoDevDependencies, checkPatchesApplied } from "./replay/checks";
import { readCompose } from "./replay/compose";
import { type Command, parseDockerfile, ReplayError } from "./replay/plan";
import { claimRedisDatabase, createDatabase } from "./replay/services";
import { standInUsers } from "./replay/user";

const ROOT = join(import.meta.dirname, "..");
const env = process.env;
const READY_TIMEOUT_MS = Number(env.REPLAY_READY_TIMEOUT_MS ?? 60_000);
const RUN_TIMEOUT_MS = Number(env.REPLAY_RUN_TIMEOUT_MS ?? 900_000);
const STOP_TIMEOUT_MS = 20_000; // the server's own SHUTDOWN_TIMEOUT_MS (10 s) and then some

const log = (line: string) => console.log(`[replay] ${line}`);
/** Run last-registered first: the server, then the Redis and PostgreSQL databases, then the folders. */
const cleanups: (() => Promise<void> | void)[] = [];

/** Resolves to the time it started, once every check has passed. */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { keep: { type: "boolean", default: false }, dockerfile: { type: "string", default: join(ROOT, "Dockerfile") } } });
  const started = Date.now();
  // Docker's default umask, so every copied and installed file is readable by the image's user.
  process.umask(0o022);
  const runId = `${Date.now().toString(36)}-${process.pid}-${randomBytes(3).toString("hex")}`;

  const stages = parseDockerfile(readFileSync(values.dockerfile, "utf8"));
  const { seedCommand } = readCompose(join(ROOT, "docker-compose.yml"));
  const final = stages.at(-1)!;
  if (!final.cmd) throw new ReplayError(`stage ${final.name}: no CMD`);
  if (!final.healthcheck) throw new ReplayError(`stage ${final.name}: no HEALTHCHECK`);
  checkImagePaths(stages, [{ form: "exec", argv: seedCommand }]);
  for (const stage of stages) {
    const [major] = stage.nodeVersion.split(".");
    if (major !== process.versions.node.split(".")[0]) throw new ReplayError(`stage ${stage.name}: the image has Node ${stage.nodeVersion}, this machine ${process.versions.node}: the replay would not show what the image does`);
    if (stage.nodeVersion !== process.versions.node) log(`note: stage ${stage.name} uses Node ${stage.nodeVersion}; this machine runs ${process.versions.node}`);
  }

  const tmp = mkdtempSync(join(tmpdir(), "aiutami-replay-"));
  chmodSync(tmp, 0o755); // the stand-in user must reach the stage folders
  cleanups.push(() => (values.keep ? log(`kept ${tmp}`) : rmSync(tmp, { recursive: true, force: true })));
  const scratch = join(tmp, "tmp");
  mkdirSync(scratch, { mode: 0o1777 });
  chmodSync(scratch, 0o1777);
  const runAs = standInUsers(tmp);
  // Stands for the base image's environment: this machine's Node first, nothing else of the caller's.
  const baseEnv = { PATH: `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: join(tmp, "home-root"), TMPDIR: scratch };
  mkdirSync(baseEnv.HOME);

  const built: BuiltStage[] = [];
  for (const stage of stages) {
    const t = Date.now();
    log(`stage ${stage.name} (FROM line ${stage.line}) in ${join(tmp, `stage-${stage.index}-${stage.name}`)}`);
    built.push(await buildStage(stage, { context: ROOT, stageRoot: join(tmp, `stage-${stage.index}-${stage.name}`), earlier: built, baseEnv, runAs, log, runTimeoutMs: RUN_TIMEOUT_MS }));
    log(`stage ${stage.name} built in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const image = built.at(-1)!;
  const appDir = hostPath(image, image.workdir);

  const patches = checkPatchesApplied(join(ROOT, "patches"), appDir, final.name);
  log(`stage ${final.name}: applied: ${patches.map((p) => `patches/${p}`).join(", ") || "(no patches)"}`);
  const devCount = checkNoDevDependencies(appDir, final.name);
  log(`stage ${final.name}: none of the ${devCount} dev-only packages of the lock file is installed (vitest included)`);

  if (!image.user || image.user === "root" || image.user === "0") throw new ReplayError(`stage ${final.name}: no USER, so the server would run as root`);
  const as = runAs(image.user);
  log(`USER ${image.user}: runs as ${as.name} (uid ${as.uid})${as.note ? `; ${as.note}` : ""}`);

  const adminUrl = env.REPLAY_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const database = await createDatabase(adminUrl, `aiutami_replay_${runId.replaceAll("-", "_")}`);
  cleanups.push(database.drop);
  const redis = await claimRedisDatabase(env.REPLAY_REDIS_URL ?? "redis://127.0.0.1:6379", runId);
  cleanups.push(redis.release);
  const port = await freePort();
  log(`database ${new URL(database.url).pathname.slice(1)}, Redis ${redis.url}, port ${port}`);

  // What `docker run -e` would add (compose passes the same): loopback only, the run's own services.
  const runEnv = {
    ...baseEnv,
    HOME: as.home,
    ...image.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    DEMO_PAGE: "true",
  };
  const inImage = (command: Command, timeoutMs: number, stdio: "ignore" | number) =>
    runCommand(command, { cwd: appDir, env: runEnv, as, timeoutMs, stdio: stdio === "ignore" ? "ignore" : ["ignore", stdio, stdio] });

  const serverLog = join(tmp, "server.log");
  log(`CMD ${describe(final.cmd.command)}`);
  const out = openSync(serverLog, "a");
  const server = startCommand(final.cmd.command, { cwd: appDir, env: runEnv, as, stdio: ["ignore", out, out] });
  // The container's end: anything the CMD started and left dies with it.
  cleanups.push(() => killGroup(server));
  const failWithLog = (why: string): never => {
    throw new ReplayError(`${why}\n--- server log (last 30 lines) ---\n${tail(serverLog, 30)}`);
  };

  const readyIn = await waitReady(port, server).catch((err: Error) => failWithLog(err.message));
  log(`/readyz answered 200 after ${(readyIn / 1000).toFixed(1)} s`);

  const health = final.healthcheck;
  const healthy = await inImage(health.command, health.timeoutMs, "ignore");
  if (healthy !== 0) failWithLog(`HEALTHCHECK (line ${health.line}) failed (${healthy}) while /readyz answers 200`);
  log("HEALTHCHECK exits 0");

  for (const [path, type] of [["/demo", "text/html"], ["/demo/aiutami-client.js", "text/javascript"]] as const) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    const body = await res.text();
    if (res.status !== 200 || !res.headers.get("content-type")?.startsWith(type)) failWithLog(`GET ${path}: ${res.status} ${res.headers.get("content-type")}: ${body.slice(0, 200)}`);
  }
  log("/demo serves the page and the SDK's browser build");

  const seedLog = join(tmp, "seed.log");
  const seeded = await inImage({ form: "exec", argv: seedCommand }, 300_000, openSync(seedLog, "a"));
  if (seeded !== 0) throw new ReplayError(`seed command ${seedCommand.join(" ")} failed (${seeded}):\n${tail(seedLog, 20)}`);
  const provider = DEMO_PEOPLE.find((p) => p.role === "provider")!;
  const login = await fetch(`http://127.0.0.1:${port}/trpc/auth.logIn`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: provider.email, password: DEMO_PASSWORD }) });
  const loginBody = (await login.json().catch(() => null)) as { result?: { data?: { token?: unknown } } } | null;
  if (login.status !== 200 || typeof loginBody?.result?.data?.token !== "string") failWithLog(`after the seed, ${provider.email} cannot log in: ${login.status} ${JSON.stringify(loginBody).slice(0, 300)}`);
  log(`${seedCommand.join(" ")} seeded the demo; ${provider.email} logs in`);

  const stopped = await stop(server);
  if (stopped !== "code 0") failWithLog(`after SIGTERM the server ended with ${stopped}, not a clean exit (code 0)`);
  log("SIGTERM: the server exited with code 0");
  const afterStop = await inImage(health.command, health.timeoutMs, "ignore");
  if (afterStop === 0) throw new ReplayError("HEALTHCHECK exits 0 with the server stopped: it checks nothing");
  log(`HEALTHCHECK fails with the server stopped (${afterStop})`);
  return started;
}

/** Polls /readyz until 200; fails at once if the server exits, or after READY_TIMEOUT_MS. */
async function waitReady(port: number, server: ChildProcess): Promise<number> {
  const started = Date.now();
  let last = "no answer";
  while (Date.now() - started < READY_TIMEOUT_MS) {
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`the server exited (${server.exitCode ?? server.signalCode}) before /readyz answered 200`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return Date.now() - started;
      last = `${res.status} ${(await res.text()).slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`/readyz did not answer 200 within ${READY_TIMEOUT_MS} ms (last: ${last})`);
}

function stop(server: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.kill("SIGKILL");
      resolve(`no exit within ${STOP_TIMEOUT_MS} ms`);
    }, STOP_TIMEOUT_MS);
    server.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code !== null ? `code ${code}` : `signal ${signal}`);
    });
    server.kill("SIGTERM");
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines: number): string {
  return existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "(none)";
}

/** Runs every clean-up, even after one fails; false when any did (the run then fails too). */
async function cleanUp(): Promise<boolean> {
  let clean = true;
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      clean = false;
      console.error(`[replay] FAILED to clean up: ${(err as Error).message}`);
    }
  }
  return clean;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`[replay] ${signal}: cleaning up`);
    for (const child of running) killGroup(child);
    void cleanUp().then(() => process.exit(130));
  });
}

try {
  const started = await main();
  if (!(await cleanUp())) process.exit(1);
  log(`PASSED in ${((Date.now() - started) / 1000).toFixed(1)} s, temp folders, database and Redis keys removed`);
} catch (err) {
  await cleanUp();
  console.error(`[replay] FAILED: ${err instanceof ReplayError ? err.message : (err as Error).stack}`);
  process.exit(1);
}
