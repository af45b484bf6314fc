import fc from "fast-check";
import { appRouter } from "../../server/router";
import { hostileString, hostileValue, PROTOTYPE_KEYS, toJsonText, withKey } from "./fuzz-arbitraries";
import type { FuzzRequest } from "./fuzz-http";

/**
 * Whole HTTP requests for the route fuzz: any route's path, query, headers and body, from plausible
 * (a real procedure, a real token, a real tenant) to junk, in any combination.
 */

export type Credentials = { token: string; tenantSlug: string; tenantId: string; origin: string };

export const PROCEDURE_PATHS = Object.keys((appRouter._def as unknown as { procedures: Record<string, unknown> }).procedures);

/** Percent-encodes what an HTTP client would refuse in a request target, and nothing else (a stray `%` stays). */
export function pathSafe(s: string): string {
  return s.replace(/[\ud800-\udbff][\udc00-\udfff]|[^\x21-\x7e]|[#?]/g, (c) => {
    const code = c.charCodeAt(0);
    // A lone surrogate as the three bytes WTF-8 gives it: not valid UTF-8, which is the point.
    if (c.length === 1 && code >= 0xd800 && code <= 0xdfff) return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63)].map((b) => `%${b.toString(16).toUpperCase()}`).join("");
    return encodeURIComponent(c);
  });
}

const junkSegment = fc.oneof(
  hostileString.map(pathSafe),
  fc.constantFrom("%", "%E0%A4%A", "%ZZ", "%00", "%2F", "%2e%2e", "..", ".", "", "%C0%AE", "%uD800", "%%", "a%", "%e0%a4"),
  fc.webSegment(),
);

const procedureName = fc.oneof(
  { arbitrary: fc.constantFrom(...PROCEDURE_PATHS), weight: 6 },
  { arbitrary: fc.constantFrom("auth", "auth.", ".auth.me", "auth..me", "auth.me.", "__proto__", "constructor", "toString", "auth.__proto__", "_def", "_def.procedures", "createCaller"), weight: 2 },
  { arbitrary: junkSegment, weight: 2 },
);

const trpcPath = fc.oneof(
  procedureName,
  fc.array(procedureName, { minLength: 2, maxLength: 6 }).map((names) => names.join(",")),
  fc.tuple(fc.constantFrom(...PROCEDURE_PATHS), fc.constantFrom(",", ",,", "%2C", "/", "/x")).map(([a, b]) => `${a}${b}`),
);

const mediaKey = fc.oneof(
  fc.tuple(fc.uuid(), fc.uuid(), fc.stringMatching(/^[0-9a-f]{32}$/), fc.constantFrom("thumb", "square", "standard", "original")).map(
    ([t, u, h, s]) => `tenants/${t}/users/${u}/avatar/${h}-${s}.webp`,
  ),
  fc.array(junkSegment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join("/")),
  fc.constantFrom("tenants/%", "%E0%A4%A", "../../../etc/passwd", "..%2F..%2Fpackage.json", "tenants/%2e%2e/%2e%2e/x", `tenants/${"a/".repeat(2000)}`),
);

const demoPath = fc.oneof(
  fc.constantFrom("/demo", "/demo/", "/demo/app.js", "/demo/style.css", "/demo/index.html", "/demo/aiutami-client.js", "/demo/../package.json", "/demo/%2e%2e/package.json", "/demo//app.js", "/demoX", "/DEMO"),
  junkSegment.map((s) => `/demo/${s}`),
);

const fixedPath = fc.constantFrom("/healthz", "/readyz", "/metrics", "/", "/healthz/", "//healthz", "/HEALTHZ", "/trpc", "/trpc/", "/media/", "/media", "/socket.io", "/favicon.ico", "*");

