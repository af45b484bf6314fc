import { connect, createServer, type Server, type Socket } from "node:net";

type Target = { host: string; port: number };
type Pair = { client: Socket; upstream: Socket | null };

/**
 * A TCP proxy for fault tests, in front of one server or balancing several (round robin, skipping a
 * target that refuses the connection, as a load balancer with health checks would).
 * - `cut()` drops every open connection and lets new ones through: a network blip, a balancer restart.
 * - `stall()` stops forwarding without closing anything, and holds new connections unanswered: a server
 *   or network that hangs, so only timeouts and deadlines end the wait. `resume()` forwards again,
 *   including what was held.
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private next = 0;
  private stalled = false;
  port = 0;

  constructor(public targets: Target[]) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      const pair: Pair = { client, upstream: null };
      this.pairs.add(pair);
      client.on("error", () => {});
      client.on("close", () => {
        pair.upstream?.destroy();
        this.pairs.delete(pair);
      });
      client.pause();
      if (!this.stalled) this.link(pair, this.targets.length);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connects `pair` to the next target; one that refuses is skipped, up to `tries` targets. */
  private link(pair: Pair, tries: number): void {
    if (pair.client.destroyed) return;
    if (tries === 0) return void pair.client.destroy();
    const target = this.targets[this.next++ % this.targets.length]!;
    const upstream = connect(target.port, target.host);
    let connected = false;
    upstream.on("error", () => {
      if (!connected) this.link(pair, tries - 1);
    });
    upstream.once("connect", () => {
      connected = true;
      pair.upstream = upstream;
      upstream.on("close", () => pair.client.destroy());
      if (!this.stalled) this.flow(pair);
    });
  }

  private flow({ client, upstream }: Pair): void {
    if (!upstream) return;
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  cut(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
  }

  stall(): void {
    this.stalled = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  resume(): void {
    this.stalled = false;
    for (const pair of this.pairs) {
      if (pair.upstream) this.flow(pair);
      else this.link(pair, this.targets.length);
    }
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
