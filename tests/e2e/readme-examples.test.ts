/**
 * Documentation that runs: every code block of README.md and client-sdk/README.md, as a newcomer would
 * paste it, against the real server (spawned, with the demo data of `npm run db:seed`).
 * - sh blocks run with bash (errexit, pipefail) in an empty directory;
 * - ts blocks are type-checked together against the built SDK's types (client-sdk/dist, which
 *   `npm install` builds), then each runs as an ES module (`.mts`, with tsx) in a default (CommonJS)
 *   project whose `@aiutami/client` is that SDK; js blocks run as `.mjs` with node;
 * - each runnable block runs twice, so none may depend on what an earlier run left (a fixed sign-up
 *   email would fail the second time), and each must exit by itself within a bound;
 * - a block opts out only with `<!-- not-run: reason -->` (or `<!-- typecheck-only: reason -->` for
 *   TypeScript that needs a browser) just before it; those are listed, and skipped visibly.
 * The only change made to a block is its server: `localhost:3000` becomes the spawned server's address.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readmeBlocks, type ReadmeBlock } from "../helpers/readme-blocks";
import { startServer, type BenchServer } from "../helpers/spawn-server";
import { fileDatabaseUrl } from "../helpers/file-database";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
/** A hang guard, not a performance limit: an example that waits for something that never comes fails. */
const EXAMPLE_BOUND_MS = 60_000;

const blocks = readmeBlocks(ROOT, ["README.md", "client-sdk/README.md"]);
const label = (b: ReadmeBlock) => `${b.file}:${b.line} (${b.lang || "no language"})`;
const runnable = blocks.filter((b) => b.kind === "sh" || b.kind === "ts" || b.kind === "js");
const typeChecked = blocks.filter((b) => b.kind === "ts" || b.kind === "typecheck-only");
const fileOf = (b: ReadmeBlock) => `${b.file.replace(/[^a-z0-9]+/gi, "-")}-${b.line}.${b.kind === "js" ? "mjs" : "mts"}`;

