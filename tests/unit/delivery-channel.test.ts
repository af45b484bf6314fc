import { describe, expect, it } from "vitest";
import { DeliveryChannel } from "../../server/hub/delivery";
import type { NotificationRecord } from "../../server/notifications/service";

const note = (seq: number) => ({ id: `n${seq}`, userId: "u", seq, type: "hire.requested", tenant: { id: "t", slug: "t", name: "T" }, payload: {}, createdAt: "", readAt: null }) as NotificationRecord;
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    await settle(5);
    expect(emitted).toEqual([1, 2, 3]);
    expect(fetched).toEqual([]);
  });

  it("puts two appends that raced back in order without asking the database", async () => {
    const { c, emitted, fetched } = channel(4);
    c.offer(note(6));
    c.offer(note(7));
    await settle(5);
    expect(emitted).toEqual([]);
    c.offer(note(5));
    await settle(5);
    expect(emitted).toEqual([5, 6, 7]);
    await settle(50);
    expect(fetched).toEqual([]);
  });

  it("fetches a gap that stays open past the window, then delivers what was parked", async () => {
    const { c, emitted, fetched } = channel(1);
    c.offer(note(4));
    c.offer(note(5));
    await settle(10);
    expect(emitted).toEqual([]);
    await settle(60);
    expect(fetched).toEqual([[1, 3]]);
    expect(emitted).toEqual([2, 3, 4, 5]);
    // The late append of one that was fetched is a repeat.
    c.offer(note(3));
    await settle(5);
    expect(emitted).toEqual([2, 3, 4, 5]);
  });

  it("a gap that opens after another one closed gets a full window of its own", async () => {
    const { c, emitted, fetched } = channel(1, 100);
    c.offer(note(3));
    c.offer(note(6));
    await settle(60);
    c.offer(note(2)); // closes the first gap; 4 and 5 are now missing, 60 ms into the first window
    await settle(50); // past the first window's end, inside the second's
    expect(emitted).toEqual([2, 3]);
    expect(fetched).toEqual([]);
    await settle(100);
    expect(fetched).toEqual([[3, 5]]);
    expect(emitted).toEqual([2, 3, 4, 5, 6]);
  });

  it("with no window, fetches at once (the catch-up path)", async () => {
    const { c, emitted, fetched } = channel(0, 0);
    c.offer(note(3));
    await settle(5);
    expect(fetched).toEqual([[0, 2]]);
    expect(emitted).toEqual([1, 2, 3]);
  });

  it("delivers nothing once closed, parked entries included", async () => {
    const { c, emitted, fetched } = channel(0);
    c.offer(note(2));
    c.close();
    c.offer(note(1));
    await settle(60);
    expect(emitted).toEqual([]);
    expect(fetched).toEqual([]);
  });
});