const socketIoPath = fc.oneof(
  fc.constantFrom("/socket.io/", "/socket.io/?EIO=4&transport=polling", "/socket.io/?EIO=4&transport=websocket", "/socket.io/?EIO=3&transport=polling&j=0", "/socket.io/?EIO=4&transport=polling&sid=xyz"),
  fc.tuple(fc.constantFrom("3", "4", "5", "x", ""), fc.constantFrom("polling", "websocket", "webtransport", "junk"), junkSegment).map(([eio, t, sid]) => `/socket.io/?EIO=${eio}&transport=${t}&sid=${sid}`),
);

const inputParam = hostileValue.map((v) => encodeURIComponent(toJsonText(v)));

const query = fc.oneof(
  { arbitrary: fc.constant(""), weight: 3 },
  { arbitrary: inputParam.map((i) => `?input=${i}`), weight: 4 },
  { arbitrary: fc.tuple(fc.dictionary(fc.constantFrom("0", "1", "2", "-1", "__proto__", "length", "01"), hostileValue, { maxKeys: 3 })).map(([d]) => `?batch=1&input=${encodeURIComponent(toJsonText(d))}`), weight: 3 },
  { arbitrary: fc.constantFrom("?batch=1", "?batch=true", "?batch=1&batch=0", "?connectionParams=1", "?input", "?input=", "?input=%", "?input=%E0%A4%A", "?input=undefined", "?&&&", "?batch=1&input=[]", "?input=" + "%5B".repeat(5000)), weight: 2 },
  { arbitrary: fc.array(fc.tuple(junkSegment, junkSegment), { maxLength: 4 }).map((kv) => `?${kv.map(([k, v]) => `${k}=${v}`).join("&")}`), weight: 1 },
);

export function pathArbitrary(): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.tuple(trpcPath, query).map(([p, q]) => `/trpc/${p}${q}`), weight: 10 },
    { arbitrary: fc.tuple(mediaKey, query).map(([k, q]) => `/media/${k}${q}`), weight: 3 },
    { arbitrary: fc.tuple(demoPath, query).map(([p, q]) => `${p}${q}`), weight: 2 },
    { arbitrary: fc.tuple(fixedPath, query).map(([p, q]) => (p === "*" ? p : `${p}${q}`)), weight: 2 },
    { arbitrary: socketIoPath, weight: 1 },
    { arbitrary: fc.array(junkSegment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join("/")}`), weight: 2 },
  );
}

export const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "PURGE", "MKCOL", "REPORT", "QUERY", "LINK", "SEARCH", "SOURCE"];

export const CONTENT_TYPES = [
  "application/json", "application/json; charset=utf-8", "application/json; charset=utf-16", "APPLICATION/JSON", "application/json;;;", "application/jsonl",
  "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=fuzz", "application/octet-stream", "text/plain",
  "application/x-www-form-urlencoded", "", "*/*", "application/json, text/plain", "image/png",
];

function multipart(boundary: string, parts: Array<{ name: string; filename?: string; type?: string; data: Buffer }>, close: boolean): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename === undefined ? "" : `; filename="${p.filename}"`}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ""}\r\n`), p.data, Buffer.from("\r\n"));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const PNG_SIGNATURE = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");

