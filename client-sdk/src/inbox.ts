import type { inferRouterOutputs } from "@trpc/server";
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, HubErrorData, ReadEvent, ServerToClientEvents } from "../../server/hub/events";
import { AiutamiError } from "./errors";
import type { AppRouter } from "./generated/router";
import type { TokenStorage } from "./storage";

/**
 * A notification, discriminated by `type`: `switch (n.type)` narrows `n.payload`.
 * @example
 * inbox.on("notification", (n) => {
 *   if (n.type === "hire.requested") console.log(n.payload.fullName, n.payload.phoneNumber);
 * });
 */
export type Notification = inferRouterOutputs<AppRouter>["notifications"]["list"]["items"][number];
export type NotificationType = Notification["type"];
export type { ReadEvent };

/** `connecting` first, `connected` when live, `reconnecting` while retrying, `offline` when stopped. */
export type InboxStatus = "connecting" | "connected" | "reconnecting" | "offline";

export type InboxEvents = {
  /** A new notification, in order, exactly once. */
  notification: (n: Notification) => void;
  /** Some notifications were marked read, on any of the user's devices. */
  read: (event: ReadEvent) => void;
  status: (status: InboxStatus) => void;
  /** The unread count changed. */
  unreadCount: (count: number) => void;
  /**
   * The server refused the socket for good: `UNAUTHORIZED` (the session is unknown, expired or revoked,
   * e.g. after a log-out elsewhere), `FORBIDDEN`, `BAD_REQUEST`, or `TOO_MANY_CONNECTIONS` (the user holds
   * `HUB_MAX_SOCKETS_PER_USER` already: close another tab). The inbox stops and goes `offline`.
   * A temporary refusal (`SERVICE_UNAVAILABLE`: the server's database or Redis is down) is no error: the
   * inbox stays `reconnecting` and tries again with backoff until the server is back.
   */
  error: (error: AiutamiError) => void;
};

/** What the inbox needs from the client it belongs to. */
export type InboxHost = {
  baseUrl: string;
  storage: TokenStorage;
  token(): string | null;
  /** The server's unread count and the seq of the user's latest notification when it counted. */
  unreadCount(): Promise<{ count: number; seq: number }>;
  markRead(ids: string[]): Promise<void>;
  markAllRead(): Promise<void>;
  socket: { transports: Array<"websocket" | "polling">; reconnectionDelayMs: number; reconnectionDelayMaxMs: number };
};

const RESUME_KEY = "aiutami:inbox:last";
const SEEN_LIMIT = 2000;
/** Refusals the same handshake would get again: retrying cannot help. Anything else is tried again. */
const FINAL_REFUSALS = new Set<string>(["UNAUTHORIZED", "FORBIDDEN", "BAD_REQUEST", "TOO_MANY_CONNECTIONS"]);
/** A connection that held this long starts the backoff afresh when it drops. */
const STABLE_MS = 5000;

/**
 * The live inbox: one socket per client, reconnecting with backoff and jitter, resuming after the
 * last notification seen (kept in the storage, so a page reload resumes too), dropping repeats.
 * Obtain it as `client.notifications`.
 */
export class NotificationInbox {
  private socket: Socket<ServerToClientEvents<Notification>, ClientToServerEvents> | null = null;
  private readonly listeners: { [K in keyof InboxEvents]: Set<InboxEvents[K]> } = {
    notification: new Set(),
    read: new Set(),
    status: new Set(),
    unreadCount: new Set(),
    error: new Set(),
  };
  private readonly seen = new Set<string>();
  private last: { id: string; seq: number } | null;
  private currentStatus: InboxStatus = "offline";
  private count = 0;
  /** Unread notifications received here lately, by id: a count the server made before one of them is short of it. */
  private readonly recentUnread = new Map<string, number>();
  /** Count requests sent, the latest one applied, and resets (all read): an answer older than either is stale. */
  private countRequests = 0;
  private countApplied = 0;
  private countResets = 0;
  /** Attempts since the last connection that held: the backoff's exponent. */
  private attempts = 0;
  private connectedAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal created by the client */
  constructor(private readonly host: InboxHost) {
    this.last = NotificationInbox.readResume(host.storage);
  }

