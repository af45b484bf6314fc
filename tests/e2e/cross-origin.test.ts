import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort, startServer, type BenchServer } from "../helpers/spawn-server";
import { launchChromium, PASSWORD, seedAgency } from "../helpers/browser";
import type * as Sdk from "../../client-sdk/src/index";
import { fileDatabaseUrl } from "../helpers/file-database";

/**
 * A front end on its own origin, as a Vite dev server would serve it: a page on another port loads the
 * SDK's browser build and uses the API and the hub from there. Its origin is in ALLOWED_ORIGINS; a third
 * origin is not, and must get no CORS grant at all.
 */
const SDK_BUNDLE = join(import.meta.dirname, "../../client-sdk/dist/browser/aiutami-client.js");

let api: BenchServer;
let frontEnd: { server: Server; origin: string };
let foreign: { server: Server; origin: string };
let browser: Browser;

/** A static origin serving the SDK bundle and an empty page, like a dev server would. */
async function staticOrigin(): Promise<{ server: Server; origin: string }> {
  const port = await freePort();
  const bundle = readFileSync(SDK_BUNDLE);
  const server = createServer((req, res) => {
    if (req.url === "/aiutami-client.js") {
      res.setHeader("content-type", "text/javascript");
      return res.end(bundle);
    }
    res.setHeader("content-type", "text/html");
    res.end('<!doctype html><html><head><meta charset="utf-8"><title>front end</title><script type="module">import * as sdk from "/aiutami-client.js"; window.sdk = sdk;</script></head><body>front end</body></html>');
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${port}` };
}

beforeAll(async () => {
  frontEnd = await staticOrigin();
  foreign = await staticOrigin();
  api = await startServer({
    DATABASE_URL: fileDatabaseUrl(),
    REDIS_URL: inject("redisUrl"),
    NODE_ENV: "test",
    ALLOWED_ORIGINS: `${frontEnd.origin},http://localhost:5173`,
  });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  frontEnd?.server.close();
  foreign?.server.close();
});

async function pageOn(origin: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => "sdk" in globalThis);
  return page;
}

