import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDelivery, untilAllStreamed } from "../helpers/delivery-checker";
import { createMarketplace, hireInput } from "../helpers/hiring";
import { connectDevice, eventually } from "../helpers/sockets";
import { startThrowawayRedis } from "../helpers/throwaway-servers";
import { callerAs, startTestApp, type TestApp } from "../helpers/test-app";

let redis: Awaited<ReturnType<typeof startThrowawayRedis>>;
let app: TestApp;
beforeAll(async () => {
  redis = await startThrowawayRedis();
  app = await startTestApp({ REDIS_URL: redis.url });
});
afterAll(async () => {
  await app.close();
  await redis.stop();
});

describe("fault: Redis killed (SIGKILL) during 1,000 hires, then restarted", () => {
  it("hires keep succeeding, and after the restart every notification arrives once, in order", async () => {
    const { env, server } = app;
    const m = await createMarketplace(env);
    const device = await connectDevice(server.baseUrl, { token: m.provider.token });
    const asClient = callerAs(env, m.client.auth, { tenant: m.tenant.slug });
    const results: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 1000) {
        const i = next++;
        if (i === 300) await redis.kill();
        if (i === 700) await redis.restart();
        results.push(await asClient.hires.create(hireInput(m.provider.id, i)).then(() => "ok", (e: Error) => e.message));
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: 8 }, worker));
    const hiresSeconds = (Date.now() - started) / 1000;
    expect(results.filter((r) => r !== "ok")).toEqual([]);
    await eventually(() => device.received.length >= 1000, "all 1,000 notifications after the restart", 60_000);
    console.log(`redis-kill: 1000 hires in ${hiresSeconds.toFixed(1)} s, all delivered ${((Date.now() - started) / 1000).toFixed(1)} s after the first`);
    // A marker: a repeat of any of the thousand (the relay retrying an append) would reach the device before it.
    await untilAllStreamed(m.provider.id);
    await asClient.hires.create(hireInput(m.provider.id, 1000));
    await eventually(() => device.received.length >= 1001, "the marker");
    const report = await checkDelivery(device.received, m.provider.id);
    expect(report).toEqual({ committed: 1001, received: 1001, duplicates: 0, uncommitted: 0, missing: 0, inOrder: true });
    device.close();
  });
});