  private static readResume(storage: TokenStorage): { id: string; seq: number } | null {
    try {
      const value = JSON.parse(storage.get(RESUME_KEY) ?? "null") as { id?: unknown; seq?: unknown } | null;
      return value && typeof value.id === "string" && typeof value.seq === "number" ? { id: value.id, seq: value.seq } : null;
    } catch {
      return null;
    }
  }

  /**
   * Listens to an inbox event; returns a function that stops listening.
   * @example const stop = inbox.on("status", (s) => badge.dataset.status = s);
   */
  on<K extends keyof InboxEvents>(event: K, listener: InboxEvents[K]): () => void {
    (this.listeners[event] as Set<InboxEvents[K]>).add(listener);
    return () => void (this.listeners[event] as Set<InboxEvents[K]>).delete(listener);
  }

  private emit<K extends keyof InboxEvents>(event: K, ...args: Parameters<InboxEvents[K]>): void {
    for (const listener of this.listeners[event]) (listener as (...a: Parameters<InboxEvents[K]>) => void)(...args);
  }

  /** The connection's state. */
  get status(): InboxStatus {
    return this.currentStatus;
  }

  /** Unread notifications, fetched on connect and kept current from events. */
  get unreadCount(): number {
    return this.count;
  }

  /** The id of the last notification this device saw: where a reconnect resumes. */
  get lastId(): string | null {
    return this.last?.id ?? null;
  }

  private setStatus(status: InboxStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.emit("status", status);
  }

  private setCount(count: number): void {
    this.count = Math.max(0, count);
    this.emit("unreadCount", this.count);
  }

  /**
   * Asks the server for the count. The answer covers the notifications up to its `seq`; the unread ones
   * received here after that are added, so a notification that arrives while the request is out is counted
   * once whichever comes first. An answer older than one already applied, or than a reset, is dropped.
   */
  private async refreshCount(): Promise<void> {
    const request = ++this.countRequests;
    const resets = this.countResets;
    try {
      const { count, seq } = await this.host.unreadCount();
      if (request < this.countApplied || resets !== this.countResets) return;
      this.countApplied = request;
      let newer = 0;
      for (const s of this.recentUnread.values()) if (s > seq) newer++;
      this.setCount(count + newer);
    } catch {
      // Best effort: the next event or reconnect refreshes it.
    }
  }

  /** Everything read (here or on another device): the count is 0, and no answer asked before counts. */
  private resetCount(): void {
    this.countResets++;
    this.recentUnread.clear();
    this.setCount(0);
  }

