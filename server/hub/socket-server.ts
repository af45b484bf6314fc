import type { IncomingMessage, Server as HttpServer } from "node:http";
import { Server, type Socket } from "socket.io";
import type { Config } from "../config";
import { isOriginAllowed } from "../http/request-meta";
import type { Notification } from "../notifications/schemas";
import type { DeliveryChannel } from "./delivery";
import type { ClientToServerEvents, ServerToClientEvents } from "./events";

/** What the handshake puts on a socket: whose it is, which session opened it, and its delivery. */
export type SocketData = { userId: string; sessionId: string; channel: DeliveryChannel };
type Events = ServerToClientEvents<Notification>;
export type HubServer = Server<ClientToServerEvents, Events, Record<string, never>, SocketData>;
export type HubSocket = Socket<ClientToServerEvents, Events, Record<string, never>, SocketData>;

/** The Socket.IO server on the process's HTTP server, admitting browsers from the allowed origins only. */
export function createSocketServer(server: HttpServer, config: Pick<Config, "allowedOrigins" | "trustProxy">): HubServer {
  return new Server<ClientToServerEvents, Events, Record<string, never>, SocketData>(server, {
    path: "/socket.io",
    maxHttpBufferSize: 16 * 1024,
    serveClient: false,
    pingInterval: 25_000,
    pingTimeout: 20_000,
    cors: { origin: config.allowedOrigins, credentials: true },
    // Runs for every transport, WebSocket included (CORS only covers polling). A browser always
    // sends Origin; a missing one is a non-browser client, which must then use a token.
    allowRequest: (req: IncomingMessage, done) => {
      if (req.headers.origin === undefined) return done(null, true);
      const allowed = isOriginAllowed(req, config.allowedOrigins, config.trustProxy);
      done(allowed ? null : "origin not allowed", allowed);
    },
  });
}
