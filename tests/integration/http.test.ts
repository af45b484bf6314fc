import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres } from "../../db/migrate";
import { createApp } from "../../server/app";
import { createTenant, createUser, TEST_PASSWORD } from "../helpers/factories";
import { createTestEnv, startHttpServer, startTestApp, type TestEnv } from "../helpers/test-app";

const METRICS_TOKEN = `metrics-${crypto.randomUUID()}`;
let env: TestEnv;
let server: Awaited<ReturnType<typeof startHttpServer>>;
beforeAll(async () => {
  env = await createTestEnv({ ALLOWED_ORIGINS: "https://app.aiutami.test", METRICS_TOKEN: METRICS_TOKEN });
  server = await startHttpServer(env);
});
afterAll(async () => {
  await server.stop();
  await env.close();
});

type TrpcBody = { result?: { data: unknown }; error?: { message: string; data: { code: string; httpStatus: number; requestId?: string; issues?: { path: string }[] } } };

async function call(path: string, opts: { input?: unknown; mutation?: boolean; headers?: Record<string, string> } = {}) {
  const url = new URL(`/trpc/${path}`, server.baseUrl);
  if (!opts.mutation && opts.input !== undefined) url.searchParams.set("input", JSON.stringify(opts.input));
  const res = await fetch(url, {
    method: opts.mutation ? "POST" : "GET",
    headers: { "content-type": "application/json", ...opts.headers },
    body: opts.mutation ? JSON.stringify(opts.input ?? null) : undefined,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as TrpcBody };
}

describe("health", () => {
  it("healthz answers while the process is up, readyz when the database and Redis answer", async () => {
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", database: "ok", redis: "ok" });
  });

  it("readyz answers 503 naming Redis when Redis does not answer", async () => {
    const dead = new Redis("redis://127.0.0.1:1", { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    dead.on("error", () => {});
    const app = createApp({
      config: env.config,
      log: env.deps.log,
      database: { ...env.database, close: async () => {} },
      redis: { redis: dead, url: "redis://127.0.0.1:1", duplicate: () => dead, close: async () => dead.disconnect() },
      storage: { ...env.deps.storage, close: async () => {} },
    });
    const { port } = await app.listen();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: "not ready", failing: ["redis"] });
    } finally {
      await app.close();
    }
  });
});