const multipartBody = fc
  .tuple(
    fc.constantFrom("fuzz", "x", "-".repeat(70), "a b", ""),
    fc.array(
      fc.record({
        name: fc.oneof(fc.constantFrom("file", "input", "0", "__proto__", "constructor", "__proto__[polluted]", "constructor[prototype][polluted]", "a[b][c]", "file[]"), hostileString.map((s) => s.replace(/["\r\n]/g, ""))),
        filename: fc.option(fc.constantFrom("a.png", "../../x.png", "", "a\u0000.jpg", "é.webp", "x".repeat(300)), { nil: undefined }),
        type: fc.option(fc.constantFrom("image/png", "image/jpeg", "image/svg+xml", "text/html", "application/json", ""), { nil: undefined }),
        data: fc.oneof(fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.concat([PNG_SIGNATURE, Buffer.from(a)])), hostileValue.map((v) => Buffer.from(toJsonText(v)))),
      }),
      { maxLength: 4 },
    ),
    fc.boolean(),
  )
  .map(([boundary, parts, close]) => ({ boundary, body: multipart(boundary, parts, close) }));

export type BodyChoice = { body?: Buffer | string; contentType?: string };

const body: fc.Arbitrary<BodyChoice> = fc.oneof(
  { arbitrary: fc.constant({}), weight: 3 },
  { arbitrary: hostileValue.map((v) => ({ body: toJsonText(v), contentType: "application/json" })), weight: 5 },
  { arbitrary: fc.dictionary(fc.constantFrom("0", "1", "2", "__proto__", "-1"), hostileValue, { maxKeys: 4 }).map((d) => ({ body: toJsonText(d), contentType: "application/json" })), weight: 2 },
  { arbitrary: multipartBody.map(({ boundary, body }) => ({ body, contentType: `multipart/form-data; boundary=${boundary}` })), weight: 3 },
  { arbitrary: fc.uint8Array({ maxLength: 3000 }).map((a) => ({ body: Buffer.from(a) })), weight: 2 },
  { arbitrary: fc.constantFrom("{", "[", '{"a":', "\ufeff{}", "\ufeff", "null", '"x"', "1e400", '{"__proto__":{"polluted":1}}', "a=1&b=%", "\u0000").map((b) => ({ body: b })), weight: 2 },
  { arbitrary: fc.constantFrom(1_000_001, 2_000_000).map((n) => ({ body: Buffer.alloc(n, 0x20), contentType: "application/json" })), weight: 1 },
);

/** Header values, from the real thing (a valid token, the tenant's slug, the server's own origin) to junk. */
function headersArbitrary(creds: () => Credentials): fc.Arbitrary<Record<string, string>> {
  const value = (real: fc.Arbitrary<string>) => fc.oneof({ arbitrary: real, weight: 3 }, { arbitrary: hostileString.map((s) => s.replace(/[^\x20-\x7e\t]/g, "")), weight: 2 });
  const token = fc.constant(null).map(() => creds().token);
  return fc.record(
    {
      "content-type": value(fc.constantFrom(...CONTENT_TYPES)),
      "trpc-accept": value(fc.constantFrom("application/jsonl", "application/json", "")),
      accept: value(fc.constantFrom("application/jsonl", "application/json", "*/*", "text/event-stream")),
      authorization: value(fc.oneof(token.map((t) => `Bearer ${t}`), token.map((t) => `bearer   ${t}`), token.map((t) => `Bearer ${t}x`), token.map((t) => `Bearer ${t.split(".")[0]}`), fc.constantFrom("Bearer", "Bearer ", "Basic YTpi", `Bearer ${"a".repeat(5000)}`, "Bearer a.b.c"))),
      cookie: value(fc.oneof(token.map((t) => `aiutami_session=${t}`), fc.constantFrom("aiutami_session=%E0%A4%A", "aiutami_session=", "aiutami_session", "=;=;", "aiutami_session=a; aiutami_session=b", "__proto__=1", `a=${"b".repeat(8000)}`))),
      "x-tenant-id": value(fc.oneof(fc.constant(null).map(() => creds().tenantSlug), fc.constant(null).map(() => creds().tenantId), fc.constantFrom("00000000-0000-0000-0000-000000000000", "demo", "-", "a".repeat(64), "%", "__proto__"))),
      origin: value(fc.oneof(fc.constant(null).map(() => creds().origin), fc.constantFrom("null", "http://evil.test", "file://", "http://127.0.0.1", " "))),
      "x-request-id": value(fc.constantFrom("fuzz-request-0001", "a".repeat(200), "../../x", "")),
      "x-forwarded-proto": value(fc.constantFrom("https", "http", "gopher", "")),
      host: value(fc.constantFrom("127.0.0.1", "", "[::1", "a b", "example.test:99999", "@", "x".repeat(300), "127.0.0.1:0", "[::1]:80")),
      "content-encoding": fc.constantFrom("gzip", "br", "deflate", "identity", "junk"),
      "transfer-encoding": fc.constantFrom("chunked"),
      expect: fc.constantFrom("100-continue", "junk"),
      "access-control-request-method": fc.constantFrom("POST", "GET", "DELETE", "junk"),
      "access-control-request-headers": fc.constantFrom("content-type,authorization,x-tenant-id", "*", "junk header"),
      "x-junk": value(fc.constantFrom("1")),
    },
    { requiredKeys: [] },
  );
}

/** A whole request to any route. */
export function requestArbitrary(creds: () => Credentials): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(fc.constantFrom(...METHODS), pathArbitrary(), headersArbitrary(creds), body, fc.boolean(), fc.oneof({ arbitrary: fc.constant(null), weight: 8 }, { arbitrary: fc.constantFrom(...PROTOTYPE_KEYS), weight: 1 })).map(([method, path, headers, b, keepType, protoHeader]) => {
    const h = (protoHeader ? withKey(headers, protoHeader, "1") : { ...headers }) as Record<string, string>;
    if (b.contentType && keepType && h["content-type"] === undefined) h["content-type"] = b.contentType;
    // A body in a GET is allowed on the wire (and refused or ignored by the server), but not by Node's client for HEAD.
    const sendBody = method === "HEAD" ? undefined : b.body;
    if (sendBody === undefined) delete h["transfer-encoding"];
    return { method, path, headers: h, body: sendBody };
  });
}

/** Requests an HTTP client will not send: broken request lines, smuggling, bad chunks, cut bodies, odd upgrades. */
export const RAW_REQUESTS: string[] = [
  "GET /media/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n",
  "GET /media/tenants/% HTTP/1.1\r\nHost: x\r\n\r\n",
  "GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
  "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
  "GET /healthz\r\n\r\n",
  "GET http://evil.test/trpc/auth.me HTTP/1.1\r\nHost: x\r\n\r\n",
  "GET http://127.0.0.1/media/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
  "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
  "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
  "GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
  "GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\n Folded: header\r\n\r\n",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\n{}\r\n0\r\n\r\n",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
  "POST /trpc/profiles.uploadPhoto HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 9000000\r\n\r\n--b\r\n",
  "POST /trpc/profiles.uploadPhoto HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n--b\r\n\r\n",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1e3\r\n\r\n",
  "POST /trpc/auth.logIn HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n",
  "GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
  "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: x\r\n\r\n",
  "GET /socket.io/?EIO=4&transport=websocket&sid=%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  "GET /healthz HTTP/1.0\r\n\r\n",
  "GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u00ff\u00fe\r\n\r\n",
  `GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
  `GET /trpc/${"auth.me,".repeat(3000)}auth.me?batch=1 HTTP/1.1\r\nHost: x\r\n\r\n`,
  "GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nX-Tenant-Id: \u00e9\r\nCookie: aiutami_session=\u00e9\r\n\r\n",
  "\u0000\u0001\u0002\r\n\r\n",
  "\r\n\r\n\r\n",
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
];

export const rawRequestArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: fc.constantFrom(...RAW_REQUESTS).map((s) => Buffer.from(s, "latin1")), weight: 3 },
  {
    arbitrary: fc
      .tuple(fc.oneof(fc.constantFrom(...METHODS), fc.string({ unit: "binary-ascii", maxLength: 8 })), pathArbitrary(), fc.array(fc.tuple(fc.constantFrom("Host", "Content-Length", "Transfer-Encoding", "Content-Type", "Cookie", "Authorization", "X-Tenant-Id", "Expect", "Connection"), fc.string({ unit: "binary-ascii", maxLength: 30 })), { maxLength: 5 }), fc.uint8Array({ maxLength: 300 }))
      .map(([m, p, hs, b]) => Buffer.concat([Buffer.from(`${m} ${p} HTTP/1.1\r\n${hs.map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, "")}\r\n`).join("")}\r\n`, "latin1"), Buffer.from(b)])),
    weight: 2,
  },
);
