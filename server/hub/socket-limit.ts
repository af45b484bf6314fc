import type { Socket } from "socket.io";

/** `data.code` of a connection refused because its user already holds the most this hub allows. */
export const TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS";

/**
 * At most `max` connections per user on this hub process (HUB_MAX_SOCKETS_PER_USER). The N+1th is refused
 * with TOO_MANY_CONNECTIONS, a final answer: retrying gets the same until one of the user's other
 * connections closes. Open ones are never closed to make room, so devices cannot evict each other in turns.
 *
 * A connection takes its user's slot, synchronously, once its session checks out, and gives it back when
 * the underlying connection closes, whatever happened in between (a refused registration, a server-side
 * disconnect, a client that went away): concurrent handshakes cannot overshoot and nothing leaks.
 */
export class SocketLimit {
  private readonly held = new Map<string, Set<Socket["conn"]>>();

  constructor(readonly max: number) {}

  /** Null when the socket may go on; otherwise the refusal to pass to the middleware's `next`. */
  admit(userId: string, socket: Socket): Error | null {
    const conn = socket.conn;
    let slots = this.held.get(userId);
    if (slots?.has(conn)) return null;
    // Already gone: the next step refuses it, and no close event would give the slot back.
    if (conn.readyState !== "open") return null;
    if ((slots?.size ?? 0) >= this.max) {
      return Object.assign(
        new Error(`At most ${this.max} connections per user are open at once: close one on another tab or device, then connect again.`),
        { data: { code: TOO_MANY_CONNECTIONS } },
      );
    }
    if (!slots) this.held.set(userId, (slots = new Set()));
    const mine = slots;
    mine.add(conn);
    conn.once("close", () => {
      mine.delete(conn);
      if (mine.size === 0 && this.held.get(userId) === mine) this.held.delete(userId);
    });
    return null;
  }

  /** Connections the user holds on this process. */
  count(userId: string): number {
    return this.held.get(userId)?.size ?? 0;
  }
}
