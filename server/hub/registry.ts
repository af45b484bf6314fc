import type { Redis } from "ioredis";
import type { Database } from "../../db/client";
import type { Logger } from "../logger";
import type { Notification } from "../notifications/schemas";
import { withUserScope } from "../db-scope";
import { latestSeq, seqOfNotification, type NotificationRecord } from "../notifications/service";
import { catchUp, fetchRange } from "./catch-up";
import { DeliveryChannel } from "./delivery";
import type { HubAuth } from "./events";
import type { HubMetrics } from "./hub-metrics";
import type { HubSocket } from "./socket-server";

/** Strips the recipient (the socket already belongs to them) to the public Notification shape. */
function publicShape({ userId: _userId, ...n }: NotificationRecord) {
  return n;
}

/** The sockets of this process by user, each with its delivery, from registration until it leaves. */
export class SocketRegistry {
  private readonly users = new Map<string, Set<HubSocket>>();
  /** Opens a registered socket's delivery once its connection is acknowledged. */
  private readonly openers = new Map<string, () => void>();

  constructor(
    private readonly opts: {
      db: Database;
      redis: Redis;
      log: Logger;
      metrics: HubMetrics;
      /** Starts reading the user's stream on this process (their first socket), resolving once any later append reaches it. */
      follow(userId: string): Promise<void>;
      /** Stops reading it (their last socket left). */
      unfollow(userId: string): void;
    },
  ) {}

  socketsOf(userId: string): ReadonlySet<HubSocket> | undefined {
    return this.users.get(userId);
  }

  *sockets(): Iterable<HubSocket> {
    for (const set of this.users.values()) yield* set;
  }

  get userCount(): number {
    return this.users.size;
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
  async register(socket: HubSocket, db: Database): Promise<void> {
    const { userId } = socket.data;
    const lastId = (socket.handshake.auth as HubAuth).lastId;
    const channel = this.openChannel(socket);
    // The channel's first task: wait for the connection, then catch up. Live entries queue behind it.
    let open!: () => void;
    let prepared!: (knownSeq: number | null) => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const preparedSeq = new Promise<number | null>((resolve) => (prepared = resolve));
    this.openers.set(socket.id, open);
    void channel.run(async () => {
      await opened;
      const known = await preparedSeq;
      if (known !== null) await catchUp(this.opts, userId, channel);
    });
    try {
      let sockets = this.users.get(userId);
      if (!sockets) this.users.set(userId, (sockets = new Set()));
      sockets.add(socket);
      await this.opts.follow(userId);
      const known = lastId ? await withUserScope(db, userId, (tx) => seqOfNotification({ db: tx, userId, id: lastId })) : null;
      channel.lastSeq = known ?? (await latestSeq({ db, userId }));
      prepared(known);
    } catch (err) {
      this.unregister(socket); // also drops the opener and closes the channel
      throw err;
    }
  }

  /** The socket's delivery, on the socket, closed again when it disconnects. */
  private openChannel(socket: HubSocket): DeliveryChannel {
    const { userId } = socket.data;
    const { log, metrics } = this.opts;
    const channel = new DeliveryChannel(0, (n) => {
      metrics.sent();
      socket.emit("notification", publicShape(n) as Notification);
    }, fetchRange(this.opts.db, userId), (err) => {
      log.error({ err, userId }, "delivery failed; closing the socket so the client resumes");
      socket.disconnect(true);
    });
    socket.data.channel = channel;
    socket.on("disconnect", () => this.unregister(socket));
    return channel;
  }

  /** The connection is acknowledged: the socket's catch-up and deliveries may start. */
  open(socket: HubSocket): void {
    this.openers.get(socket.id)?.();
    this.openers.delete(socket.id);
  }

  unregister(socket: HubSocket): void {
    this.openers.delete(socket.id);
    socket.data.channel?.close();
    const { userId } = socket.data;
    const set = this.users.get(userId);
    if (!set?.delete(socket)) return;
    if (set.size === 0) {
      this.users.delete(userId);
      this.opts.unfollow(userId);
    }
  }
}
