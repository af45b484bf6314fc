import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeliveryChannel } from "../../server/hub/delivery";
import type { NotificationRecord } from "../../server/notifications/service";

const note = (seq: number) => ({ id: `n${seq}`, userId: "u", seq, type: "hire.requested", tenant: { id: "t", slug: "t", name: "T" }, payload: {}, createdAt: "", readAt: null }) as NotificationRecord;

// The reorder window is time: the clock (setTimeout and Date.now) is vitest's, moved by the test alone,
// so a loaded machine cannot stretch a 30 ms window past a check.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});
/** Moves the clock on by `ms`, running the timers due and the channel's queued work. */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);
/** Runs the channel's queued work without moving the clock. */
const drain = () => advance(0);

/** A channel after `last`, recording what it emits and which ranges it fetches (from `committed`). */
function channel(last: number, reorderMs = 30) {
  const emitted: number[] = [];
  const fetched: Array<[number, number]> = [];
  const errors: unknown[] = [];
  const c = new DeliveryChannel(
    last,
    (n) => emitted.push(n.seq),
    async (after, upto) => {
      fetched.push([after, upto]);
      return Array.from({ length: upto - after }, (_, i) => note(after + i + 1));
    },
    (err) => errors.push(err),
    reorderMs,
  );
  return { c, emitted, fetched, errors };
}

describe("delivery channel", () => {
  it("delivers in seq order and drops repeats", async () => {
    const { c, emitted, fetched } = channel(0);
    for (const seq of [1, 2, 2, 1, 3]) c.offer(note(seq));
    await drain();
    expect(emitted).toEqual([1, 2, 3]);
    expect(fetched).toEqual([]);
  });

  it("puts two appends that raced back in order without asking the database", async () => {
    const { c, emitted, fetched } = channel(4);
    c.offer(note(6));
    c.offer(note(7));
    await drain();
    expect(emitted).toEqual([]);
    await advance(29);
    c.offer(note(5));
    await drain();
    expect(emitted).toEqual([5, 6, 7]);
    await advance(100); // long past the window: the gap closed in it, so nothing is fetched
    expect(fetched).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("fetches a gap that stays open past the window, then delivers what was parked", async () => {
    const { c, emitted, fetched } = channel(1);
    c.offer(note(4));
    c.offer(note(5));
    await advance(29);
    expect(emitted).toEqual([]);
    expect(fetched).toEqual([]);
    await advance(1); // the window's end
    expect(fetched).toEqual([[1, 3]]);
    expect(emitted).toEqual([2, 3, 4, 5]);
    // The late append of one that was fetched is a repeat.
    c.offer(note(3));
    await drain();
    expect(emitted).toEqual([2, 3, 4, 5]);
  });

  it("a gap that opens after another one closed gets a full window of its own", async () => {
    const { c, emitted, fetched } = channel(1, 100);
    c.offer(note(3));
    c.offer(note(6));
    await advance(60);
    c.offer(note(2)); // closes the first gap; 4 and 5 are now missing, 60 ms into the first window
    await drain();
    expect(emitted).toEqual([2, 3]);
    await advance(40); // the first window's end: the second one has 60 ms to go
    expect(fetched).toEqual([]);
    await advance(59);
    expect(fetched).toEqual([]);
    await advance(1); // the second window's end
    expect(fetched).toEqual([[3, 5]]);
    expect(emitted).toEqual([2, 3, 4, 5, 6]);
  });

  it("with no window, fetches at once (the catch-up path)", async () => {
    const { c, emitted, fetched } = channel(0, 0);
    c.offer(note(3));
    await drain();
    expect(fetched).toEqual([[0, 2]]);
    expect(emitted).toEqual([1, 2, 3]);
  });

  it("delivers nothing once closed, parked entries included", async () => {
    const { c, emitted, fetched } = channel(0);
    c.offer(note(2));
    await drain();
    expect(vi.getTimerCount()).toBe(1); // the parked entry's window
    c.close();
    expect(vi.getTimerCount()).toBe(0);
    c.offer(note(1));
    await advance(100);
    expect(emitted).toEqual([]);
    expect(fetched).toEqual([]);
  });
});
