import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createAiutamiClient, memoryStorage } from "../../client-sdk/src/index";
import { startServer, type BenchServer } from "../helpers/spawn-server";
import { fileDatabaseUrl } from "../helpers/file-database";
import { eventually } from "../helpers/sockets";

const ROOT = join(import.meta.dirname, "../..");
let server: BenchServer;
let work: string;

// Asynchronous on purpose: a synchronous child process would block the event loop for the whole npm
// install, and idle keep-alive sockets the server closed meanwhile would then be reused as if open.
const run = async (cmd: string, args: string[], cwd: string) =>
  (await promisify(execFile)(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" }, maxBuffer: 32 * 1024 * 1024 })).stdout;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "aiutami-consumer-"));
  server = await startServer({ DATABASE_URL: fileDatabaseUrl(), REDIS_URL: inject("redisUrl"), DATA_DIR: join(work, "data"), NODE_ENV: "test" });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** What a consumer writes after reading only the SDK's README. */
const CONSUMER = `
import { createAiutamiClient, AiutamiError, type Notification } from "@aiutami/client";

const [baseUrl, email, password, tenant] = process.argv.slice(2) as [string, string, string, string];
const client = createAiutamiClient({ baseUrl });
await client.auth.logIn({ email, password });
client.useTenant(tenant);

// @ts-expect-error "plumber" is not a provider kind: the SDK's types catch it before the server does
await client.api.profiles.search.query({ kind: "plumber" }).catch((e: unknown) => AiutamiError.from(e));

const first = new Promise<Notification>((resolve) => client.notifications.on("notification", resolve));
client.notifications.on("status", (s) => s === "connected" && console.log("READY"));
const n = await first;
if (n.type === "hire.requested") console.log("GOT", n.payload.fullName, "|", n.payload.jobDescription, "|", n.tenant.slug);
client.close();
process.exit(0);
`;

describe("the packed SDK in a fresh project", () => {
  it("installs from the tarball, type-checks with a misuse caught, and receives a live notification", async () => {
    await run("npm", ["run", "build", "-w", "@aiutami/client"], ROOT);
    await run("npm", ["pack", "--silent", "--pack-destination", work, "-w", "@aiutami/client"], ROOT);
    const tarball = join(work, readdirSync(work).find((f) => f.endsWith(".tgz"))!);
    const project = join(work, "consumer");
    await run("mkdir", ["-p", project], work);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball, "typescript@5.9.3", "@types/node@20"], project);
    writeFileSync(join(project, "main.ts"), CONSUMER);
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, outDir: "out", skipLibCheck: false, types: ["node"] }, include: ["main.ts"] }));
    // No server code and no server dependency may be needed: only the tarball's own dependencies.
    expect(readdirSync(join(project, "node_modules")).filter((d) => ["drizzle-orm", "ioredis", "pino", "postgres", "zod"].includes(d))).toEqual([]);
    await run("npx", ["tsc", "-p", "."], project); // fails on a type error, or if the @ts-expect-error is not needed
    writeFileSync(join(project, "check.cjs"), `const sdk = require("@aiutami/client"); if (typeof sdk.createAiutamiClient !== "function") process.exit(1);`);
    await run("node", ["check.cjs"], project);

    // A provider in an agency, made through the SDK from this repository.
    const owner = createAiutamiClient({ baseUrl: server.baseUrl, storage: memoryStorage() });
    const tag = Date.now().toString(36);
    await owner.auth.signUp({ email: `owner-${tag}@c.test`, password: "consumer-pass-123", firstName: "O", lastName: "Wner" });
    const tenant = await owner.api.tenants.create.mutate({ name: `Consumer agency ${tag}` });
    owner.useTenant(tenant.slug);
    const signUp = async (who: string, role: "client" | "provider") => {
      const c = createAiutamiClient({ baseUrl: server.baseUrl, storage: memoryStorage(), tenant: tenant.slug });
      const r = await c.auth.signUp({ email: `${who}-${tag}@c.test`, password: "consumer-pass-123", firstName: who, lastName: "Rossi" });
      const invitation = await owner.api.tenants.members.invite.mutate({ email: r.user.email, role });
      await c.api.tenants.invitations.accept.mutate({ id: invitation.id });
      return { c, r };
    };
    const provider = await signUp("provider", "provider");
    const client = await signUp("client", "client");
    await provider.c.api.profiles.upsertMine.mutate({ kind: "tutor", headline: "Maths tutor", hourlyRateCents: 2500, city: "Milan", lat: 45.46, lng: 9.19, serviceRadiusKm: 5, subjects: ["maths"], levels: ["middle"], published: true });

    const child = spawn("node", ["out/main.js", server.baseUrl, provider.r.user.email, "consumer-pass-123", tenant.slug], { cwd: project });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    // Node's start, the log-in (argon2) and the socket's connect: slow on a loaded machine, so a wide bound.
    await eventually(() => output.includes("READY") || child.exitCode !== null, "the consumer ready (or gone)", 60_000);
    expect(output).toContain("READY");
    await client.c.api.hires.create.mutate({ providerId: provider.r.user.id, jobDescription: "Homework help on Tuesday", location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() });
    expect(await exited).toBe(0);
    expect(output).toContain(`GOT client Rossi | Homework help on Tuesday | ${tenant.slug}`);
  }, 180_000);
});
