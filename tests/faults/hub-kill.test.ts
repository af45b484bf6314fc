import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createAiutamiClient, memoryStorage, type Notification } from "../../client-sdk/src/index";
import { checkDelivery, untilAllStreamed } from "../helpers/delivery-checker";
import { createMarketplace, hireInput } from "../helpers/hiring";
import { eventually } from "../helpers/sockets";
import { startServer, type BenchServer } from "../helpers/spawn-server";
import { TcpProxy } from "../helpers/tcp-proxy";
import { callerAs, createTestEnv, type TestEnv } from "../helpers/test-app";
import { fileDatabaseUrl } from "../helpers/file-database";

let env: TestEnv;
let a: BenchServer;
let b: BenchServer;
let proxy: TcpProxy;
const dirs: string[] = [];

const spawnHub = () => {
  const dir = mkdtempSync(join(tmpdir(), "aiutami-hub-"));
  dirs.push(dir);
  return startServer({ DATABASE_URL: fileDatabaseUrl(), REDIS_URL: inject("redisUrl"), DATA_DIR: dir, NODE_ENV: "test" });
};

beforeAll(async () => {
  env = await createTestEnv();
  [a, b] = await Promise.all([spawnHub(), spawnHub()]);
  proxy = await new TcpProxy({ host: "127.0.0.1", port: Number(new URL(a.baseUrl).port) }).start();
});
afterAll(async () => {
  await proxy.stop();
  await Promise.all([a.stop(), b.stop()]);
  await env.close();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe("fault: a hub process is killed", () => {
  it("its clients reconnect to another and resume with no gap and no repeat", async () => {
    const m = await createMarketplace(env);
    const device = createAiutamiClient({ baseUrl: proxy.httpUrl, token: m.provider.token, storage: memoryStorage(), socket: { reconnectionDelayMs: 100, reconnectionDelayMaxMs: 500 } });
    const received: Notification[] = [];
    device.notifications.on("notification", (n) => received.push(n));
    await eventually(() => device.notifications.status === "connected", "connected to hub A");
    const asClient = callerAs(env, m.client.auth, { tenant: m.tenant.slug });
    for (let i = 0; i < 5; i++) await asClient.hires.create(hireInput(m.provider.id, i));
    await eventually(() => received.length === 5, "five before the crash");

    a.child.kill("SIGKILL"); // no shutdown: the process is simply gone
    proxy.target = { host: "127.0.0.1", port: Number(new URL(b.baseUrl).port) }; // the balancer sends new connections to B
    proxy.block();
    proxy.unblock();
    for (let i = 5; i < 15; i++) await asClient.hires.create(hireInput(m.provider.id, i)); // committed while the device is away
    await eventually(() => received.length === 15, "the ten committed during the hand-over, via hub B", 15_000);
    for (let i = 15; i < 18; i++) await asClient.hires.create(hireInput(m.provider.id, i));
    await eventually(() => received.length === 18, "live ones on hub B");
    // A marker: a repeat of any of the 18 would reach the device before it.
    await untilAllStreamed(m.provider.id);
    await asClient.hires.create(hireInput(m.provider.id, 18));
    await eventually(() => received.length >= 19, "the marker");
    const report = await checkDelivery(received, m.provider.id);
    expect(report).toEqual({ committed: 19, received: 19, duplicates: 0, uncommitted: 0, missing: 0, inOrder: true });
    device.close();
  });
});
