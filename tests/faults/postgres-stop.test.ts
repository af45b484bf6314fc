import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migratePostgresDatabase } from "../../db/migrate";
import { streamKey } from "../../server/notifications/doorbell";
import { checkDelivery, untilAllStreamed } from "../helpers/delivery-checker";
import { createMarketplace, hireInput } from "../helpers/hiring";
import { connectDevice, eventually } from "../helpers/sockets";
import { startThrowawayPostgres } from "../helpers/throwaway-servers";
import { startTestApp, type TestApp } from "../helpers/test-app";

let pg: Awaited<ReturnType<typeof startThrowawayPostgres>>;
let app: TestApp;
beforeAll(async () => {
  pg = await startThrowawayPostgres();
  await migratePostgresDatabase(pg.url);
  app = await startTestApp({ DATABASE_URL: pg.url });
});
afterAll(async () => {
  await app?.close();
  pg?.stop();
});

describe("fault: PostgreSQL stopped immediately in the middle of calls", () => {
  it("the calls roll back with a clear error and a request id, leave no stream entry, and the server recovers without a restart", async () => {
    const { env, server } = app;
    const m = await createMarketplace(env);
    const device = await connectDevice(server.baseUrl, { token: m.provider.token });
    const hireOverHttp = async (i: number) => {
      const res = await fetch(`${server.baseUrl}/trpc/hires.create`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${m.client.token}`, "x-tenant-id": m.tenant.slug },
        body: JSON.stringify(hireInput(m.provider.id, i)),
      });
      const body = (await res.json()) as { result?: { data: { id: string } }; error?: { message: string; data: { requestId?: string } } };
      return { status: res.status, id: body.result?.data.id, error: body.error };
    };
    // Calls in flight while the database goes away; it comes back 3 s later, as after a crash restart.
    let stopped = false;
    let readyWhileDown = 0;
    const calls = Array.from({ length: 60 }, (_, i) =>
      (async () => {
        await new Promise((r) => setTimeout(r, i * 5));
        if (i === 20 && !stopped) {
          stopped = true;
          pg.stopImmediately();
          readyWhileDown = (await fetch(`${server.baseUrl}/readyz`)).status;
          setTimeout(() => pg.restart(), 3000);
        }
        return hireOverHttp(i);
      })(),
    );
    const results = await Promise.all(calls);
    const failed = results.filter((r) => r.status !== 200);
    const succeeded = results.filter((r) => r.status === 200);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) {
      // A clear answer either way: the database was unavailable (503), or an internal error (500) naming the request.
      expect([500, 503]).toContain(f.status);
      expect(f.error?.message).toMatch(/^(The database is unavailable: try again shortly\.|Internal server error \(request id [\w-]+\))$/);
      expect(f.error?.data.requestId).toBeTruthy();
    }
    // Readiness said the database was down while it was.
    expect(readyWhileDown).toBe(503);
    // The same server, no restart: new calls succeed once the pool reconnects.
    await eventually(async () => (await hireOverHttp(999)).status === 200, "a hire succeeds after the database is back", 30_000);
    // A marker once every commit is streamed: what was to reach the device (a repeat, a rolled-back
    // call's entry) is there before it.
    await untilAllStreamed(m.provider.id, pg.url);
    const last = await hireOverHttp(1000);
    expect(last.status).toBe(200);
    await eventually(() => device.received.some((n) => n.payload.hireId === last.id), "the marker delivered");
    const report = await checkDelivery(device.received, m.provider.id, pg.url);
    expect({ ...report, committed: undefined, received: undefined }).toEqual({ committed: undefined, received: undefined, duplicates: 0, uncommitted: 0, missing: 0, inOrder: true });
    // Committed: the successes, the one after recovery and the marker. Nothing else reached the stream.
    expect(report.committed).toBe(succeeded.length + 2);
    const redis = new Redis(env.config.redis.url);
    const entries = await redis.xrange(streamKey(m.provider.id), "-", "+");
    redis.disconnect();
    const streamedHires = new Set(entries.map(([, f]) => JSON.parse(f[f.indexOf("payload") + 1]!).hireId as string));
    for (const f of failed) if (f.id) expect(streamedHires.has(f.id)).toBe(false);
    expect(streamedHires.size).toBe(report.committed);
    console.log(`postgres-stop: ${succeeded.length} calls committed, ${failed.length} failed cleanly, recovered without a restart`);
    device.close();
  });
});