describe("request ids and errors", () => {
  it("every response carries a request id, errors carry it too, and a caller's own id is kept", async () => {
    const res = await call("auth.me", { headers: { "x-request-id": "caller-chosen-id-123" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toBe("caller-chosen-id-123");
    expect(res.body.error?.data.requestId).toBe("caller-chosen-id-123");
    const other = await call("auth.me");
    expect(other.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(other.body.error?.data.requestId).toBe(other.headers.get("x-request-id"));
  });

  it("bad input answers 400 with each field's path, and no stack trace", async () => {
    const res = await call("auth.signUp", { mutation: true, input: { email: "nope", password: 3 } });
    expect(res.status).toBe(400);
    expect(res.body.error?.data.issues?.map((i) => i.path).sort()).toEqual(["email", "firstName", "lastName", "password"]);
    expect(JSON.stringify(res.body)).not.toMatch(/stack|at .*\.ts:\d+/);
  });

  it("an unexpected failure answers 500 with only the request id, and logs the cause", async () => {
    const lines: string[] = [];
    const { pino } = await import("pino");
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const broken = openPostgres("postgres://aiutami_app@127.0.0.1:5432/aiutami_no_such_database", 1);
    const app = createApp({ config: env.config, log, database: broken, redis: { ...env.redis, close: async () => {} }, storage: { ...env.deps.storage, close: async () => {} } });
    const { port } = await app.listen();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/trpc/auth.signUp`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "x@example.test", password: "a-long-passphrase", firstName: "X", lastName: "Y" }),
      });
      expect(res.status).toBe(500);
      const body = (await res.json()) as TrpcBody;
      const requestId = res.headers.get("x-request-id")!;
      expect(body.error?.message).toBe(`Internal server error (request id ${requestId})`);
      expect(JSON.stringify(body)).not.toMatch(/aiutami_no_such_database|does not exist|insert|select/i);
      const logged = lines.map((l) => JSON.parse(l) as { reqId?: string; msg: string; err?: { message?: string } }).find((l) => l.msg === "call failed");
      expect(logged?.reqId).toBe(requestId);
      expect(JSON.stringify(logged?.err)).toMatch(/aiutami_no_such_database/);
    } finally {
      await app.close();
    }
  });

  it("unknown routes answer 404 JSON", async () => {
    const res = await fetch(`${server.baseUrl}/nowhere`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { requestId: string } }).error.requestId).toBeTruthy();
  });
});

describe("cookies and bearer tokens", () => {
  async function cookieLogin() {
    const user = await createUser(env);
    const res = await call("auth.logIn", {
      mutation: true,
      input: { email: user.email, password: TEST_PASSWORD },
      headers: { origin: "https://app.aiutami.test" },
    });
    const setCookie = res.headers.get("set-cookie") ?? "";
    return { user, setCookie, cookie: setCookie.split(";")[0]! };
  }

  it("log-in sets an HttpOnly, SameSite=Lax session cookie that authenticates queries", async () => {
    const { user, setCookie, cookie } = await cookieLogin();
    expect(setCookie).toMatch(/^aiutami_session=[a-z2-7]{26}\.[a-z2-7]{52}/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).toMatch(/Secure/); // NODE_ENV=test is not development
    const me = await call("auth.me", { headers: { cookie } });
    expect(me.status).toBe(200);
    expect((me.body.result?.data as { user: { email: string } }).user.email).toBe(user.email);
  });

  it("refuses a cookie-authenticated mutation with no Origin or a foreign one, and allows listed and same-host ones", async () => {
    const { cookie } = await cookieLogin();
    const create = (headers: Record<string, string>) => call("tenants.create", { mutation: true, input: { name: "Cookie Agency" }, headers: { cookie, ...headers } });
    const missing = await create({});
    expect(missing.status).toBe(403);
    expect(missing.body.error?.message).toMatch(/Origin/);
    expect((await create({ origin: "https://evil.example" })).status).toBe(403);
    expect((await create({ origin: "null" })).status).toBe(403);
    expect((await create({ origin: "https://app.aiutami.test" })).status).toBe(200);
    expect((await create({ origin: server.baseUrl })).status).toBe(200);
  });

  it("a bearer-authenticated mutation needs no Origin (no browser sends it on its own)", async () => {
    const user = await createUser(env);
    const res = await call("tenants.create", { mutation: true, input: { name: "Bearer Agency" }, headers: { authorization: `Bearer ${user.token}` } });
    expect(res.status).toBe(200);
  });

  it("log-out clears the cookie and the session stops working", async () => {
    const { cookie } = await cookieLogin();
    const out = await call("auth.logOut", { mutation: true, headers: { cookie, origin: "https://app.aiutami.test" } });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/aiutami_session=;.*Max-Age=0/);
    expect((await call("auth.me", { headers: { cookie } })).status).toBe(401);
  });

  it("an idle session stops working once the server's clock passes the inactivity timeout", async () => {
    const user = await createUser(env);
    const headers = { authorization: `Bearer ${user.token}` };
    expect((await call("auth.me", { headers })).status).toBe(200);
    env.clock.advance(15 * 86_400_000);
    try {
      expect((await call("auth.me", { headers })).status).toBe(401);
    } finally {
      env.clock.advance(-15 * 86_400_000);
    }
  });
});

describe("tenant header over HTTP", () => {
  it("resolves x-tenant-id by slug or id, and answers a foreign and an unknown tenant alike", async () => {
    const tenant = await createTenant(env);
    const stranger = await createTenant(env);
    const auth = { authorization: `Bearer ${tenant.owner.token}` };
    expect((await call("tenants.members.list", { headers: { ...auth, "x-tenant-id": tenant.slug } })).status).toBe(200);
    expect((await call("tenants.members.list", { headers: { ...auth, "x-tenant-id": tenant.id } })).status).toBe(200);
    const foreign = await call("tenants.members.list", { headers: { ...auth, "x-tenant-id": stranger.slug } });
    const unknown = await call("tenants.members.list", { headers: { ...auth, "x-tenant-id": "no-such-agency-anywhere" } });
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(foreign.body.error?.message.replace(stranger.slug, "X")).toBe(unknown.body.error?.message.replace("no-such-agency-anywhere", "X"));
    const missing = await call("tenants.members.list", { headers: auth });
    expect(missing.status).toBe(400);
    expect(missing.body.error?.message).toMatch(/x-tenant-id/);
  });
});

describe("metrics", () => {
  it("serves Prometheus metrics: Node's own, tRPC calls by code, and the hub's gauges", async () => {
    await call("auth.me");
    const res = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/nodejs_heap_size_used_bytes \d+/);
    expect(text).toMatch(/nodejs_eventloop_lag_p99_seconds/);
    expect(text).toMatch(/aiutami_trpc_call_duration_seconds_count\{path="auth.me",type="query",code="UNAUTHORIZED"\} \d+/);
    expect(text).toMatch(/aiutami_hub_sockets \d+/);
  });
});

describe("log-in throttling behind a proxy", () => {
  it("holds when a client rotates X-Forwarded-For: only the hop the trusted proxy appended counts", async () => {
    const { server: app, close } = await startTestApp({ TRUST_PROXY: "true", LOGIN_MAX_FAILURES_PER_ADDRESS: "4", LOGIN_MAX_FAILURES_PER_EMAIL: "100" });
    // Constant within this run (the proxy's view of one client), new for every run (counters live 15 minutes).
    const real = `198.51.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    try {
      const attempt = (i: number) =>
        fetch(`${app.baseUrl}/trpc/auth.logIn`, {
          method: "POST",
          // What the client wrote, then what our proxy appended (the real address, the same each time).
          headers: { "content-type": "application/json", "x-forwarded-for": `10.${i}.${i}.${i}, ${real}` },
          body: JSON.stringify({ email: `spray-${i}-${Date.now()}@example.test`, password: "wrong-password" }),
        }).then((r) => r.status);
      const statuses = [];
      for (let i = 1; i <= 6; i++) statuses.push(await attempt(i));
      expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
      expect(statuses.slice(4)).toEqual([429, 429]);
    } finally {
      await close();
    }
  });
});
