import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { checkDelivery, untilAllStreamed } from "../helpers/delivery-checker";
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
  // Memory, event-loop delay and catch-up time during this outage are figures of the benchmark's
  // `outage` scenario (bench/scenarios/outage.ts): a loaded machine moves them, not a bug.
  it("the relay backs off, and every notification arrives once it is back", async () => {
    const { env, server } = app;
    const m = await createMarketplace(env);
    const device = await connectDevice(server.baseUrl, { token: m.provider.token });
    const asClient = callerAs(env, m.client.auth, { tenant: m.tenant.slug });
    await asClient.hires.create(hireInput(m.provider.id, 0));
    await device.waitFor(1);

    proxy.block();
    const outageStarted = Date.now();
    let hires = 1;
    while (Date.now() - outageStarted < 5000) {
      await asClient.hires.create(hireInput(m.provider.id, hires++)); // commits need only PostgreSQL
      await new Promise((r) => setTimeout(r, 20)); // a steady trickle of hires through the outage
    }
    proxy.unblock();
    await eventually(() => device.received.length >= hires, `all ${hires} notifications after the outage`, 30_000);

    const owner = openOwnerSql();
    const [{ attempts }] = (await owner`select coalesce(max(stream_attempts), 0)::int as attempts from notifications where user_id = ${m.provider.id}`) as unknown as [{ attempts: number }];
    await owner.end();
    console.log(`redis-partition: ${hires} hires, ${hires - 1} during a 5 s outage; at most ${attempts} append attempts per notification`);
    expect(attempts).toBeGreaterThan(0); // the outage was real: appends failed and were retried
    expect(attempts).toBeLessThanOrEqual(8); // backoff: a handful of tries in 5 s, not a tight loop
    // A marker: a repeat of any of them (an append retried after it had worked) would arrive before it.
    await untilAllStreamed(m.provider.id);
    await asClient.hires.create(hireInput(m.provider.id, hires));
    await eventually(() => device.received.length >= hires + 1, "the marker");
    expect(await checkDelivery(device.received, m.provider.id)).toEqual({ committed: hires + 1, received: hires + 1, duplicates: 0, uncommitted: 0, missing: 0, inOrder: true });
    device.close();
  });
});
