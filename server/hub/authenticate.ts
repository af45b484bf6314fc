import type { Database } from "../../db/client";
import { readSessionCookie } from "../auth/cookies";
import { validateSessionToken, type SessionPolicy } from "../auth/sessions";
import type { Clock } from "../clock";
import type { HubAuth } from "./events";
import { HubRefusal } from "./refusal";
import type { SocketLimit } from "./socket-limit";
import type { HubSocket } from "./socket-server";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks the handshake and puts the session's user and id on the socket. Throws a HubRefusal (final)
 * for a handshake that can never succeed; anything else it throws is a failure of the database.
 */
export async function authenticate(
  socket: HubSocket,
  opts: { db: Database; clock: Clock; policy: SessionPolicy; socketLimit: SocketLimit },
): Promise<void> {
  const auth = (socket.handshake.auth ?? {}) as HubAuth;
  const token = typeof auth.token === "string" ? auth.token : readSessionCookie(socket.handshake.headers.cookie);
  if (!token) throw new HubRefusal("UNAUTHORIZED", "Send the session token in the handshake: auth: { token }.");
  if (typeof auth.token !== "string" && socket.handshake.headers.origin === undefined) {
    throw new HubRefusal("FORBIDDEN", "A cookie-authenticated connection needs an allowed Origin.");
  }
  if (auth.lastId !== undefined && (typeof auth.lastId !== "string" || !UUID.test(auth.lastId))) {
    throw new HubRefusal("BAD_REQUEST", "lastId must be the id of a notification.");
  }
  // Null only for a session that is really unknown, expired or revoked; a check that fails throws.
  const valid = await validateSessionToken({ db: opts.db, token, now: opts.clock(), policy: opts.policy });
  if (!valid) throw new HubRefusal("UNAUTHORIZED", "The session is unknown, expired or revoked: log in again.");
  const overLimit = opts.socketLimit.admit(valid.user.id, socket);
  if (overLimit) throw new HubRefusal("TOO_MANY_CONNECTIONS", overLimit.message);
  socket.data.userId = valid.user.id;
  socket.data.sessionId = valid.session.id;
}
