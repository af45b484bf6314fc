import type { Logger } from "../logger";
import type { HubSocket } from "./socket-server";

const WINDOW_MS = 10_000;

/** Every incoming packet counts; more than `max` within 10 s gets the socket closed. */
export function limitFlood(socket: HubSocket, opts: { max: number; log: Logger }): void {
  let windowStart = Date.now();
  let count = 0;
  socket.use((_packet, next) => {
    const now = Date.now();
    if (now - windowStart > WINDOW_MS) {
      windowStart = now;
      count = 0;
    }
    if (++count > opts.max) {
      opts.log.warn({ userId: socket.data.userId }, "socket event flood: disconnecting");
      socket.disconnect(true);
      return;
    }
    next(); // no handler is registered for client events, so Socket.IO drops them
  });
}
