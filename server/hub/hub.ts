import type { Server as HttpServer } from "node:http";
import type { Redis } from "ioredis";
import type { AppDeps } from "../context";
import { streamKey } from "../notifications/doorbell";
import { limitFlood } from "./flood-limit";
import { handshake } from "./handshake";
import { createHubMetrics } from "./hub-metrics";
import { liveEntries } from "./live";
import { SocketRegistry } from "./registry";
import { startSessionSweep } from "./session-sweep";
import { SocketLimit } from "./socket-limit";
import { createSocketServer, type HubServer } from "./socket-server";
import { StreamReaderPool } from "./stream-readers";

export type Hub = {
  io: HubServer;
  /** Redis connections this hub holds for reading streams (the pool), besides the shared one. */
  readerConnections: number;
  stats(): { sockets: number; users: number; streams: number };
  close(): Promise<void>;
};

/**
 * The Socket.IO hub. A socket belongs to a user (all their tenants). It authenticates from the
 * handshake token or the session cookie (handshake.ts, authenticate.ts), resumes from `lastId` with no
 * gap and no repeat (registry.ts, catch-up.ts), and then receives live notifications read from the
 * user's Redis stream by the process's reader pool (stream-readers.ts, live.ts).
 */
export function createHub(server: HttpServer, deps: AppDeps, connect: () => Redis): Hub {
  const { config, log, db, redis } = deps;
  const metrics = createHubMetrics(deps.metrics);
  const io = createSocketServer(server, config);
  // The registry follows a user's stream only once a socket registers, after the pool exists.
  const registry: SocketRegistry = new SocketRegistry({
    db,
    redis,
    log,
    metrics,
    follow: (userId) => pool.add(streamKey(userId)),
    unfollow: (userId) => pool.remove(streamKey(userId)),
  });
  const pool = new StreamReaderPool({
    size: config.hub.readers,
    sweepMs: config.hub.sweepMs,
    connect,
    control: redis,
    log,
    onEntries: liveEntries(registry, metrics),
  });

  io.use(handshake({ deps, socketLimit: new SocketLimit(config.hub.maxSocketsPerUser), registry }));
  io.on("connection", (socket) => {
    registry.open(socket);
    // The handshake has been read (its headers stay in socket.handshake): let the opening HTTP request
    // go, as Socket.IO's memory guide suggests. Nothing here reads it later.
    (socket.conn as unknown as { request: unknown }).request = null;
    limitFlood(socket, { max: config.hub.maxEventsPer10s, log });
  });
  const stopSweep = startSessionSweep(deps, () => registry.sockets());

  return {
    io,
    readerConnections: pool.size,
    stats: () => ({ sockets: io.of("/").sockets.size, users: registry.userCount, streams: pool.streams }),
    close: async () => {
      stopSweep();
      io.disconnectSockets(true);
      await pool.close();
      io.engine.close();
    },
  };
}
