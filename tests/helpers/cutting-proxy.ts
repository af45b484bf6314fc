import { connect, createServer, type Server, type Socket } from "node:net";

type Cut = {
  afterRequest?: string;
  replyHas?: string;
  replyEnd?: string;
  done(): void;
};

/**
 * A TCP proxy that loses one answer after the server has given it, as a network cut at the worst moment
 * would. `cutReply()` arms it once: on the next connection that qualifies, the server's bytes are dropped
 * from the point the cut starts, and both sides are closed. Everything else passes through untouched.
 * - `afterRequest`: only a connection whose client sent this (since arming) qualifies; its next reply is cut.
 * - `replyHas`: the cut starts at the server chunk holding this text (default: the first chunk).
 * - `replyEnd`: the sockets close only once the dropped bytes hold this too (default: at once), e.g.
 *   PostgreSQL's ReadyForQuery, which it sends only after the transaction has committed.
 * `requests` keeps what clients sent, as latin1 text, when `record` is set.
 */
export class CuttingProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private armed: Cut | undefined;
  readonly requests: string[] = [];
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly opts: { record?: boolean } = {},
  ) {}

  async start(): Promise<this> {
    this.server = createServer((client) => this.relay(client));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Arms one cut; the promise settles when it has happened. */
  cutReply(opts: Omit<Cut, "done"> = {}): Promise<void> {
    return new Promise((resolve) => {
      this.armed = { ...opts, done: resolve };
    });
  }

  private relay(client: Socket) {
    const upstream = connect(this.target.port, this.target.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
      s.on("error", () => {});
    }
    let requested = false; // this connection sent `afterRequest` since the cut was armed
    let cutting: { cut: Cut; dropped: string } | undefined;
    let tail = ""; // the end of the previous server chunk, for a marker split across two
    client.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1");
      if (this.opts.record) this.requests.push(text);
      if (this.armed?.afterRequest && text.includes(this.armed.afterRequest)) requested = true;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1");
      const cut = this.armed;
      const seen = tail + text;
      tail = text.slice(-256);
      if (!cutting && cut && (!cut.afterRequest || requested) && (!cut.replyHas || seen.includes(cut.replyHas))) {
        this.armed = undefined;
        // What follows the marker: the reply's end is looked for there only.
        cutting = { cut, dropped: cut.replyHas ? seen.slice(seen.indexOf(cut.replyHas)) : text };
      } else if (cutting) {
        cutting.dropped += text;
      } else {
        client.write(chunk);
        return;
      }
      if (!cutting.cut.replyEnd || cutting.dropped.includes(cutting.cut.replyEnd)) {
        client.destroy();
        upstream.destroy();
        cutting.cut.done();
      }
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
