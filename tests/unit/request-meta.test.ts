import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientAddressOf, isOriginAllowed, requestIdOf } from "../../server/http/request-meta";
import { slugify } from "../../server/tenants/service";

const req = (headers: Record<string, string>, remoteAddress = "10.0.0.9") =>
  ({ headers, socket: { remoteAddress } }) as unknown as IncomingMessage;

describe("client address", () => {
  it("ignores X-Forwarded-For unless a proxy is trusted", () => {
    expect(clientAddressOf(req({ "x-forwarded-for": "1.2.3.4" }), false)).toBe("10.0.0.9");
  });

  it("behind a trusted proxy takes the hop the proxy appended, not what the client wrote", () => {
    expect(clientAddressOf(req({ "x-forwarded-for": "6.6.6.6, 7.7.7.7, 203.0.113.5" }), true)).toBe("203.0.113.5");
    expect(clientAddressOf(req({}), true)).toBe("10.0.0.9");
  });
});

describe("origin check", () => {
  it("allows the server's own host and listed origins only", () => {
    const allowed = ["https://app.example"];
    expect(isOriginAllowed(req({ origin: "http://api.local:3000", host: "api.local:3000" }), allowed, false)).toBe(true);
    expect(isOriginAllowed(req({ origin: "https://app.example", host: "api.local" }), allowed, false)).toBe(true);
    expect(isOriginAllowed(req({ origin: "https://evil.example", host: "api.local" }), allowed, false)).toBe(false);
    expect(isOriginAllowed(req({ host: "api.local" }), allowed, false)).toBe(false);
    expect(isOriginAllowed(req({ origin: "null", host: "api.local" }), allowed, false)).toBe(false);
    expect(isOriginAllowed(req({ origin: "https://api.local", host: "api.local", "x-forwarded-proto": "https" }), [], true)).toBe(true);
  });
});

describe("request id", () => {
  it("keeps a sane caller id and replaces anything else", () => {
    expect(requestIdOf(req({ "x-request-id": "abc-12345678" }))).toBe("abc-12345678");
    expect(requestIdOf(req({ "x-request-id": "bad id\n{json}" }))).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("slugify", () => {
  it("makes URL-safe slugs from agency names", () => {
    expect(slugify("Cura & Casa Città")).toBe("cura-casa-citta");
    expect(slugify("  --  ")).toBe("tenant");
    expect(slugify("x".repeat(80))).toHaveLength(48);
  });
});
