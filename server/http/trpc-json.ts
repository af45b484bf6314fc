import type { IncomingMessage, ServerResponse } from "node:http";
import type { AnyTRPCRouter } from "@trpc/server";
import {
  getErrorShape,
  getHTTPStatusCode,
  getProcedureAtPath,
  getTRPCErrorFromUnknown,
  transformTRPCResponse,
  TRPCError,
} from "@trpc/server/unstable-core-do-not-import";

type Procedure = NonNullable<Awaited<ReturnType<typeof getProcedureAtPath>>>;
type OnError = (opts: { error: TRPCError; path: string; input: unknown; ctx: unknown; type: "query" | "mutation"; req: IncomingMessage }) => void;

const METHOD_OF = { query: "GET", mutation: "POST" } as const;

/** The request's media type, as tRPC's `hasContentType` reads it. */
const mediaTypeOf = (req: IncomingMessage) => req.headers["content-type"]?.toLowerCase().split(";", 1)[0]?.trim();

/** True when the caller asks for tRPC's streamed (jsonl) responses, which only the full adapter writes. */
function wantsStream(req: IncomingMessage): boolean {
  if (req.headers["trpc-accept"] !== undefined) return true;
  const accept = req.headers.accept;
  return typeof accept === "string" && accept.split(",").some((t) => t.trim() === "application/jsonl");
}

/**
 * tRPC's plain JSON calls (one call, or a batch) answered without turning the Node request into a
 * Fetch `Request` and back: the procedures run exactly as under tRPC's adapter, through tRPC's own
 * procedure callers, error shapes and status rules, and the answer is written in one `res.end` with
 * a Content-Length. Everything else (streamed responses, subscriptions, uploads, unknown paths, a
 * method that does not fit the procedure, a body without a length or over the limit) returns false
 * and is left to the full adapter, which reads nothing before that. `tests/integration/trpc-json.test.ts`
 * sends the same requests down both paths and compares the answers.
 *
 * The helpers come from `@trpc/server/unstable-core-do-not-import`, tRPC's internals: the version is
 * pinned to patch releases (`~11.25`), and the conformance test fails if an update changes an answer.
 *
 * Procedures get an abort signal, as under the adapter: it aborts when the client goes away before the
 * answer is written, and a call of the request that has not started by then is not started at all.
 */
type HandlerOptions<TContext> = {
  router: AnyTRPCRouter;
  basePath: string;
  maxBodySize: number;
  /** The most calls a batch may carry; a larger one is refused (400, naming the cap) before any call runs. */
  maxBatchSize: number;
  requestIdOf: (req: IncomingMessage) => string;
  createContext: (req: IncomingMessage, res: ServerResponse) => Promise<TContext>;
  onError?: OnError;
};

/** A request this path answers: its calls' paths and procedures, and where their input comes from. */
type Calls = {
  paths: string[];
  procedures: Procedure[];
  type: "query" | "mutation";
  isBatch: boolean;
  search: URLSearchParams | null;
  /** The POST body's Content-Length (0 for a GET). */
  length: number;
};

export function createJsonCallHandler<TContext>(opts: HandlerOptions<TContext>) {
  const config = opts.router._def._config;
  const deserialize = (value: unknown) => config.transformer.input.deserialize(value);

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const calls = await matchCalls(req, opts);
    if (calls && "tooMany" in calls) {
      refuseBatch(req, res, calls.tooMany);
      return true;
    }
    if (!calls) return false;

    // From here on the request is ours. The context is made first, as tRPC makes it, and the body
    // is parsed when the first procedure asks for its input (so bad JSON fails that call, as there).
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) gone.abort(new TRPCError({ code: "CLIENT_CLOSED_REQUEST", message: "The client went away before the answer." }));
    };
    res.once("close", onClose);
    const bodyText = req.method === "POST" ? readBody(req, calls.length) : Promise.resolve(calls.search?.get("input") ?? "");
    bodyText.catch(() => {}); // a procedure without input never reads it; a lost body fails the calls that do
    let ctx: TContext | undefined;
    let ctxError: TRPCError | undefined;
    try {
      ctx = await opts.createContext(req, res);
    } catch (cause) {
      ctxError = getTRPCErrorFromUnknown(cause);
    }
    const inputs = inputReader(bodyText, calls, deserialize);
    const { paths, type } = calls;
    const results = await Promise.all(
      calls.procedures.map(async (procedure, index): Promise<[TRPCError, undefined] | [undefined, unknown]> => {
        const path = paths[index]!;
        try {
          if (ctxError) throw ctxError;
          gone.signal.throwIfAborted();
          const data = await procedure({ path, getRawInput: async () => (await inputs.read())[index], ctx, type, signal: gone.signal, batchIndex: index });
          return [undefined, data];
        } catch (cause) {
          const error = getTRPCErrorFromUnknown(cause);
          opts.onError?.({ error, path, input: inputs.parsed?.[index], ctx, type, req });
          return [error, undefined];
        }
      }),
    );
    res.off("close", onClose);
    const json = results.map(([error, data], index) =>
      error ? { error: getErrorShape({ config, ctx, error, input: inputs.parsed?.[index], path: paths[index]!, type }) } : { result: { data } },
    );
    if (res.destroyed) return true;
    writeJson(res, getHTTPStatusCode(json, results.map(([error]) => error)), transformTRPCResponse(config, calls.isBatch ? json : json[0]!));
    return true;
  };

  function refuseBatch(req: IncomingMessage, res: ServerResponse, count: number) {
    const error = new TRPCError({
      code: "BAD_REQUEST",
      message: `A batch may carry at most ${opts.maxBatchSize} calls (TRPC_MAX_BATCH); this one has ${count}. Send the calls in smaller batches.`,
    });
    const shape = getErrorShape({ config, ctx: undefined, error, input: undefined, path: undefined, type: "unknown" });
    // No context was made (it would read the session): the request id comes from the request itself.
    shape.data = { ...shape.data, requestId: opts.requestIdOf(req), maxBatchSize: opts.maxBatchSize };
    writeJson(res, 400, transformTRPCResponse(config, { error: shape }));
  }
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("vary", "trpc-accept, accept");
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}

