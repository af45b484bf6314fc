import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withUserScope } from "../../server/db-scope";
import { notificationsAfter } from "../../server/notifications/service";
import { streamKey } from "../../server/notifications/doorbell";
import { appendNotifications } from "../../server/notifications/stream";
import { checkDelivery, untilAllStreamed } from "../helpers/delivery-checker";
import { createMarketplace, hire } from "../helpers/hiring";
import { connectDevice } from "../helpers/sockets";
import { openOwnerSql, startTestApp, type TestApp } from "../helpers/test-app";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

describe("fault: the relay dies between XADD and recording that it streamed", () => {
  it("the repeat on the stream reaches nobody twice", async () => {
    const { env, server } = app;
    const m = await createMarketplace(env);
    const device = await connectDevice(server.baseUrl, { token: m.provider.token });
    for (let i = 0; i < 5; i++) await hire(env, m, i);
    await device.waitFor(5);
    // As after a crash: appended again by hand, then unrecorded and picked up by the relay's loop.
    const records = await withUserScope(env.deps.db, m.provider.id, (tx) => notificationsAfter({ db: tx, userId: m.provider.id, afterSeq: 0, limit: 10 }));
    await appendNotifications({ redis: env.deps.redis, records, stream: env.config.stream });
    const owner = openOwnerSql();
    await owner`update notifications set streamed_at = null, created_at = now() - interval '1 minute' where user_id = ${m.provider.id}`;
    await owner.end();
    // This relay or the server's own loop (whichever locks the rows first) appends them a third time.
    await env.deps.relay.relayOnce();
    await untilAllStreamed(m.provider.id);
    const onStream = (await env.deps.redis.xrange(streamKey(m.provider.id), "-", "+")).map(([, f]) => Number(f[f.indexOf("seq") + 1]));
    expect(onStream.sort((a, b) => a - b)).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]);
    // The repeats are on the stream before this one: once it has arrived, so has anything they sent.
    await hire(env, m, 5);
    await device.waitFor(6);
    const report = await checkDelivery(device.received, m.provider.id);
    expect(report).toEqual({ committed: 6, received: 6, duplicates: 0, uncommitted: 0, missing: 0, inOrder: true });
    device.close();
  });
});
