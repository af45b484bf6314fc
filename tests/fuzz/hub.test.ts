import fc from "fast-check";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostileString, hostileValue, PROTOTYPE_KEYS, RawJson, toJsonText } from "../helpers/fuzz-arbitraries";
import { Findings, fuzzParams, send, type FuzzRequest } from "../helpers/fuzz-http";
import { startFuzzServer, type FuzzServer } from "../helpers/fuzz-server";
import { createMarketplace, hire, type Marketplace } from "../helpers/hiring";
import { connectDevice, eventually, type TestDevice } from "../helpers/sockets";
import { createTestEnv, type TestEnv } from "../helpers/test-app";

/**
 * The Socket.IO hub under junk: Engine.IO polling handshakes with junk queries, headers and bodies,
 * junk Engine.IO and Socket.IO packets in a real session, and socket.io-client connections with junk
 * handshakes and junk events (reserved names, prototype keys, binary attachments, floods). Throughout,
 * a bystander's socket stays connected, and at the end it still gets a hire live.
 */

let env: TestEnv;
let server: FuzzServer;
let market: Marketplace;
let bystander: TestDevice;
const errorsBefore = () => server.errors.length;

beforeAll(async () => {
  env = await createTestEnv();
  server = await startFuzzServer();
  market = await createMarketplace(env);
  bystander = await connectDevice(server.baseUrl, { token: market.provider.token });
}, 120_000);

afterAll(async () => {
  bystander?.close();
  await server?.stop();
  await env?.close();
});

const eioQuery = fc
  .record(
    {
      EIO: fc.oneof(fc.constantFrom("4", "3", "5", "0", "-1", "4.0", ""), hostileString),
      transport: fc.oneof(fc.constantFrom("polling", "websocket", "webtransport", "POLLING", ""), hostileString),
      sid: fc.oneof(fc.constantFrom("", "AAAAAAAAAAAAAAAAAAAA", "%", "__proto__"), hostileString),
      t: hostileString,
      j: fc.constantFrom("0", "-1", "x", "__proto__"),
      b64: fc.constantFrom("1", "true", ""),
      [PROTOTYPE_KEYS[1]!]: fc.constantFrom("1"),
    },
    { requiredKeys: [] },
  )
  .map((q) => `?${Object.entries(q).map(([k, v]) => `${encodeURIComponent(k)}=${encodeWtf(v ?? "")}`).join("&")}`);

/** Percent-encoding that survives lone surrogates (as WTF-8 bytes, which are not UTF-8). */
function encodeWtf(s: string): string {
  return s.replace(/[\ud800-\udfff]/g, "\ufffd").replace(/[^A-Za-z0-9._~-]/g, (c) => encodeURIComponent(c));
}

/** Socket.IO packets (inside Engine.IO message packets, type 4), from well-formed to junk. */
const socketIoPacket = fc.oneof(
  fc.constantFrom("0", "0{}", "0[]", "0null", '0{"token":1}', '0{"token":"a.b"}', '0{"lastId":"x"}', "0/admin,", "0/,{}", "1", "2", "2[]", "2{}", '2["__proto__"]', '2["constructor",{"prototype":{}}]', '2["connect"]', '2["disconnect"]', '2["notification",{}]', '21["x"]', "3", '31["x"]', "4", '51-["x",{"_placeholder":true,"num":0}]', '51-["x",{"_placeholder":true,"num":9}]', '5-["x"]', "6", "9", "2/nsp,", '2/nsp,["x"]', `2["${"a".repeat(20_000)}"]`),
  fc.tuple(fc.oneof(hostileString, fc.constantFrom(...PROTOTYPE_KEYS)), fc.array(hostileValue, { maxLength: 3 })).map(([name, args]) => `2${toJsonText([name, ...args])}`),
  hostileString.map((s) => `2${s}`),
);

