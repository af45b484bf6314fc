import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { checkDelivery } from "../helpers/delivery-checker";
import { createMarketplace, hireInput } from "../helpers/hiring";
import { connectDevice, eventually } from "../helpers/sockets";
import { TcpProxy } from "../helpers/tcp-proxy";
import { callerAs, openOwnerSql, startTestApp, type TestApp } from "../helpers/test-app";

let proxy: TcpProxy;
let app: TestApp;
beforeAll(async () => {
  proxy = await new TcpProxy({ host: "127.0.0.1", port: Number(new URL(inject("redisUrl")).port || 6379) }).start();
  app = await startTestApp({ REDIS_URL: proxy.redisUrlLike(inject("redisUrl")) });
});
afterAll(async () => {
  await app.close();
  await proxy.stop();
});

describe("fault: Redis unreachable for 5 seconds (a proxy drops all traffic)", () => {
  it("the relay backs off, memory and event-loop delay stay bounded, and it catches up", async () => {
    const { env, server } = app;
    const m = await createMarketplace(env);
    const device = await connectDevice(server.baseUrl, { token: m.provider.token });
    const asClient = callerAs(env, m.client.auth, { tenant: m.tenant.slug });
    await asClient.hires.create(hireInput(m.provider.id, 0));
    await device.waitFor(1);

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    proxy.block();
    const outageStarted = Date.now();
    let hires = 1;
    while (Date.now() - outageStarted < 5000) {
      await asClient.hires.create(hireInput(m.provider.id, hires++)); // commits need only PostgreSQL
      await new Promise((r) => setTimeout(r, 20));
    }
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    proxy.unblock();
    const recoveredAt = Date.now();
    await eventually(() => device.received.length >= hires, `all ${hires} notifications after the outage`, 30_000);
    const catchUpMs = Date.now() - recoveredAt;
    loop.disable();
    const loopP99Ms = loop.percentile(99) / 1e6;

    const owner = openOwnerSql();
    const [{ attempts }] = (await owner`select coalesce(max(stream_attempts), 0)::int as attempts from notifications where user_id = ${m.provider.id}`) as unknown as [{ attempts: number }];
    await owner.end();
    console.log(`redis-partition: ${hires} hires, ${hires - 1} during a 5 s outage; caught up ${catchUpMs} ms after; heap +${heapGrowthMb.toFixed(1)} MB; event-loop p99 ${loopP99Ms.toFixed(1)} ms; at most ${attempts} append attempts per notification`);
    await new Promise((r) => setTimeout(r, 500));
    expect(await checkDelivery(device.received, m.provider.id)).toEqual({ committed: hires, received: hires, duplicates: 0, uncommitted: 0, missing: 0, inOrder: true });
    expect(heapGrowthMb).toBeLessThan(64);
    expect(loopP99Ms).toBeLessThan(250);
    expect(attempts).toBeLessThanOrEqual(8); // backoff: a handful of tries in 5 s, not a tight loop
    expect(catchUpMs).toBeLessThan(15_000);
    device.close();
  });
});