/**
 * The calls of a plain JSON request this path answers, `{ tooMany }` (the calls it names) for a batch over
 * the cap, or false for anything left to the full adapter (which then reads the request from the start).
 */
async function matchCalls(req: IncomingMessage, opts: HandlerOptions<unknown>): Promise<Calls | { tooMany: number } | false> {
  const method = req.method;
  if (method !== "POST" && method !== "GET") return false;
  const url = req.url ?? "";
  if (!url.startsWith(opts.basePath) || url.includes("#")) return false;
  // The adapter answers a Host it cannot make a URL of with its own error.
  const host = req.headers.host;
  if (host !== undefined && !URL.canParse(`http://${host}`)) return false;
  const q = url.indexOf("?");
  const pathPart = url.slice(opts.basePath.length, q === -1 ? undefined : q);
  const search = q === -1 ? null : new URLSearchParams(url.slice(q + 1));
  const isBatch = search?.get("batch") === "1";
  // Before anything else (streamed or not, known paths or not). An encoded comma counts too: the adapter,
  // which decodes the path, would split it.
  if (isBatch) {
    const count = pathPart.split(/,|%2c/i).length;
    if (count > opts.maxBatchSize) return { tooMany: count };
  }
  if (pathPart === "" || pathPart.includes("%")) return false;
  if (search?.has("connectionParams")) return false;
  if (wantsStream(req)) return false;

  let length = 0;
  const mediaType = mediaTypeOf(req);
  if (method === "POST") {
    if (mediaType !== "application/json") return false;
    length = Number(req.headers["content-length"]);
    if (!Number.isInteger(length) || length < 0 || length > opts.maxBodySize) return false;
  } else if (mediaType !== undefined && mediaType !== "application/json") {
    return false; // a GET declaring a form or a byte stream: the adapter refuses it
  }
  const paths = isBatch ? pathPart.split(",") : [pathPart];
  const procedures: Procedure[] = [];
  for (const path of paths) {
    const procedure = await getProcedureAtPath(opts.router, path);
    if (!procedure || METHOD_OF[procedure._def.type as "query" | "mutation"] !== method) return false;
    procedures.push(procedure);
  }
  return { paths, procedures, type: procedures[0]!._def.type as "query" | "mutation", isBatch, search, length };
}

/** Parses the calls' inputs once, when the first procedure asks; `parsed` holds them after (for error shapes). */
function inputReader(bodyText: Promise<string>, calls: Calls, deserialize: (value: unknown) => unknown) {
  const reader: { read: () => Promise<Record<number, unknown>>; parsed?: Record<number, unknown> } = {
    read: () => (pending ??= parse()),
  };
  let pending: Promise<Record<number, unknown>> | undefined;
  const parse = () =>
    bodyText
      .then((text) => {
        const raw: unknown = text ? JSON.parse(text) : undefined;
        const result: Record<number, unknown> = {};
        if (raw !== undefined && !calls.isBatch) result[0] = deserialize(raw);
        else if (raw !== undefined) {
          if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
            throw new TRPCError({ code: "BAD_REQUEST", message: '"input" needs to be an object when doing a batch call' });
          }
          for (const index of calls.paths.keys()) {
            const value = (raw as Record<number, unknown>)[index];
            if (value !== undefined) result[index] = deserialize(value);
          }
        }
        return (reader.parsed = result);
      })
      .catch((cause: unknown) => {
        // As tRPC's own reader: anything but a TRPCError (bad JSON) is the caller's BAD_REQUEST.
        if (cause instanceof TRPCError) throw cause;
        throw new TRPCError({ code: "BAD_REQUEST", message: cause instanceof Error ? cause.message : "Invalid input", cause });
      });
  return reader;
}

/**
 * The whole body of a request whose Content-Length is known and within the limit, decoded as the Fetch
 * API's `text()` decodes it (UTF-8, a leading byte-order mark dropped).
 */
function readBody(req: IncomingMessage, length: number): Promise<string> {
  if (length === 0) return Promise.resolve("");
  const closed = () => new TRPCError({ code: "CLIENT_CLOSED_REQUEST", message: "The request was closed before its body arrived." });
  if (req.readableEnded || req.destroyed) return Promise.reject(closed());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => {
      const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    });
    req.once("error", reject);
    req.once("close", () => reject(closed())); // after "end" this settles nothing
  });
}
