import type { IncomingMessage, Server as HttpServer } from "node:http";
import { inArray } from "drizzle-orm";
import type { Redis } from "ioredis";
import { Server, type Socket } from "socket.io";
import type { Database } from "../../db/client";
import { bindToSignal, orAbort } from "../../db/query-abort";
import { sessions } from "../../db/schema";
import { readSessionCookie } from "../auth/cookies";
import { sessionExpiry, validateSessionToken } from "../auth/sessions";
import { startDeadline } from "../call-deadline";
import type { AppDeps } from "../context";
import { withUserScope } from "../db-scope";
import { DeadlineExceededError, isTemporaryFailure, OUTAGE_RETRY_AFTER_SECONDS } from "../errors";
import { isOriginAllowed } from "../http/request-meta";
import type { Notification } from "../notifications/schemas";
import type { NotificationRecord } from "../notifications/service";
import { latestSeq, notificationsAfter, seqOfNotification } from "../notifications/service";
import { parseEntry, streamKey, type StreamEvent } from "../notifications/stream";
import { DeliveryChannel } from "./delivery";
import { SocketLimit } from "./socket-limit";
import type { ClientToServerEvents, HubAuth, HubErrorCode, HubErrorData, ServerToClientEvents } from "./events";
import { StreamReaderPool } from "./stream-readers";

type SocketData = { userId: string; sessionId: string; channel: DeliveryChannel };
type Events = ServerToClientEvents<Notification>;
type HubSocket = Socket<ClientToServerEvents, Events, Record<string, never>, SocketData>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CATCH_UP_PAGE = 500;

/** A handshake refused for a reason of its own: final, or SERVICE_UNAVAILABLE for a connection gone. */
class HubRefusal extends Error {
  constructor(readonly code: HubErrorCode, message: string) {
    super(message);
  }
}

/** The error Socket.IO sends as `connect_error`, with the `data` the client reads. */
function refuse(code: HubErrorCode, message: string): Error {
  const data: HubErrorData = code === "SERVICE_UNAVAILABLE" ? { code, retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS } : { code };
  return Object.assign(new Error(message), { data });
}

/** Strips the recipient (the socket already belongs to them) to the public Notification shape. */
function publicShape({ userId: _userId, ...n }: NotificationRecord) {
  return n;
}

export type Hub = {
  io: Server<ClientToServerEvents, Events, Record<string, never>, SocketData>;
  /** Redis connections this hub holds for reading streams (the pool), besides the shared one. */
  readerConnections: number;
  stats(): { sockets: number; users: number; streams: number };
  close(): Promise<void>;
};

/**
 * The Socket.IO hub. A socket belongs to a user (all their tenants). It authenticates from the
 * handshake token or the session cookie, resumes from `lastId` with no gap and no repeat, and then
 * receives live notifications read from the user's Redis stream by the process's reader pool.
 */
