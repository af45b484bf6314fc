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
  return { status: res.status, contentType: res.headers.get("content-type"), vary: res.headers.get("vary"), body: await res.text() };
}

/** Both servers, one request each, with the same request id; returns both answers. */
async function both(r: Req) {
  const id = `conformance-${crypto.randomUUID()}`;
  const [ours, theirs] = await Promise.all([send(app.baseUrl, r, id), send(referenceUrl, r, id)]);
  return { ours, theirs };
}

const bearer = (user: TestUser, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${user.token}`, "x-tenant-id": tenant.slug, ...extra });
const q = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;

describe("the direct JSON path answers as tRPC's adapter does", () => {
  const cases: Array<[string, () => Req]> = [
    ["a query without input", () => ({ method: "GET", path: "auth.me", headers: bearer(client) })],
    ["a query with input", () => ({ method: "GET", path: `notifications.list?${q({ limit: 5 })}`, headers: bearer(provider) })],
    ["a batch of two queries", () => ({ method: "GET", path: `auth.me,notifications.unreadCount?batch=1&${q({ 0: undefined, 1: {} })}`, headers: bearer(provider) })],
    ["an unauthenticated query", () => ({ method: "GET", path: "auth.me" })],
    ["a batch where one call is refused (207)", () => ({ method: "GET", path: `auth.me,notifications.unreadCount?batch=1&${q({})}`, headers: { authorization: `Bearer ${provider.token}` } })],
    ["a mutation with invalid input, naming the fields", () => ({ method: "POST", path: "hires.create", body: JSON.stringify({ providerId: "nope", jobDescription: "" }), headers: bearer(client) })],
    ["a batched mutation with invalid input", () => ({ method: "POST", path: "hires.create?batch=1", body: JSON.stringify({ 0: { providerId: provider.id } }), headers: bearer(client) })],
    ["a batch whose input is not an object", () => ({ method: "POST", path: "hires.create?batch=1", body: "[1]", headers: bearer(client) })],
    ["a body that is not JSON", () => ({ method: "POST", path: "hires.create", body: "{not json", headers: bearer(client) })],
    ["an empty body", () => ({ method: "POST", path: "auth.logOut", body: "", headers: { "content-type": "application/json" } })],
    ["a mutation refused by role", () => ({ method: "POST", path: "hires.create", body: JSON.stringify(hireInput(provider.id)), headers: bearer(provider) })],
    ["a mutation to an unknown tenant", () => ({ method: "POST", path: "hires.create", body: JSON.stringify(hireInput(provider.id)), headers: bearer(client, { "x-tenant-id": "no-such-agency" }) })],
    ["a query sent as POST (left to the adapter)", () => ({ method: "POST", path: "auth.me", body: "{}", headers: bearer(client) })],
    ["a mutation sent as GET (left to the adapter)", () => ({ method: "GET", path: "hires.create", headers: bearer(client) })],
    ["an unknown procedure (left to the adapter)", () => ({ method: "GET", path: "hires.nothing", headers: bearer(client) })],
  ];
  it.each(cases)("%s", async (_name, build) => {
    const { ours, theirs } = await both(build());
    expect(ours.status).toBe(theirs.status);
    expect(ours.contentType).toBe(theirs.contentType);
    expect(ours.vary).toBe(theirs.vary);
    expect(JSON.parse(ours.body)).toEqual(JSON.parse(theirs.body));
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
