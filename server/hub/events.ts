// No imports: the client SDK's bundled types include this file as it is.

/** Read state changed on another device (or this one): some ids, or everything. */
export type ReadEvent = { ids: string[] } | { all: true };

/**
 * Events the hub sends. Defined once; the client SDK imports these types. `N` is the notification
 * type: the server's zod-inferred one here, the SDK's generated plain one there.
 */
export interface ServerToClientEvents<N> {
  /** A notification, in `seq` order, each exactly once per device. */
  notification: (notification: N) => void;
  "notifications:read": (event: ReadEvent) => void;
}

/**
 * Events a client may send. The inbox needs none (reading and marking go through tRPC); every
 * incoming packet still counts against the per-socket rate limit.
 */
export type ClientToServerEvents = Record<string, never>;

/** What the socket handshake carries: the session token, and the id of the last notification seen. */
export type HubAuth = { token?: string; lastId?: string };

/**
 * Error `data.code` on a refused connection, so a client can tell why. UNAUTHORIZED (the session is
 * missing, unknown, expired or revoked), FORBIDDEN and BAD_REQUEST are final: the same handshake would be
 * refused again. SERVICE_UNAVAILABLE is temporary (the database or Redis failed or did not answer in
 * time): connect again after `retryAfterSeconds`, with backoff.
 */
export type HubErrorCode = "UNAUTHORIZED" | "FORBIDDEN" | "BAD_REQUEST" | "TOO_MANY_CONNECTIONS" | "SERVICE_UNAVAILABLE";

/** The `data` of a refused connection's error (`connect_error` in socket.io-client). */
export type HubErrorData = { code: HubErrorCode; retryAfterSeconds?: number };