export function createHub(server: HttpServer, deps: AppDeps, connect: () => Redis): Hub {
  const { config, log, db, redis } = deps;
  const users = new Map<string, Set<HubSocket>>();
  /** Opens a registered socket's delivery once its connection is acknowledged. */
  const openers = new Map<string, () => void>();
  const socketLimit = new SocketLimit(config.hub.maxSocketsPerUser);

  const io = new Server<ClientToServerEvents, Events, Record<string, never>, SocketData>(server, {
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

  const fetchRange = (userId: string) => async (afterSeq: number, uptoSeq: number) => {
    const out: NotificationRecord[] = [];
    for (let from = afterSeq; from < uptoSeq; ) {
      const page = await withUserScope(db, userId, (tx) => notificationsAfter({ db: tx, userId, afterSeq: from, uptoSeq, limit: CATCH_UP_PAGE }));
      out.push(...page);
      if (page.length < CATCH_UP_PAGE) break;
      from = page.at(-1)!.seq;
    }
    return out;
  };

  // The counter's two series, looked up once rather than by label on every wake.
  const entriesVia = { ring: deps.metrics.hubEntries.labels({ via: "ring" }), read: deps.metrics.hubEntries.labels({ via: "read" }) };
  const pool = new StreamReaderPool({
    size: config.hub.readers,
    sweepMs: config.hub.sweepMs,
    connect,
    control: redis,
    log,
    onEntries: (key, entries, via) => {
      entriesVia[via].inc(entries.length);
      const userId = key.slice("user-".length);
      const sockets = users.get(userId);
      if (!sockets) return;
      for (const [, fields] of entries) {
        const event = parseEntry(userId, fields);
        if (event) dispatch(sockets, event);
      }
    },
  });

  function dispatch(sockets: Set<HubSocket>, event: StreamEvent) {
    for (const socket of sockets) {
      if (event.kind === "notification") socket.data.channel.offer(event.notification);
      else if (event.kind === "read") socket.emit("notifications:read", event.ids === "all" ? { all: true } : { ids: event.ids });
      else if (event.sessionIds === "all" || event.sessionIds.includes(socket.data.sessionId)) socket.disconnect(true);
    }
  }

  /**
   * Catch-up after `lastSeq`, from the stream when it still holds everything since then, else
   * (trimmed, expired, lost, or a hole) from PostgreSQL.
   */
  async function catchUp(userId: string, channel: DeliveryChannel): Promise<void> {
    const after = channel.lastSeq;
    const collected: NotificationRecord[] = [];
    let reachedKnown = false;
    let end = "+";
    for (let pages = 0; pages < 10 && !reachedKnown; pages++) {
      const entries = (await redis.xrevrange(streamKey(userId), end, "-", "COUNT", 200)) as Array<[string, string[]]>;
      for (const [, fields] of entries) {
        const event = parseEntry(userId, fields);
        if (event?.kind !== "notification") continue;
        if (event.notification.seq <= after) reachedKnown = true;
        else collected.push(event.notification);
      }
      if (entries.length < 200) break;
      end = `(${entries.at(-1)![0]}`;
    }
    collected.sort((a, b) => a.seq - b.seq);
    const contiguous = reachedKnown && collected.every((n, i) => n.seq === after + i + 1);
    if (contiguous) {
      for (const n of collected) await channel.deliver(n);
    } else {
      const top = Math.max(await latestSeq({ db, userId }), collected.at(-1)?.seq ?? 0);
      for (const n of await fetchRange(userId)(after, top)) await channel.deliver(n);
    }
  }

  /**
   * Checks the handshake and puts the session's user and id on the socket. Throws a HubRefusal (final)
   * for a handshake that can never succeed; anything else it throws is a failure of the database.
   */
  async function authenticate(socket: HubSocket, db: Database): Promise<void> {
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
    const valid = await validateSessionToken({ db, token, now: deps.clock(), policy: config.session });
    if (!valid) throw new HubRefusal("UNAUTHORIZED", "The session is unknown, expired or revoked: log in again.");
    const overLimit = socketLimit.admit(valid.user.id, socket);
    if (overLimit) throw new HubRefusal("TOO_MANY_CONNECTIONS", overLimit.message);
    socket.data.userId = valid.user.id;
    socket.data.sessionId = valid.session.id;
  }

  function unregister(socket: HubSocket) {
    openers.delete(socket.id);
    socket.data.channel?.close();
    const { userId } = socket.data;
    const set = users.get(userId);
    if (!set?.delete(socket)) return;
    if (set.size === 0) {
      users.delete(userId);
      pool.remove(streamKey(userId));
    }
  }

  /**
   * Registration happens before the connection is acknowledged, so anything committed after the
   * client sees `connect` is delivered. In this order:
   *   1. the socket joins its user's set: live entries for the user now queue in its channel;
   *   2. the first socket of the user on this process lists the process's bell for the user and
   *      starts the stream's reader after the stream's current top entry (one MULTI);
   *   3. the starting seq is fixed: the `lastId`'s, or the user's latest.
   * A notification committed after 3 has a larger seq and is appended after 2, so the reader sees
   * it; one committed before is either caught up (with lastId) or predates the device. Deliveries
   * wait until the connection is open.
   */
  async function register(socket: HubSocket, db: Database): Promise<void> {
    const { userId } = socket.data;
    const lastId = (socket.handshake.auth as HubAuth).lastId;
    const channel = new DeliveryChannel(0, (n) => {
      deps.metrics.notificationsSent.inc();
      socket.emit("notification", publicShape(n) as Notification);
    }, fetchRange(userId), (err) => {
      log.error({ err, userId }, "delivery failed; closing the socket so the client resumes");
      socket.disconnect(true);
    });
    socket.data.channel = channel;
    socket.on("disconnect", () => unregister(socket));
    // The channel's first task: wait for the connection, then catch up. Live entries queue behind it.
    let open!: () => void;
    let prepared!: (knownSeq: number | null) => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const preparedSeq = new Promise<number | null>((resolve) => (prepared = resolve));
    openers.set(socket.id, open);
    void channel.run(async () => {
      await opened;
      const known = await preparedSeq;
      if (known !== null) await catchUp(userId, channel);
    });
    try {
      let sockets = users.get(userId);
      if (!sockets) users.set(userId, (sockets = new Set()));
      sockets.add(socket);
      await pool.add(streamKey(userId));
      const known = lastId ? await withUserScope(db, userId, (tx) => seqOfNotification({ db: tx, userId, id: lastId })) : null;
      channel.lastSeq = known ?? (await latestSeq({ db, userId }));
      prepared(known);
    } catch (err) {
      unregister(socket); // also drops the opener and closes the channel
      throw err;
    }
  }

  /**
   * The handshake, within CALL_DEADLINE_MS: the session check, then the registration. Only a session that
   * is really invalid (or a handshake that can never succeed) is refused for good; a database or Redis that
   * fails or does not answer in time answers SERVICE_UNAVAILABLE, and the client tries again.
   */
  io.use(async (socket, next) => {
    // A client that goes away while this awaits never gets a "disconnect" (Socket.IO only emits it for
    // connected sockets); the transport's close still comes, and stops the work.
    const gone = new AbortController();
    const onClose = () => {
      gone.abort(new HubRefusal("SERVICE_UNAVAILABLE", "The connection closed during the handshake."));
      if (socket.data.channel) unregister(socket);
    };
    socket.conn.once("close", onClose);
    const deadline = startDeadline({ ms: config.callDeadlineMs, parent: gone.signal });
    const bound = bindToSignal(db, deadline.signal);
    try {
      await orAbort(
        (async () => {
          await authenticate(socket, bound);
          // Gone while the session was checked: nothing to register. Past the deadline, the handshake
          // has been answered: registering now would hold a socket nobody unregisters.
          if (socket.conn.readyState !== "open") throw new HubRefusal("SERVICE_UNAVAILABLE", "The connection closed during the handshake.");
          deadline.signal.throwIfAborted();
          await register(socket, bound);
        })(),
        deadline.signal,
      );
      next();
    } catch (err) {
      if (socket.data.channel) unregister(socket); // the deadline came first: the registration stops here
      socket.conn.off("close", onClose);
      next(refusalOf(err, socket.data.userId));
    } finally {
      deadline.done();
    }
  });

  /** The error a refused handshake answers: a HubRefusal as it is; any failure as a temporary one. */
  function refusalOf(err: unknown, userId: string | undefined): Error {
    if (err instanceof HubRefusal) return refuse(err.code, err.message);
    if (isTemporaryFailure(err) || err instanceof DeadlineExceededError) {
      log.warn({ err: (err as Error).message, userId }, "socket handshake failed for now; the client will retry");
    } else {
      log.error({ err, userId }, "socket handshake failed");
    }
    return refuse("SERVICE_UNAVAILABLE", "The inbox cannot open right now (the database or Redis is unavailable): try again shortly.");
  }

  io.on("connection", (socket) => {
    const { userId } = socket.data;
    openers.get(socket.id)?.();
    openers.delete(socket.id);
    // The handshake has been read (its headers stay in socket.handshake): let the opening HTTP request
    // go, as Socket.IO's memory guide suggests. Nothing here reads it later.
    (socket.conn as unknown as { request: unknown }).request = null;

    // Every incoming packet counts; a flood gets the socket closed.
    let windowStart = Date.now();
    let count = 0;
    socket.use((_packet, next) => {
      const now = Date.now();
      if (now - windowStart > 10_000) {
        windowStart = now;
        count = 0;
      }
      if (++count > config.hub.maxEventsPer10s) {
        log.warn({ userId }, "socket event flood: disconnecting");
        socket.disconnect(true);
        return;
      }
      next(); // no handler is registered for client events, so Socket.IO drops them
    });
  });

  // Sessions revoked elsewhere are announced on the stream; this sweep also catches expiry. Only rows read
  // say a session is gone: a check that fails (the database down or too slow) disconnects nobody. One
  // check at a time, each within the call deadline, so a database that hangs does not pile them up.
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    const bySession = new Map<string, HubSocket[]>();
    for (const set of users.values()) for (const s of set) bySession.set(s.data.sessionId, [...(bySession.get(s.data.sessionId) ?? []), s]);
    if (bySession.size === 0) return;
    sweeping = true;
    const deadline = startDeadline({ ms: config.callDeadlineMs });
    void bindToSignal(db, deadline.signal)
      .select({ id: sessions.id, createdAt: sessions.createdAt, lastSeenAt: sessions.lastSeenAt })
      .from(sessions)
      .where(inArray(sessions.id, [...bySession.keys()]))
      .then((rows) => {
        const now = deps.clock().getTime();
        const alive = new Set(rows.filter((r) => sessionExpiry(r, config.session).getTime() > now).map((r) => r.id));
        for (const [id, list] of bySession) if (!alive.has(id)) for (const s of list) s.disconnect(true);
      })
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, "session sweep failed; open sockets stay open"))
      .finally(() => {
        sweeping = false;
        deadline.done();
      });
  }, config.hub.sessionCheckMs);
  sweep.unref();

  return {
    io,
    readerConnections: pool.size,
    stats: () => ({ sockets: io.of("/").sockets.size, users: users.size, streams: pool.streams }),
    close: async () => {
      clearInterval(sweep);
      io.disconnectSockets(true);
      await pool.close();
      io.engine.close();
    },
  };
}
