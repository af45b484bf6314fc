import { Agent, request } from "node:http";
import { connect } from "node:net";
import type { FuzzServer } from "./fuzz-server";

/**
 * The fuzz's requests, sent over real HTTP, and what counts as a failure: a 5xx other than a
 * deliberate 503, an error shape saying INTERNAL_SERVER_ERROR (inside a 200 stream or a 207 batch
 * too), no answer at all, or the process gone. Each failure keeps the request as sent, so it can be
 * replayed by hand, and the server's own log lines for it.
 */

/** The seed and count of every property: fixed in CI, bigger and random with `npm run fuzz`. */
export function fuzzParams(defaultRuns: number): { seed: number; numRuns: number } {
  const given = process.env.FUZZ_SEED;
  const seed = given === undefined || given === "" ? 14 : given === "random" ? (Date.now() ^ (Math.random() * 2 ** 31)) | 0 : Number(given);
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer or "random", not ${given}`);
  const numRuns = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : defaultRuns;
  if (!Number.isInteger(numRuns) || numRuns < 1) throw new Error(`FUZZ_RUNS must be a positive integer, not ${process.env.FUZZ_RUNS}`);
  return { seed, numRuns };
}

export type FuzzRequest = {
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
};

export type FuzzResponse = { status: number; headers: Record<string, string | string[] | undefined>; text: string };

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

let addressCounter = 0;
/** A client address of its own for one request (the server trusts one proxy hop: the last one). */
export function freshAddress(): string {
  addressCounter++;
  return `198.51.${(addressCounter >> 8) & 255}.${addressCounter & 255}-${process.pid}-${addressCounter}`;
}

function withAddress(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const given = headers["x-forwarded-for"];
  const hops = given === undefined ? [] : Array.isArray(given) ? given : [given];
  return { ...headers, "x-forwarded-for": [...hops, freshAddress()].join(", ") };
}

/** The request as bytes on the wire, for sending it again over a raw connection. */
function toRawBytes(req: FuzzRequest, headers: Record<string, string | string[]>): Buffer {
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body);
  const lines = [`${req.method} ${req.path} HTTP/1.1`];
  for (const [k, v] of Object.entries(headers)) for (const item of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${item}`);
  if (headers.host === undefined) lines.push("host: 127.0.0.1");
  if (req.body !== undefined && headers["transfer-encoding"] === undefined) lines.push(`content-length: ${body.length}`);
  lines.push("connection: close");
  const framed = headers["transfer-encoding"] === undefined ? body : Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]);
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), framed]);
}

/**
 * Sends one request and reads the whole answer. A request the client library refuses to send is not
 * the server's failure. When the connection breaks before an answer (Node's own parser refuses a
 * request, say, and closes while the body is still being written), the same bytes go again on a raw
 * connection, to read what the server answered; an error says it answered nothing at all.
 */
export async function send(baseUrl: string, req: FuzzRequest): Promise<FuzzResponse | { clientRefused: string }> {
  const headers = withAddress(req.headers ?? {});
  const first = await new Promise<FuzzResponse | { clientRefused: string } | Error>((resolve) => {
    let r: ReturnType<typeof request>;
    try {
      r = request(`${baseUrl}${req.path}`, { method: req.method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") });
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", done);
        res.on("error", done); // the head arrived: that is the answer
      });
    } catch (err) {
      return resolve({ clientRefused: (err as Error).message });
    }
    r.on("error", (err) => resolve(err));
    r.end(req.body);
  });
  if (!(first instanceof Error)) return first;
  const raw = await sendRaw(baseUrl, toRawBytes(req, headers));
  if (raw.statusLine === null) throw Object.assign(new Error(`no answer (${(first as NodeJS.ErrnoException).code ?? first.message}, then closed without a status line)`), { code: (first as NodeJS.ErrnoException).code });
  return parseRawResponse(raw.text);
}

/** The final answer in raw response bytes: interim 1xx answers skipped, a chunked body joined. */
function parseRawResponse(text: string): FuzzResponse {
  let rest = text;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    const head = end === -1 ? rest : rest.slice(0, end);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    rest = end === -1 ? "" : rest.slice(end + 4);
    if (status >= 100 && status < 200 && rest.startsWith("HTTP/")) continue;
    const headers = Object.fromEntries(head.split("\r\n").slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
    let body = rest;
    if (/chunked/i.test(String(headers["transfer-encoding"] ?? ""))) {
      body = "";
      for (let at = 0; at < rest.length; ) {
        const lineEnd = rest.indexOf("\r\n", at);
        const size = parseInt(rest.slice(at, lineEnd), 16);
        if (!(size > 0)) break;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        at = lineEnd + 2 + size + 2;
      }
    }
    return { status, headers, text: Buffer.from(body, "latin1").toString("utf8") };
  }
}

/** Raw bytes on a fresh connection, for what an HTTP client will not send; answers the status line or null when closed without one. */
export function sendRaw(baseUrl: string, bytes: Buffer): Promise<{ statusLine: string | null; text: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      // One answer is enough: keep-alive would otherwise hold the connection open.
      const text = Buffer.concat(chunks).toString("latin1");
      const head = text.indexOf("\r\n\r\n");
      if (head !== -1) {
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, head))?.[1];
        if (length !== undefined && text.length - head - 4 >= Number(length)) socket.end();
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" || err.code === "EPIPE" ? socket.destroy() : reject(err)));
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      resolve({ statusLine: /^HTTP\/1\.[01] \d{3}[^\r\n]*/.exec(text)?.[0] ?? null, text });
    });
    socket.setTimeout(20_000, () => socket.end()); // a request the server still waits on (an incomplete body): half-close it
    socket.end(bytes);
  });
}

