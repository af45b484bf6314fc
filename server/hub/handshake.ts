import { bindToSignal, orAbort } from "../../db/query-abort";
import { startDeadline } from "../call-deadline";
import type { AppDeps } from "../context";
import { authenticate } from "./authenticate";
import { HubRefusal, refusalOf } from "./refusal";
import type { SocketRegistry } from "./registry";
import type { SocketLimit } from "./socket-limit";
import type { HubSocket } from "./socket-server";

type Next = (err?: Error) => void;

/**
 * The handshake, within CALL_DEADLINE_MS: the session check, then the registration. Only a session that
 * is really invalid (or a handshake that can never succeed) is refused for good; a database or Redis that
 * fails or does not answer in time answers SERVICE_UNAVAILABLE, and the client tries again.
 */
export function handshake(opts: { deps: AppDeps; socketLimit: SocketLimit; registry: SocketRegistry }) {
  const { deps, socketLimit, registry } = opts;
  const { config, log, db } = deps;
  return async (socket: HubSocket, next: Next): Promise<void> => {
    // A client that goes away while this awaits never gets a "disconnect" (Socket.IO only emits it for
    // connected sockets); the transport's close still comes, and stops the work.
    const gone = new AbortController();
    const onClose = () => {
      gone.abort(new HubRefusal("SERVICE_UNAVAILABLE", "The connection closed during the handshake."));
      if (socket.data.channel) registry.unregister(socket);
    };
    socket.conn.once("close", onClose);
    const deadline = startDeadline({ ms: config.callDeadlineMs, parent: gone.signal });
    const bound = bindToSignal(db, deadline.signal);
    try {
      await orAbort(
        (async () => {
          await authenticate(socket, { db: bound, clock: deps.clock, policy: config.session, socketLimit });
          // Gone while the session was checked: nothing to register. Past the deadline, the handshake
          // has been answered: registering now would hold a socket nobody unregisters.
          if (socket.conn.readyState !== "open") throw new HubRefusal("SERVICE_UNAVAILABLE", "The connection closed during the handshake.");
          deadline.signal.throwIfAborted();
          await registry.register(socket, bound);
        })(),
        deadline.signal,
      );
      next();
    } catch (err) {
      if (socket.data.channel) registry.unregister(socket); // the deadline came first: the registration stops here
      socket.conn.off("close", onClose);
      next(refusalOf(err, socket.data.userId, log));
    } finally {
      deadline.done();
    }
  };
}
