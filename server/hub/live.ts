import { parseEntry, userIdOfStreamKey, type StreamEvent } from "../notifications/doorbell";
import type { HubMetrics } from "./hub-metrics";
import type { SocketRegistry } from "./registry";
import type { HubSocket } from "./socket-server";
import type { EntriesHandler } from "./stream-readers";

/** Hands one stream event to each of the user's sockets on this process. */
function dispatch(sockets: ReadonlySet<HubSocket>, event: StreamEvent) {
  for (const socket of sockets) {
    if (event.kind === "notification") socket.data.channel.offer(event.notification);
    else if (event.kind === "read") socket.emit("notifications:read", event.ids === "all" ? { all: true } : { ids: event.ids });
    else if (event.sessionIds === "all" || event.sessionIds.includes(socket.data.sessionId)) socket.disconnect(true);
  }
}

/** What the reader pool does with new entries of a user's stream: counts them, then hands them to the user's sockets. */
export function liveEntries(registry: SocketRegistry, metrics: HubMetrics): EntriesHandler {
  return (key, entries, via) => {
    metrics.entries(via, entries.length);
    const userId = userIdOfStreamKey(key);
    const sockets = userId === null ? undefined : registry.socketsOf(userId);
    if (!userId || !sockets) return;
    for (const [, fields] of entries) {
      const event = parseEntry(userId, fields);
      if (event) dispatch(sockets, event);
    }
  };
}
