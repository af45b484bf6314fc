/**
 * The direct JSON path (server/http/trpc-json.ts) answers exactly as tRPC's own adapter does. The
 * same requests go to the app and to a server running only tRPC's standalone adapter over the same
 * dependencies, and the status, content type and body must match.
 */
import { createServer, type Server } from "node:http";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpContext } from "../../server/http/trpc-handler";
import { appRouter } from "../../server/router";
import type { TestTenant, TestUser } from "../helpers/factories";
import { createMarketplace, hireInput } from "../helpers/hiring";
import { createTestEnv, startHttpServer, type TestEnv, type TestServer } from "../helpers/test-app";

let env: TestEnv;
let app: TestServer;
let reference: Server;
let referenceUrl: string;
let tenant: TestTenant;
let client: TestUser;
let provider: TestUser;

beforeAll(async () => {
  env = await createTestEnv();
  app = await startHttpServer(env);
  const handler = createHTTPHandler({
    router: appRouter,
    basePath: "/trpc/",
    maxBodySize: 1_000_000,
    createContext: ({ req, res }) => createHttpContext(env.deps, req, res, String(req.headers["x-request-id"])),
  });
  reference = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => reference.listen(0, "127.0.0.1", resolve));
  const address = reference.address();
  referenceUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  ({ tenant, client, provider } = await createMarketplace(env));
});
afterAll(async () => {
  await new Promise((resolve) => reference.close(resolve));
  await app.stop();
  await env.close();
});

type Req = { method: "GET" | "POST"; path: string; body?: string; headers?: Record<string, string> };

async function send(base: string, r: Req, requestId: string) {
  const res = await fetch(`${base}/trpc/${r.path}`, {
    method: r.method,
    headers: { "x-request-id": requestId, ...(r.method === "POST" ? { "content-type": "application/json" } : {}), ...r.headers },
    body: r.body,
  });
  const chunked = res.headers.get("transfer-encoding") === "chunked";
  return { status: res.status, contentType: res.headers.get("content-type"), vary: res.headers.get("vary"), chunked, body: await res.text() };
}

/** Both servers, one request each, with the same request id; returns both answers. */
async function both(r: Req) {
  const id = `conformance-${crypto.randomUUID()}`;
  const [ours, theirs] = await Promise.all([send(app.baseUrl, r, id), send(referenceUrl, r, id)]);
  return { ours, theirs };
}

