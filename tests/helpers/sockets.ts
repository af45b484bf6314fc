import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ReadEvent, ServerToClientEvents } from "../../server/hub/events";
import type { Notification } from "../../server/notifications/schemas";

export type TestDevice = {
  socket: Socket<ServerToClientEvents<Notification>, ClientToServerEvents>;
  received: Notification[];
  reads: ReadEvent[];
  /** Resolves once `count` notifications have arrived in total (fails after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<Notification[]>;
  close(): void;
};

/** A real socket.io-client on the WebSocket transport, as the SDK connects. */
export async function connectDevice(baseUrl: string, auth: { token: string; lastId?: string }, opts: { origin?: string } = {}): Promise<TestDevice> {
  const socket: Socket<ServerToClientEvents<Notification>, ClientToServerEvents> = io(baseUrl, {
    path: "/socket.io",
    transports: ["websocket"],
    auth,
    reconnection: false,
    forceNew: true,
    extraHeaders: opts.origin ? { origin: opts.origin } : {},
  });
  const received: Notification[] = [];
  const reads: ReadEvent[] = [];
  socket.on("notification", (n) => received.push(n));
  socket.on("notifications:read", (e) => reads.push(e));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (err) => reject(err));
  });
  return {
    socket,
    received,
    reads,
    waitFor: async (count, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} notifications, got ${received.length}: ${received.map((n) => n.seq).join(",")}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return received;
    },
    close: () => void socket.disconnect(),
  };
}

/** Waits until `check` holds, polling; fails with `what` after the timeout. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