type Ran = { code: number | null; stdout: string; stderr: string; timedOut: boolean };
const run = (cmd: string, args: string[], cwd: string, opts: { env?: Record<string, string>; timeout?: number } = {}) =>
  new Promise<Ran>((resolve) => {
    // The examples' `node` is this Node, first on PATH.
    const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`, npm_config_update_notifier: "false", ...opts.env };
    const timeout = opts.timeout ?? EXAMPLE_BOUND_MS;
    execFile(cmd, args, { cwd, env, encoding: "utf8", timeout, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const failed = err as (Error & { code?: number | string; killed?: boolean }) | null;
      resolve({ code: failed ? (typeof failed.code === "number" ? failed.code : null) : 0, stdout, stderr, timedOut: Boolean(failed?.killed) });
    });
  });

let server: BenchServer;
let work: string;
let project: string;
let serverAddress: string;
const against = (code: string) => code.replaceAll("http://localhost:3000", `http://${serverAddress}`).replaceAll("localhost:3000", serverAddress);

beforeAll(async () => {
  if (!existsSync(join(ROOT, "client-sdk/dist/index.d.ts"))) throw new Error("client-sdk/dist is missing: run npm install (or npm run build:sdk) first");
  work = mkdtempSync(join(tmpdir(), "aiutami-readme-"));
  const env = { DATABASE_URL: fileDatabaseUrl(), REDIS_URL: inject("redisUrl") };
  // `npm run db:seed`, as the READMEs ask, on the database the server will use.
  const seeded = await run(TSX, ["db/seed.ts"], ROOT, { env, timeout: 120_000 });
  if (seeded.code !== 0) throw new Error(`npm run db:seed failed:\n${seeded.stdout}${seeded.stderr}`);
  server = await startServer({
    ...env,
    DATA_DIR: join(work, "data"),
    NODE_ENV: "test",
    // As client-sdk/README.md's Vite section starts it.
    ALLOWED_ORIGINS: "http://localhost:5173,http://127.0.0.1:5173",
  });
  serverAddress = new URL(server.baseUrl).host;

  // A default (CommonJS) project: `.mts` files are ES modules there, as the READMEs say.
  project = join(work, "project");
  mkdirSync(join(project, "node_modules/@aiutami"), { recursive: true });
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "readme-examples", private: true }));
  symlinkSync(join(ROOT, "client-sdk"), join(project, "node_modules/@aiutami/client"), "dir");
  for (const b of typeChecked) writeFileSync(join(project, fileOf(b)), b.code);
  for (const b of blocks.filter((x) => x.kind === "js")) writeFileSync(join(project, fileOf(b)), b.code);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the READMEs' code blocks", () => {
  it("are each run, type-checked, or opted out with a reason, and the opted-out ones are listed", () => {
    expect(blocks.filter((b) => b.kind === "unknown").map((b) => `${label(b)}: ${b.reason}`)).toEqual([]);
    const notRun = blocks.filter((b) => b.kind !== "sh" && b.kind !== "ts" && b.kind !== "js");
    console.log(
      `README blocks: ${runnable.length} run, ${blocks.filter((b) => b.kind === "typecheck-only").length} type-checked only, ${notRun.length} not run:\n` +
        notRun.map((b) => `  ${label(b)} ${b.kind}${b.reason ? `: ${b.reason}` : ""}`).join("\n"),
    );
    for (const file of ["README.md", "client-sdk/README.md"]) {
      expect(runnable.filter((b) => b.file === file).length, `${file} has examples that run`).toBeGreaterThan(0);
    }
  });

  it("type-check against the SDK's types, and a deliberately broken example does not", async () => {
    // The canary proves the check has teeth: were @aiutami/client to resolve to nothing (any), it would pass.
    writeFileSync(
      join(project, "canary-broken.mts"),
      `import { createAiutamiClient } from "@aiutami/client";\nconst client = createAiutamiClient({ baseUrl: "http://localhost:3000" });\nawait client.api.profiles.search.query({ kind: "plumber" });\n`,
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", moduleDetection: "force",
          lib: ["ES2023", "DOM", "DOM.Iterable"], types: ["node"], typeRoots: [join(ROOT, "node_modules/@types")],
          strict: true, noUncheckedIndexedAccess: true, noUnusedLocals: true, skipLibCheck: true, noEmit: true,
        },
        include: ["*.mts"],
      }),
    );
    const checked = await run(process.execPath, [TSC, "-p", project, "--pretty", "false"], project);
    const errors = checked.stdout.split("\n").filter((l) => /error TS\d+/.test(l));
    expect(errors.filter((l) => !l.startsWith("canary-broken.mts")), "type errors in the READMEs' examples").toEqual([]);
    expect(errors.join("\n")).toMatch(/^canary-broken\.mts\(3,\d+\): error TS\d+: .*plumber/m);
    expect(checked.code).not.toBe(0);
  }, 120_000);

  for (const b of runnable) {
    it(`${label(b)} runs as written, twice`, async () => {
      for (const round of [1, 2]) {
        let ran: Ran;
        if (b.kind === "sh") {
          const cwd = mkdtempSync(join(work, "sh-"));
          writeFileSync(join(cwd, "example.sh"), against(b.code));
          ran = await run("bash", ["-eo", "pipefail", "example.sh"], cwd);
          // curl exits 0 on an error answer unless told otherwise: a tRPC error in the output fails too.
          expect(ran.stdout, `${label(b)}, run ${round}, answered an error`).not.toMatch(/\{"error":\{/);
        } else {
          writeFileSync(join(project, fileOf(b)), against(b.code));
          ran = b.kind === "ts" ? await run(TSX, [fileOf(b)], project) : await run(process.execPath, [fileOf(b)], project);
        }
        const said = `${label(b)}, run ${round}${ran.timedOut ? `: did not exit within ${EXAMPLE_BOUND_MS / 1000} s` : ""}:\n${ran.stdout}\n${ran.stderr}`;
        expect(ran.timedOut, said).toBe(false);
        expect(ran.code, said).toBe(0);
        expect(ran.stdout.trim(), `${label(b)} prints what it did`).not.toBe("");
      }
    }, 3 * EXAMPLE_BOUND_MS);
  }

  for (const b of blocks.filter((x) => x.kind === "not-run" || x.kind === "typecheck-only" || x.kind === "text")) {
    it.skip(`${label(b)} is not run: ${b.reason ?? "no language, not code"}`, () => {});
  }
});
