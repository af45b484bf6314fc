import { connect, createServer, type Server, type Socket } from "node:net";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileDatabaseUrl } from "../helpers/file-database";
import { eventually } from "../helpers/sockets";

/**
 * A connection lost while postgres.js runs its start-up catalog query (array types) must not end the
 * process: upstream drops that query's promise (porsager/postgres #1192, #1205), and our patch in
 * patches/ catches it. A proxy in front of the real PostgreSQL cuts the first connection as soon as that
 * query goes out and refuses connections for 300 ms, as a database restart at that moment would.
 */
let proxy: Server;
let port = 0;
const sockets = new Set<Socket>();
let cut = 0;
beforeAll(async () => {
  const target = new URL(fileDatabaseUrl());
  proxy = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.on("data", (chunk: Buffer) => {
      if (cut === 0 && chunk.includes("typarray")) {
        cut++;
        // Down for a moment: nothing listens, so reconnecting is refused, then the database is back.
        proxy.close();
        setTimeout(() => proxy.listen(port, "127.0.0.1"), 300);
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  port = (proxy.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
});

describe("fault: the database connection lost during postgres.js's start-up catalog query", () => {
  it("fails or retries the waiting query, with no unhandled rejection, and the next query works", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    const target = new URL(fileDatabaseUrl());
    target.host = `127.0.0.1:${port}`;
    const sql = postgres(target.toString(), { max: 1, onnotice: () => {} });
    try {
      const first = await sql`select 1 as one`.then(
        (rows) => ({ ok: true as const, rows }),
        (err: Error & { code?: string }) => ({ ok: false as const, code: err.code }),
      );
      expect(cut).toBe(1);
      // Either outcome is a caller's to handle; what must not happen is an error nobody can catch.
      if (!first.ok) expect(first.code).toMatch(/CONNECTION|ECONNRESET|ECONNREFUSED|57P01/);
      await eventually(() => proxy.listening, "the database back (after 300 ms)");
      expect(await sql`select 2 as two`).toEqual([{ two: 2 }]);
      // The cut is long past (the pool reconnected since): a rejection nobody caught would have been reported.
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", record);
      await sql.end({ timeout: 1 });
    }
  });
});