export type Finding = { what: string; request: string; status: number | string; answer: string; reqId?: string; logFrom?: number; serverLog?: string[] };

function headSize(req: FuzzRequest): number {
  return req.path.length + Object.entries(req.headers ?? {}).reduce((n, [k, v]) => n + k.length + String(v).length + 4, 0);
}

/** Printable, and enough to send the request again by hand. */
export function describeRequest(req: FuzzRequest): string {
  const body = req.body === undefined ? undefined : typeof req.body === "string" ? req.body : `base64:${req.body.toString("base64")}`;
  const shown = body !== undefined && body.length > 600 ? `${body.slice(0, 600)}… (${body.length} chars)` : body;
  const path = req.path.length > 600 ? `${req.path.slice(0, 600)}… (${req.path.length} chars)` : req.path;
  const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k, String(v).length > 200 ? `${String(v).slice(0, 200)}… (${String(v).length} chars)` : v]));
  return JSON.stringify({ method: req.method, path, headers, body: shown });
}

/** Collects failures across a run, one per distinct kind, and reports them all at the end. */
export class Findings {
  readonly list: Finding[] = [];
  private readonly seen = new Set<string>();
  /** Every answered request by its request id, to match the server's log lines with. */
  private readonly sent = new Map<string, { key: string; req: FuzzRequest; res: FuzzResponse }>();
  requests = 0;

  constructor(private readonly server: FuzzServer) {}

  add(key: string, finding: Finding) {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(finding);
  }

  /**
   * Judges one answer: a failure when it is a 5xx other than 503, or carries an INTERNAL_SERVER_ERROR
   * anywhere in its body (a batch's 207, a jsonl stream's 200). `key` groups findings of one cause.
   */
  judge(key: string, req: FuzzRequest, res: FuzzResponse | { clientRefused: string } | Error, logFrom: number): boolean {
    this.requests++;
    if ("clientRefused" in res) return true;
    if (!(res instanceof Error) && typeof res.headers["x-request-id"] === "string") this.sent.set(res.headers["x-request-id"], { key, req, res });
    if (res instanceof Error) {
      // Node refuses a request head over its 16 KiB limit by closing the connection, which can reset
      // before its 431 is read: not an answer of ours, and the process check after it still runs.
      if (headSize(req) > 16 * 1024) return true;
      this.add(`${key}:no-answer`, { what: "no answer", request: describeRequest(req), status: (res as NodeJS.ErrnoException).code ?? res.message, answer: res.message, logFrom });
      return false;
    }
    const internal = String(res.headers["content-type"] ?? "").includes("json") && res.text.includes("INTERNAL_SERVER_ERROR");
    if ((res.status >= 500 && res.status !== 503) || internal) {
      const reqId = typeof res.headers["x-request-id"] === "string" ? res.headers["x-request-id"] : undefined;
      this.add(`${key}:${res.status}`, { what: internal ? "internal error" : `status ${res.status}`, request: describeRequest(req), status: res.status, answer: res.text.slice(0, 400), reqId, logFrom });
      return false;
    }
    return true;
  }

  /**
   * Calls the database refused although the input schema accepted them (answered 400 or 503 by the
   * call boundary, logged as "call refused by the database"): each is a bound missing from a schema.
   * Log lines arrive a moment after the answers, so this first waits for the line of a marker call
   * sent after all of them.
   */
  async collectDatabaseRefusals(marker: { token: string }): Promise<void> {
    // A call sent last, whose log line comes after every line about the calls before it.
    const reqId = `fuzz-marker-${crypto.randomUUID()}`;
    const logged = this.server.waitForLogOf(reqId);
    await send(this.server.baseUrl, { method: "GET", path: "/trpc/auth.me", headers: { authorization: `Bearer ${marker.token}`, "x-request-id": reqId } });
    await logged;
    for (const e of this.server.errors) {
      if (e.msg !== "call refused by the database" || !e.reqId) continue;
      const sent = this.sent.get(e.reqId);
      if (!sent) continue;
      // pino appends the causes' messages: the last one is PostgreSQL's own, which names the class of value.
      const cause = (e.err?.message ?? "").split(": ").at(-1)!;
      this.add(`${sent.key}:db-refused:${cause}`, {
        what: `refused by the database, not by the input schema (answered ${sent.res.status})`,
        request: describeRequest(sent.req),
        status: sent.res.status,
        answer: sent.res.text.slice(0, 300),
        reqId: e.reqId,
      });
    }
  }

  /** The server's error lines about a finding: those with its request id, else the few logged right after it was sent. */
  private serverLogOf(f: Finding): string[] {
    if (f.serverLog) return f.serverLog;
    const errors = this.server.errors;
    const mine = f.reqId ? errors.filter((e) => e.reqId === f.reqId) : [];
    const lines = mine.length ? mine : f.logFrom === undefined ? [] : errors.slice(f.logFrom, f.logFrom + 3);
    // A failed query's message holds its SQL and parameters: the type and the causes' messages say enough.
    const short = (m = "") => (m.startsWith("Failed query:") ? `(the query) … ${m.split(": ").at(-1)}` : m.slice(0, 300));
    return lines.map((e) => `${e.msg}: ${e.err?.type ?? ""} ${e.err?.code ?? ""} ${short(e.err?.message)}`.trim());
  }

  report(): string {
    const shown = 25;
    const more = this.list.length > shown ? `\n… and ${this.list.length - shown} more` : "";
    return this.list
      .slice(0, shown)
      .map((f, i) => `#${i + 1} ${f.what} (${f.status})\n  request: ${f.request}\n  answer: ${f.answer}\n  server log: ${this.serverLogOf(f).join(" | ") || "(nothing)"}`)
      .join("\n") + more;
  }
}