/** An Engine.IO payload for a POST: packets separated by the record separator, or junk. */
const eioPayload = fc.oneof(
  fc.array(fc.oneof(socketIoPacket.map((p) => `4${p}`), fc.constantFrom("1", "2", "2probe", "3", "5", "6", "7", "b", "bAAAA", "b!!!", "", "8")), { minLength: 1, maxLength: 5 }).map((ps) => ps.join("\x1e")),
  hostileString,
  fc.uint8Array({ maxLength: 500 }).map((a) => Buffer.from(a)),
  fc.constant(`4${"2".repeat(20_000)}`), // past maxHttpBufferSize
);

async function judged(findings: Findings, req: FuzzRequest) {
  const from = errorsBefore();
  const res = await send(server.baseUrl, req).catch((err: Error) => err);
  findings.judge(`${req.method} ${req.path.slice(0, 30)}`, req, res, from);
  await server.assertAlive();
  return res;
}

/** Opens a polling session and answers its sid (after the open packet `0{...}`). */
async function openPollingSession(findings: Findings, extra: Record<string, string> = {}): Promise<string | null> {
  const res = await judged(findings, { method: "GET", path: "/socket.io/?EIO=4&transport=polling", headers: extra });
  if (res instanceof Error || "clientRefused" in res || res.status !== 200) return null;
  return /"sid":"([^"]+)"/.exec(res.text)?.[1] ?? null;
}

/**
 * Connected, or not: refused by the hub (connect_error) or closed first (the client closes its manager
 * a moment before it emits a refusal, and a handshake over the size limit only closes).
 */
function waitForConnectOutcome(socket: Socket): Promise<"connected" | "refused" | "closed"> {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve("connected"));
    socket.once("connect_error", () => resolve("refused"));
    socket.io.once("close", () => resolve("closed"));
  });
}

