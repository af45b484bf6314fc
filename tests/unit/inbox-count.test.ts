import { describe, expect, it } from "vitest";
import { NotificationInbox, type InboxHost } from "../../client-sdk/src/inbox";
import { memoryStorage } from "../../client-sdk/src/storage";
import type { Notification } from "../../server/notifications/schemas";

/**
 * The inbox's unread count against answers that arrive out of step with the socket: the server's count and
 * a live notification race on every connect and every read. Driven by hand (each answer released by the
 * test), so the order is the test's, not the machine's.
 */
type Answer = { count: number; seq: number };
function inboxWithHeldCounts() {
  const pending: Array<(a: Answer) => void> = [];
  const host: InboxHost = {
    baseUrl: "http://127.0.0.1:1",
    storage: memoryStorage(),
    token: () => "t",
    unreadCount: () => new Promise<Answer>((resolve) => pending.push(resolve)),
    markRead: async () => {},
    markAllRead: async () => {},
    socket: { transports: ["websocket"], reconnectionDelayMs: 500, reconnectionDelayMaxMs: 10_000 },
  };
  const inbox = new NotificationInbox(host);
  // The socket's handlers, without a socket: what "connect", "notification" and "notifications:read" run.
  const internals = inbox as unknown as { refreshCount(): Promise<void>; receive(n: Notification): void };
  const settle = async (i: number, a: Answer) => {
    pending[i]!(a);
    await new Promise((r) => setImmediate(r));
  };
  return { inbox, refresh: () => void internals.refreshCount(), receive: (n: Notification) => internals.receive(n), settle };
}

const note = (seq: number): Notification =>
  ({ id: `00000000-0000-7000-8000-${String(seq).padStart(12, "0")}`, seq, type: "hire.requested", tenant: {}, payload: {}, createdAt: new Date().toISOString(), readAt: null }) as unknown as Notification;

describe("the inbox's unread count", () => {
  it("a count made before a notification, answered after it arrived, still counts it", async () => {
    const t = inboxWithHeldCounts();
    t.refresh();
    t.receive(note(1));
    expect(t.inbox.unreadCount).toBe(1);
    await t.settle(0, { count: 0, seq: 0 });
    expect(t.inbox.unreadCount).toBe(1);
  });

  it("a count made after a notification, answered after it arrived, counts it once", async () => {
    const t = inboxWithHeldCounts();
    t.refresh();
    t.receive(note(1));
    await t.settle(0, { count: 1, seq: 1 });
    expect(t.inbox.unreadCount).toBe(1);
  });

  it("an older count answered after a newer one is dropped", async () => {
    const t = inboxWithHeldCounts();
    t.refresh();
    t.refresh();
    await t.settle(1, { count: 5, seq: 5 });
    await t.settle(0, { count: 3, seq: 3 });
    expect(t.inbox.unreadCount).toBe(5);
  });

  it("a count asked before everything was read does not bring the old number back", async () => {
    const t = inboxWithHeldCounts();
    t.receive(note(1));
    t.refresh();
    await t.inbox.markAllRead();
    expect(t.inbox.unreadCount).toBe(0);
    await t.settle(0, { count: 1, seq: 1 });
    expect(t.inbox.unreadCount).toBe(0);
  });
});
