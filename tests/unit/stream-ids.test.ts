import { describe, expect, it } from "vitest";
import { followingId, isAfter } from "../../server/hub/stream-readers";

describe("stream ids", () => {
  it("compare by time, then by sequence, as numbers", () => {
    expect(isAfter("1700000000001-0", "1700000000000-5")).toBe(true);
    expect(isAfter("1700000000000-10", "1700000000000-9")).toBe(true);
    expect(isAfter("1700000000000-9", "1700000000000-10")).toBe(false);
    expect(isAfter("1700000000000-3", "1700000000000-3")).toBe(false);
    expect(isAfter("1-0", "0-0")).toBe(true);
  });

  it("the id following another is the next sequence at the same time", () => {
    expect(followingId("1700000000000-9")).toBe("1700000000000-10");
    expect(followingId("0-0")).toBe("0-1");
    expect(isAfter(followingId("1700000000000-3"), "1700000000000-3")).toBe(true);
  });
});
