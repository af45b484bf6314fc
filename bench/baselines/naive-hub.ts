/**
 * The naive hub: one blocking Redis connection per user, each in its own XREAD BLOCK loop. It exists
 * to show what the multiplexed readers save: its connection count grows with users.
 */
import { Redis } from "ioredis";

const [redisUrl, name, countText] = process.argv.slice(2) as [string, string, string];
const count = Number(countText);
const connections: Redis[] = [];
let running = true;

async function loop(conn: Redis, key: string) {
  while (running) {
    try {
      await conn.xread("BLOCK", 5000, "STREAMS", key, "$");
    } catch {
      if (!running) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

for (let i = 0; i < count; i++) {
  const conn = new Redis(redisUrl, { connectionName: `${name}-${i}`, maxRetriesPerRequest: null });
  conn.on("error", () => {});
  connections.push(conn);
  void loop(conn, `naive-user-${i}`);
  if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
}
await Promise.all(connections.map((c) => (c.status === "ready" ? Promise.resolve() : new Promise((r) => c.once("ready", r)))));
process.send?.({ type: "ready" });
process.on("message", (m: { type: string }) => {
  if (m.type === "close") {
    running = false;
    connections.forEach((c) => c.disconnect());
    process.exit(0);
  }
});