describe("a front end on another origin, in Chromium", () => {
  it("logs in, searches, hires and receives the notification live through the SDK's browser build", async () => {
    const agency = await seedAgency(api.baseUrl);
    const providerPage = await pageOn(frontEnd.origin);
    const clientPage = await pageOn(frontEnd.origin);
    const apiUrl = api.baseUrl;

    // The provider's device: logs in, opens the inbox, waits for the hire's notification.
    await providerPage.evaluate(
      async ({ apiUrl, email, password, tenant }) => {
        const sdk = (globalThis as unknown as { sdk: typeof Sdk }).sdk;
        const client = sdk.createAiutamiClient({ baseUrl: apiUrl, tenant });
        await client.auth.logIn({ email, password });
        const w = globalThis as unknown as { received: Promise<unknown>; connected: Promise<void> };
        w.received = new Promise((resolve) => client.notifications.on("notification", (n: unknown) => resolve(n)));
        w.connected = new Promise((resolve) => client.notifications.on("status", (s: string) => s === "connected" && resolve()));
        client.notifications.connect();
        await w.connected;
      },
      { apiUrl, email: agency.provider.email, password: PASSWORD, tenant: agency.tenant.slug },
    );

    const hire = await clientPage.evaluate(
      async ({ apiUrl, email, password, tenant }) => {
        const sdk = (globalThis as unknown as { sdk: typeof Sdk }).sdk;
        const client = sdk.createAiutamiClient({ baseUrl: apiUrl, tenant });
        await client.auth.logIn({ email, password });
        const found = await client.api.profiles.search.query({ kind: "senior_caregiver", near: { lat: 45.46, lng: 9.19, radiusKm: 30 } });
        const provider = found.items[0]!;
        const startsAt = new Date(Date.now() + 86_400_000).toISOString();
        const created = await client.api.hires.create.mutate({ providerId: provider.userId, jobDescription: "Cross-origin visit", location: "Via Roma 1, Milano", startsAt });
        return { id: created.id, providers: found.items.length };
      },
      { apiUrl, email: agency.client.email, password: PASSWORD, tenant: agency.tenant.slug },
    );
    expect(hire.providers).toBe(1);

    const received = (await providerPage.evaluate(() => (globalThis as unknown as { received: Promise<unknown> }).received)) as { type: string; payload: { hireId?: string; id?: string; jobDescription: string } };
    expect(received.type).toBe("hire.requested");
    expect(received.payload.jobDescription).toBe("Cross-origin visit");
  }, 60_000);

  it("the cookie flow works cross-origin with credentials, and mutations from the allowed origin are accepted", async () => {
    const agency = await seedAgency(api.baseUrl);
    const page = await pageOn(frontEnd.origin);
    const result = await page.evaluate(
      async ({ apiUrl, email, password }) => {
        const post = (path: string, body: unknown) =>
          fetch(`${apiUrl}/trpc/${path}`, { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        const logIn = await post("auth.logIn", { email, password });
        const me = await fetch(`${apiUrl}/trpc/auth.me`, { credentials: "include" });
        const meBody = (await me.json()) as { result?: { data: { user: { email: string } } } };
        const requestId = me.headers.get("x-request-id");
        const logOut = await post("auth.logOut", {});
        const after = await fetch(`${apiUrl}/trpc/auth.me`, { credentials: "include" });
        return { logIn: logIn.status, me: me.status, email: meBody.result?.data.user.email, requestId, logOut: logOut.status, after: after.status };
      },
      { apiUrl: api.baseUrl, email: agency.client.email, password: PASSWORD },
    );
    expect(result).toMatchObject({ logIn: 200, me: 200, email: agency.client.email, logOut: 200, after: 401 });
    expect(result.requestId).toMatch(/.{8,}/); // an exposed header: readable by the page's script
  }, 60_000);

  it("an origin not in ALLOWED_ORIGINS gets no CORS grant: the browser refuses to let it read or send credentials", async () => {
    const agency = await seedAgency(api.baseUrl);
    const page = await pageOn(foreign.origin);
    const outcome = await page.evaluate(
      async ({ apiUrl, email, password }) => {
        try {
          await fetch(`${apiUrl}/trpc/auth.logIn`, { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
          return "read";
        } catch (err) {
          return `refused: ${(err as Error).name}`;
        }
      },
      { apiUrl: api.baseUrl, email: agency.client.email, password: PASSWORD },
    );
    expect(outcome).toBe("refused: TypeError");

    const preflight = await fetch(`${api.baseUrl}/trpc/auth.logIn`, {
      method: "OPTIONS",
      headers: { origin: foreign.origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();

    const granted = await fetch(`${api.baseUrl}/trpc/auth.logIn`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization,x-tenant-id" },
    });
    expect(granted.status).toBe(204);
    expect(granted.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(granted.headers.get("access-control-allow-credentials")).toBe("true");
    expect(granted.headers.get("access-control-allow-headers")).toContain("x-tenant-id");
    expect(granted.headers.get("vary")).toContain("Origin");
  }, 60_000);

  it("a cookie-authenticated mutation from a foreign origin is still refused, whatever CORS says", async () => {
    const agency = await seedAgency(api.baseUrl);
    const logIn = await fetch(`${api.baseUrl}/trpc/auth.logIn`, { method: "POST", headers: { "content-type": "application/json", origin: frontEnd.origin }, body: JSON.stringify({ email: agency.client.email, password: PASSWORD }) });
    const cookie = logIn.headers.get("set-cookie")!.split(";")[0]!;
    const forged = await fetch(`${api.baseUrl}/trpc/auth.logOutEverywhere`, { method: "POST", headers: { "content-type": "application/json", cookie, origin: foreign.origin }, body: "{}" });
    expect(forged.status).toBe(403);
    expect(forged.headers.get("access-control-allow-origin")).toBeNull();
    const me = await fetch(`${api.baseUrl}/trpc/auth.me`, { headers: { cookie } });
    expect(me.status).toBe(200); // the session survived the forged call
  }, 60_000);

  it("the hub's Socket.IO polling handshake grants the allowed origin and no other", async () => {
    const handshake = (origin: string) => fetch(`${api.baseUrl}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });
    const allowed = await handshake(frontEnd.origin);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(frontEnd.origin);
    expect(allowed.headers.get("access-control-allow-credentials")).toBe("true");
    const other = await handshake(foreign.origin);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    expect(other.status).toBe(403);
  }, 30_000);
});
