/**
 * Holds many real socket.io-client connections and records when each notification arrives.
 * Modes: "aiutami" (the product's hub: auth { token }) and "bare" (the baseline server: auth { index }).
 */
import { io, type Socket } from "socket.io-client";
import { now } from "../lib/now";

const sockets: Socket[] = [];
// [hireId or ping id, notification id, createdAt ms, received ms]
let receipts: Array<[string, string, number, number]> = [];

async function connectAll(msg: { baseUrl: string; mode: "aiutami" | "bare"; auths: Array<Record<string, unknown>>; parallel: number }) {
  let failed = 0;
  let next = 0;
  const one = (auth: Record<string, unknown>) =>
    new Promise<void>((resolve) => {
      const socket = io(msg.baseUrl, { transports: ["websocket"], auth, reconnection: false, forceNew: true, timeout: 20_000 });
      socket.once("connect", () => resolve());
      socket.once("connect_error", () => {
        failed++;
        resolve();
      });
      if (msg.mode === "aiutami") {
        socket.on("notification", (n: { id: string; createdAt: string; payload: { hireId: string } }) => {
          receipts.push([n.payload.hireId, n.id, Date.parse(n.createdAt), now()]);
        });
      } else {
        socket.on("ping-test", (p: { id: string }) => receipts.push([p.id, p.id, 0, now()]));
      }
      sockets.push(socket);
    });
  await Promise.all(
    Array.from({ length: msg.parallel }, async () => {
      while (next < msg.auths.length) await one(msg.auths[next++]!);
    }),
  );
  return { connected: sockets.filter((s) => s.connected).length, failed };
}

process.on("message", (msg: { type: string } & Record<string, unknown>) => {
  void (async () => {
    try {
      if (msg.type === "connect") process.send!({ type: "connected", ...(await connectAll(msg as never)) });
      else if (msg.type === "report") {
        process.send!({ type: "report", receipts, connected: sockets.filter((s) => s.connected).length });
        receipts = [];
      } else if (msg.type === "close") {
        for (const s of sockets) s.disconnect();
        process.exit(0);
      }
    } catch (err) {
      process.send!({ type: "error", error: (err as Error).message });
    }
  })();
});