/** A JSON body as a value (key order aside); anything else (a jsonl stream) as its text. */
const parsed = (body: string): unknown => {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
};
const bearer = (user: TestUser, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${user.token}`, "x-tenant-id": tenant.slug, ...extra });
const q = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;

describe("the direct JSON path answers as tRPC's adapter does", () => {
  const cases: Array<[string, "direct" | "adapter", () => Req]> = [
    ["a query without input", "direct", () => ({ method: "GET", path: "auth.me", headers: bearer(client) })],
    ["a query with input", "direct", () => ({ method: "GET", path: `notifications.list?${q({ limit: 5 })}`, headers: bearer(provider) })],
    ["a batch of two queries", "direct", () => ({ method: "GET", path: `auth.me,notifications.unreadCount?batch=1&${q({ 0: undefined, 1: {} })}`, headers: bearer(provider) })],
    ["a batch without input", "direct", () => ({ method: "GET", path: "auth.me,notifications.unreadCount?batch=1", headers: bearer(provider) })],
    ["an unauthenticated query", "direct", () => ({ method: "GET", path: "auth.me" })],
    ["a batch where one call is refused (207)", "direct", () => ({ method: "GET", path: `auth.me,notifications.unreadCount?batch=1&${q({})}`, headers: { authorization: `Bearer ${provider.token}` } })],
    ["a mutation with invalid input, naming the fields", "direct", () => ({ method: "POST", path: "hires.create", body: JSON.stringify({ providerId: "nope", jobDescription: "" }), headers: bearer(client) })],
    ["a batched mutation with invalid input", "direct", () => ({ method: "POST", path: "hires.create?batch=1", body: JSON.stringify({ 0: { providerId: provider.id } }), headers: bearer(client) })],
    ["a batch whose input is not an object", "direct", () => ({ method: "POST", path: "hires.create?batch=1", body: "[1]", headers: bearer(client) })],
    ["a body that is not JSON", "direct", () => ({ method: "POST", path: "hires.create", body: "{not json", headers: bearer(client) })],
    ["a body with a byte-order mark", "direct", () => ({ method: "POST", path: "hires.create", body: `\uFEFF${JSON.stringify({ providerId: "nope" })}`, headers: bearer(client) })],
    ["a string holding a NUL, named by its field", "direct", () => ({ method: "POST", path: "hires.create", body: JSON.stringify({ ...hireInput(provider.id), location: "Via Roma\u0000 1" }), headers: bearer(client) })],
    ["a string holding an unpaired surrogate", "direct", () => ({ method: "POST", path: "hires.create", body: '{"providerId":"x","jobDescription":"caf\\ud800 au lait, twice"}', headers: bearer(client) })],
    ["an empty body", "direct", () => ({ method: "POST", path: "auth.logOut", body: "", headers: { "content-type": "application/json" } })],
    ["a mutation refused by role", "direct", () => ({ method: "POST", path: "hires.create", body: JSON.stringify(hireInput(provider.id)), headers: bearer(provider) })],
    ["a mutation to an unknown tenant", "direct", () => ({ method: "POST", path: "hires.create", body: JSON.stringify(hireInput(provider.id)), headers: bearer(client, { "x-tenant-id": "no-such-agency" }) })],
    ["a query sent as POST", "adapter", () => ({ method: "POST", path: "auth.me", body: "{}", headers: bearer(client) })],
    ["a batch mixing a query and a mutation", "adapter", () => ({ method: "POST", path: "auth.me,auth.logOut?batch=1", body: "{}", headers: bearer(client) })],
    ["a mutation sent as GET", "adapter", () => ({ method: "GET", path: "hires.create", headers: bearer(client) })],
    ["a GET declaring a form body", "adapter", () => ({ method: "GET", path: "auth.me", headers: bearer(client, { "content-type": "multipart/form-data; boundary=x" }) })],
    ["a body of another media type", "adapter", () => ({ method: "POST", path: "hires.create", body: "{}", headers: bearer(client, { "content-type": "text/plain" }) })],
    ["a streamed (jsonl) batch", "adapter", () => ({ method: "GET", path: "auth.me?batch=1", headers: bearer(client, { "trpc-accept": "application/jsonl" }) })],
    ["an unknown procedure", "adapter", () => ({ method: "GET", path: "hires.nothing", headers: bearer(client) })],
  ];
  it.each(cases)("%s (%s)", async (_name, path, build) => {
    const { ours, theirs } = await both(build());
    expect(ours.status).toBe(theirs.status);
    expect(ours.contentType).toBe(theirs.contentType);
    // The app's CORS layer adds Origin to tRPC's own Vary on every /trpc answer.
    expect(ours.vary).toBe(`Origin, ${theirs.vary}`);
    // The direct path writes one response with a length; the adapter streams its body in chunks.
    expect(ours.chunked).toBe(path === "adapter");
    expect(theirs.chunked).toBe(true);
    expect(parsed(ours.body)).toEqual(parsed(theirs.body));
  });

  it("a string holding a NUL is a 400 naming the field", async () => {
    const { ours } = await both({ method: "POST", path: "hires.create", body: JSON.stringify({ ...hireInput(provider.id), location: "Via Roma\u0000 1" }), headers: bearer(client) });
    expect(ours.status).toBe(400);
    expect(JSON.parse(ours.body)).toMatchObject({
      error: { message: "Invalid input: location: must not contain a NUL character or an unpaired surrogate", data: { code: "BAD_REQUEST", issues: [{ path: "location" }] } },
    });
  });

  it("a successful mutation answers with the same shape and status, once per server", async () => {
    const input = hireInput(provider.id);
    const { ours, theirs } = await both({ method: "POST", path: "hires.create", body: JSON.stringify(input), headers: bearer(client) });
    expect(ours.status).toBe(200);
    expect(theirs.status).toBe(200);
    const strip = (body: string) => {
      const { result } = JSON.parse(body) as { result: { data: Record<string, unknown> } };
      const { id, createdAt, updatedAt, ...rest } = result.data;
      expect(typeof id).toBe("string");
      expect(createdAt).toBe(updatedAt);
      return rest;
    };
    expect(strip(ours.body)).toEqual(strip(theirs.body));
  });

  it("the direct path writes one response with a Content-Length, not a chunked stream", async () => {
    const res = await fetch(`${app.baseUrl}/trpc/auth.me`, { headers: { authorization: `Bearer ${client.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String((await res.clone().arrayBuffer()).byteLength));
    expect(res.headers.get("transfer-encoding")).toBeNull();
    expect(((await res.json()) as { result: { data: { user: { id: string } } } }).result.data.user.id).toBe(client.id);
  });
});
