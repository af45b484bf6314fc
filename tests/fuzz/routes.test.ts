import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeRequest, Findings, fuzzParams, send, sendRaw, type FuzzRequest } from "../helpers/fuzz-http";
import { rawRequestArbitrary, requestArbitrary, type Credentials } from "../helpers/fuzz-requests";
import { startFuzzServer, type FuzzServer } from "../helpers/fuzz-server";

/**
 * Every route's path, query, headers and body, generated, against the real server in its own process
 * (with the demo page on): no answer may be a 5xx other than 503 or carry an internal error, every
 * answer of ours carries its request id, and after each request the process still answers /healthz.
 */

let server: FuzzServer;
let creds: Credentials;
let email: string;
const TEST_PASSWORD = "a-long-fuzz-passphrase";

async function call(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.baseUrl}/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  const json = (await res.json()) as { result?: { data: Record<string, unknown> }; error?: unknown };
  if (!json.result) throw new Error(`${path} failed: ${JSON.stringify(json.error)}`);
  return json.result.data;
}

beforeAll(async () => {
  server = await startFuzzServer({ DEMO_PAGE: "true" });
  email = `fuzz-routes-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.test`;
  const { token } = (await call("auth.signUp", { email, password: TEST_PASSWORD, firstName: "Fuzz", lastName: "Routes" })) as { token: string };
  const tenant = (await call("tenants.create", { name: "Fuzz routes agency" }, { authorization: `Bearer ${token}` })) as { id: string; slug: string };
  creds = { token, tenantSlug: tenant.slug, tenantId: tenant.id, origin: server.baseUrl };
}, 90_000);

afterAll(async () => {
  await server?.stop();
});

/** Sends, judges, and checks the process is still there; answers false on a finding. */
async function exercise(findings: Findings, req: FuzzRequest): Promise<boolean> {
  const logFrom = server.errors.length;
  const res = await send(server.baseUrl, req).catch((err: Error) => err);
  let ok = findings.judge(`${req.method} ${req.path.split("?")[0]!.slice(0, 40)}`, req, res, logFrom);
  if (!(res instanceof Error) && !("clientRefused" in res)) {
    // Answers of Node's own parser (a header block too large, a refused Expect) come before any route.
    const ours = !req.path.startsWith("/socket.io") && !(!res.text.startsWith("{") && [400, 413, 417, 431].includes(res.status));
    if (ours && res.headers["x-request-id"] === undefined) {
      findings.add(`no-request-id:${res.status}`, { what: "answer without x-request-id", request: describeRequest(req), status: res.status, answer: res.text.slice(0, 200), serverLog: [] });
      ok = false;
    }
  }
  await server.assertAlive();
  // A generated log-out may have ended the fuzz's own session: take a new one, so later requests still carry a live token.
  if (req.path.includes("logOut")) creds.token = ((await call("auth.logIn", { email, password: TEST_PASSWORD })) as { token: string }).token;
  return ok;
}

describe("fuzz: every HTTP route", () => {
  it("answers any generated request with 4xx or a success, never a 500, and keeps serving", async () => {
    const { seed, numRuns } = fuzzParams(250);
    console.log(`routes fuzz: seed ${seed}, ${numRuns} requests (replay with FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns})`);
    const findings = new Findings(server);
    await fc.assert(
      fc.asyncProperty(requestArbitrary(() => creds), async (req) => {
        await exercise(findings, req);
      }),
      { seed, numRuns, endOnFailure: true },
    );
    await findings.collectDatabaseRefusals(creds);
    expect(findings.list.length, `${findings.list.length} failing request(s) of ${findings.requests}:\n${findings.report()}`).toBe(0);
  });

  it("survives requests no HTTP client would send (broken request lines, smuggling, bad chunks, cut bodies, odd upgrades)", async () => {
    const { seed, numRuns } = fuzzParams(60);
    const findings = new Findings(server);
    await fc.assert(
      fc.asyncProperty(rawRequestArbitrary, async (bytes) => {
        const logFrom = server.errors.length;
        const { statusLine, text } = await sendRaw(server.baseUrl, bytes);
        const status = Number(statusLine?.split(" ")[1] ?? 0);
        findings.requests++;
        if ((status >= 500 && status !== 503) || text.includes("INTERNAL_SERVER_ERROR")) {
          const shown = bytes.toString("latin1");
          findings.add(`raw:${status}:${shown.slice(0, 30)}`, {
            what: `raw request answered ${statusLine}`,
            request: JSON.stringify(shown.length > 600 ? `${shown.slice(0, 600)}…` : shown),
            status,
            answer: text.slice(0, 300),
            logFrom,
          });
        }
        await server.assertAlive();
      }),
      { seed, numRuns, endOnFailure: true },
    );
    expect(findings.list.length, `${findings.list.length} failing raw request(s) of ${findings.requests}:\n${findings.report()}`).toBe(0);
  });

  it("still serves a normal call after all of it", async () => {
    const res = await fetch(`${server.baseUrl}/trpc/auth.me`, { headers: { authorization: `Bearer ${creds.token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { result: { data: { user: { email: string } } } }).result.data.user.email).toBe(email);
    expect(server.errors.filter((e) => e.level >= 60), "fatal lines in the server log").toEqual([]);
  });
});