  /** Opens the socket (done for you on first use of `client.notifications`). Needs a session. */
  connect(): void {
    if (this.socket) return;
    if (!this.host.token()) throw new AiutamiError("Log in before opening the inbox.", { code: "UNAUTHORIZED" });
    this.setStatus("connecting");
    const socket: Socket<ServerToClientEvents<Notification>, ClientToServerEvents> = io(this.host.baseUrl, {
      path: "/socket.io",
      transports: this.host.socket.transports,
      // Read on every attempt, so a reconnect carries the newest token and resume point.
      auth: (cb) => cb({ token: this.host.token() ?? "", ...(this.last ? { lastId: this.last.id } : {}) }),
      reconnection: true,
      reconnectionDelay: this.host.socket.reconnectionDelayMs,
      reconnectionDelayMax: this.host.socket.reconnectionDelayMaxMs,
      randomizationFactor: 0.5,
    });
    this.socket = socket;
    socket.on("connect", () => {
      this.connectedAt = Date.now();
      this.setStatus("connected");
      void this.refreshCount();
    });
    socket.on("disconnect", (reason) => {
      if (Date.now() - this.connectedAt >= STABLE_MS) this.attempts = 0;
      // The server closed the socket (a revoked session, or so that the client resumes): Socket.IO does not
      // retry that by itself. Try again with backoff; a refusal then says why.
      if (reason === "io server disconnect") return this.retryLater(socket);
      this.setStatus(socket.active ? "reconnecting" : "offline");
    });
    socket.on("connect_error", (err: Error & { data?: Partial<HubErrorData> }) => {
      const code = err.data?.code;
      if (code !== undefined && FINAL_REFUSALS.has(code)) {
        // The server said no for good: retrying would only repeat it.
        socket.disconnect();
        this.setStatus("offline");
        this.emit("error", new AiutamiError(err.message, { code }));
        return;
      }
      // A transport error (the server unreachable): Socket.IO's manager retries by itself, with backoff.
      if (socket.active) return this.setStatus("reconnecting");
      // Refused for now (SERVICE_UNAVAILABLE: the server's database or Redis is down): Socket.IO stops
      // after any refusal, so try again here, no sooner than the server asked.
      this.retryLater(socket, (err.data?.retryAfterSeconds ?? 0) * 1000);
    });
    socket.on("notification", (n) => this.receive(n));
    socket.on("notifications:read", (event) => {
      this.emit("read", event);
      if ("all" in event) this.resetCount();
      else {
        for (const id of event.ids) this.recentUnread.delete(id);
        void this.refreshCount();
      }
    });
  }

  /**
   * Connects again after a delay: exponential from `reconnectionDelayMs` up to `reconnectionDelayMaxMs`,
   * each time a random 50-100 % of it (jitter, so devices refused together do not return together), and
   * never sooner than `minMs` (the server's retryAfterSeconds, spread over half as much again).
   */
  private retryLater(socket: Socket<ServerToClientEvents<Notification>, ClientToServerEvents>, minMs = 0): void {
    const { reconnectionDelayMs, reconnectionDelayMaxMs } = this.host.socket;
    const backoff = Math.min(reconnectionDelayMaxMs, reconnectionDelayMs * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
    const delay = Math.max(backoff, minMs * (1 + Math.random() / 2));
    this.setStatus("reconnecting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.socket === socket && socket.connect(), delay);
  }

  private receive(n: Notification): void {
    // The hub delivers each notification once, in seq order; a repeat can still reach an app
    // across reconnects (a delivery racing a drop), so drop by id and by seq.
    if (this.seen.has(n.id) || (this.last && n.seq <= this.last.seq)) return;
    this.seen.add(n.id);
    if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value as string);
    this.last = { id: n.id, seq: n.seq };
    this.host.storage.set(RESUME_KEY, JSON.stringify(this.last));
    if (!n.readAt) {
      this.recentUnread.set(n.id, n.seq);
      if (this.recentUnread.size > SEEN_LIMIT) this.recentUnread.delete(this.recentUnread.keys().next().value as string);
      this.setCount(this.count + 1);
    }
    this.emit("notification", n);
  }

  /**
   * Marks notifications read; every open device of the user hears of it.
   * @example await client.notifications.markRead([n.id]);
   */
  async markRead(ids: string[]): Promise<void> {
    await this.host.markRead(ids);
    for (const id of ids) this.recentUnread.delete(id);
    await this.refreshCount();
  }

  /** Marks everything read, on every device. */
  async markAllRead(): Promise<void> {
    await this.host.markAllRead();
    this.resetCount();
  }

  /** Closes the socket. `connect()` opens it again and resumes where it stopped. */
  disconnect(): void {
    clearTimeout(this.retryTimer);
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socket = null;
    this.setStatus("offline");
  }

  /** Forgets the resume point (e.g. on log-out, so another user on this device starts fresh). */
  reset(): void {
    this.disconnect();
    this.last = null;
    this.seen.clear();
    this.host.storage.remove(RESUME_KEY);
    this.resetCount();
  }
}
