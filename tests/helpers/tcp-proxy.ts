import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy to a real server that a test can cut: `block()` drops every open connection and
 * refuses new ones (as a network partition would), `unblock()` lets traffic through again.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private blocked = false;
  port = 0;

  constructor(public target: { host: string; port: number }) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (this.blocked) return client.destroy();
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A Redis URL through this proxy to the same logical database as `target` (each test run has its own). */
  redisUrlLike(target: string): string {
    return `redis://127.0.0.1:${this.port}${new URL(target).pathname}`;
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  block(): void {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
  }

  unblock(): void {
    this.blocked = false;
  }

  async stop(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