describe("fuzz: the Socket.IO hub", () => {
  it("answers junk Engine.IO handshakes (query, headers, method, body) without a 500", async () => {
    const { seed, numRuns } = fuzzParams(120);
    console.log(`hub fuzz: seed ${seed}, ${numRuns} runs per property (replay with FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns})`);
    const findings = new Findings(server);
    await fc.assert(
      fc.asyncProperty(
        eioQuery,
        fc.constantFrom("GET", "POST", "OPTIONS", "PUT", "DELETE", "HEAD"),
        fc.record({ cookie: fc.oneof(fc.constant(`aiutami_session=${market.client.token}`), fc.constantFrom("aiutami_session=%E0%A4%A", "io=x", "=;"), hostileString.map((s) => s.replace(/[^\x20-\x7e]/g, ""))), origin: fc.constantFrom(server.baseUrl, "http://evil.test", "null"), "content-type": fc.constantFrom("text/plain;charset=UTF-8", "application/octet-stream", "application/json", "") }, { requiredKeys: [] }),
        fc.option(eioPayload, { nil: undefined }),
        async (query, method, headers, body) => {
          await judged(findings, { method, path: `/socket.io/${query}`, headers, body: method === "HEAD" || method === "GET" ? undefined : body });
        },
      ),
      { seed, numRuns, endOnFailure: true },
    );
    expect(findings.list.length, `${findings.list.length} failing request(s) of ${findings.requests}:\n${findings.report()}`).toBe(0);
  });

  it("answers junk packets in a real polling session (bad CONNECT payloads, reserved events, binary with missing attachments, oversize) without a 500", async () => {
    const { seed, numRuns } = fuzzParams(120);
    const findings = new Findings(server);
    await fc.assert(
      fc.asyncProperty(eioPayload, fc.boolean(), async (payload, authenticated) => {
        const sid = await openPollingSession(findings);
        expect(sid, "a polling handshake opens a session").not.toBeNull();
        const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
        if (authenticated) {
          // A proper CONNECT first, answered at once (connected or refused): then the junk lands on a live socket.
          await judged(findings, { method: "POST", path, headers: { "content-type": "text/plain;charset=UTF-8" }, body: `40${JSON.stringify({ token: market.client.token })}` });
          await judged(findings, { method: "GET", path });
        }
        await judged(findings, { method: "POST", path, headers: { "content-type": "text/plain;charset=UTF-8" }, body: payload });
        await judged(findings, { method: "POST", path, headers: { "content-type": "text/plain;charset=UTF-8" }, body: "1" }); // close (a 400 when the junk already closed it)
      }),
      { seed, numRuns, endOnFailure: true },
    );
    expect(findings.list.length, `${findings.list.length} failing request(s) of ${findings.requests}:\n${findings.report()}`).toBe(0);
  });

  it("refuses junk handshakes of socket.io-client and survives junk events on connected sockets", async () => {
    const { seed, numRuns } = fuzzParams(60);
    const failures: string[] = [];
    const seen = { connected: 0, refused: 0, closed: 0, events: 0 };
    const asString = (v: unknown) => (v instanceof RawJson ? v.text : v);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          token: fc.oneof({ arbitrary: fc.constant(market.client.token), weight: 3 }, { arbitrary: hostileValue.map(asString), weight: 1 }, { arbitrary: fc.constant(`${market.client.token}x`), weight: 1 }),
          lastId: fc.option(fc.oneof(hostileValue.map(asString), fc.uuid()), { nil: undefined }),
        }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("emit" as const), name: fc.oneof(hostileString, fc.constantFrom(...PROTOTYPE_KEYS, "notification", "notifications:read", "connect", "disconnect", "error", "newListener")), args: fc.array(fc.oneof(hostileValue.map(asString), fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))), { maxLength: 3 }), ack: fc.boolean() }),
            fc.record({ kind: fc.constant("raw" as const), packet: socketIoPacket }),
          ),
          { maxLength: 12 },
        ),
        async (auth, events) => {
          const socket = io(server.baseUrl, { path: "/socket.io", transports: ["websocket"], auth: auth as Record<string, unknown>, reconnection: false, forceNew: true });
          try {
            const outcome = await waitForConnectOutcome(socket);
            seen[outcome]++;
            if (outcome === "connected" && auth.token !== market.client.token) failures.push(`connected with a wrong token ${JSON.stringify(auth).slice(0, 200)}`);
            if (outcome === "connected") {
              for (const e of events) {
                if (!socket.connected) break;
                seen.events++;
                try {
                  if (e.kind === "raw") (socket.io.engine as unknown as { write(m: string): void }).write(e.packet);
                  else if (e.ack) socket.emit(e.name, ...e.args, () => {});
                  else socket.emit(e.name, ...e.args);
                } catch {
                  // socket.io-client refuses reserved names itself: not the server's concern
                }
              }
            }
          } finally {
            socket.disconnect();
          }
          await server.assertAlive();
          if (!bystander.socket.connected) failures.push(`the bystander was disconnected after ${JSON.stringify(events).slice(0, 300)}`);
        },
      ),
      { seed, numRuns, endOnFailure: true },
    );
    expect(failures).toEqual([]);
    // Not vacuous: junk reached connected sockets, and junk handshakes were refused.
    expect(seen.connected, JSON.stringify(seen)).toBeGreaterThan(numRuns / 4);
    expect(seen.events, JSON.stringify(seen)).toBeGreaterThan(numRuns);
    expect(seen.refused + seen.closed, JSON.stringify(seen)).toBeGreaterThan(0);
    console.log(`hub fuzz, socket.io-client: ${JSON.stringify(seen)}`);
  });

  it("still delivers a hire live to the bystander, and logged no error or fatal line for any of it", async () => {
    const from = bystander.received.length;
    await hire(env, market);
    await eventually(() => bystander.received.length > from, "the bystander receives the new hire");
    expect(bystander.received.at(-1)?.type).toBe("hire.requested");
    expect(server.errors.map((e) => `${e.msg}: ${e.err?.message ?? ""}`)).toEqual([]);
  });
});
