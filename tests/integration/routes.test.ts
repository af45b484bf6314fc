import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "../helpers/factories";
import { startTestApp, type TestApp } from "../helpers/test-app";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

describe("routes outside tRPC", () => {
  it.each(["/media/%E0%A4%A", "/media/tenants/%", "/media/%", "/media/%ZZ/x"])("a malformed percent-encoding in %s is a 400 with the request id, and the server keeps serving", async (path) => {
    const res = await fetch(`${app.server.baseUrl}${path}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; requestId: string } };
    expect(body.error.message).toMatch(/percent-encoding/);
    expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
    expect((await fetch(`${app.server.baseUrl}/healthz`)).status).toBe(200);
  });

  it("GET / lists where things are when the demo page is off", async () => {
    const res = await fetch(`${app.server.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ api: "/trpc", metrics: "/metrics", readiness: "/readyz" });
  });

  it("a streamed (jsonl) batch of log-outs answers without a 500, though their cookies come after the headers", async () => {
    const { token } = await createUser(app.env);
    const res = await fetch(`${app.server.baseUrl}/trpc/auth.logOut,auth.logOut?batch=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "trpc-accept": "application/jsonl" },
      body: JSON.stringify({ 0: {}, 1: {} }),
    });
    const text = await res.text();
    expect(text).not.toContain("INTERNAL_SERVER_ERROR");
    expect((await fetch(`${app.server.baseUrl}/trpc/auth.me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it("an unknown route is a 404 naming it", async () => {
    const res = await fetch(`${app.server.baseUrl}/nope?x=1`, { method: "DELETE" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("No route for DELETE /nope");
  });
});
