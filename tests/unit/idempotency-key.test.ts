import { describe, expect, it } from "vitest";
import { fingerprintOf, IDEMPOTENCY_WINDOW_MS, idempotencyRequestOf, parseIdempotencyKey } from "../../server/idempotency/request";

describe("Idempotency-Key", () => {
  it("takes 1-255 characters of the safe set, unquotes a structured-field string, and names the header otherwise", () => {
    for (const key of ["a", "8e03978e-40d5-43e8-bc93-6894a57f9324", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "q+/w=", "a_b.c:d~e", "x".repeat(255)]) {
      expect(parseIdempotencyKey(key)).toBe(key);
    }
    expect(parseIdempotencyKey('"abc-1"')).toBe("abc-1");
    for (const bad of ["", '""', "a b", "a,b", "a, b", "é", "x".repeat(256), "a\u0000", '"abc', "a;b"]) {
      expect(() => parseIdempotencyKey(bad)).toThrow(expect.objectContaining({ code: "BAD_REQUEST", details: { issues: [expect.objectContaining({ path: "Idempotency-Key" })] } }));
    }
  });

  it("fingerprints the tenant and the input, whatever the order of their keys", () => {
    const a = fingerprintOf({ tenant: "demo", input: { providerId: "p", location: { city: "Milan", lat: 1 } } });
    expect(fingerprintOf({ input: { location: { lat: 1, city: "Milan" }, providerId: "p" }, tenant: "demo" })).toBe(a);
    expect(fingerprintOf({ tenant: "other", input: { providerId: "p", location: { city: "Milan", lat: 1 } } })).not.toBe(a);
    expect(fingerprintOf({ tenant: "demo", input: { providerId: "p", location: { city: "Milan", lat: 2 } } })).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a call without the header has no idempotency; with it, the key's window is 24 hours from the call", () => {
    const base = { userId: "u", procedure: "hires.create", tenant: null, input: {}, now: new Date("2026-12-01T10:00:00Z"), onReplay: () => {} };
    expect(idempotencyRequestOf({ ...base, rawKey: null })).toBeNull();
    const request = idempotencyRequestOf({ ...base, rawKey: "k1" });
    expect(request).toMatchObject({ key: "k1", procedure: "hires.create", userId: "u" });
    expect(request!.expiresAt.getTime() - base.now.getTime()).toBe(IDEMPOTENCY_WINDOW_MS);
  });
});
