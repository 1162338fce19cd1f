import net from "node:net";

/**
 * A TCP proxy in front of PostgreSQL, for network faults without root or
 * iptables: the service's pool connects here, and the test decides what the
 * wire does.
 * - `blackhole()`: nothing moves in either direction and nothing is closed,
 *   new connections included (they are accepted and then hear nothing), as
 *   when packets are dropped. Bytes sent meanwhile wait in the kernel's
 *   buffers and are delivered on `heal()`, as TCP's retransmission would.
 * - `latency(ms)`: every chunk, both ways, is delayed by `ms`.
 * - `resetAll()`: every open connection is reset (RST), mid-transaction or not.
 * - `stallRepliesAfter(pattern)`: once a client sends bytes matching
 *   `pattern` (e.g. a function's name in a query), the server's answers on
 *   that connection are held until `heal()`: the call runs and commits, and
 *   its client hears nothing.
 */
export type TcpProxy = {
  port: number;
  blackhole(): void;
  heal(): void;
  latency(ms: number): void;
  resetAll(): void;
  stallRepliesAfter(pattern: string): void;
  /** Connections open now. */
  open(): number;
  close(): Promise<void>;
};

type Pair = { client: net.Socket; server: net.Socket; stalled: boolean };

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let holed = false;
  let delayMs = 0;
  let stallPattern: string | undefined;

  const forward = (from: net.Socket, to: net.Socket, pair: Pair, fromClient: boolean) => {
    from.on("data", (chunk: Buffer) => {
      if (fromClient && stallPattern !== undefined && chunk.includes(stallPattern)) pair.stalled = true;
      if (!fromClient && pair.stalled) {
        // The server's answers on a stalled connection wait, unread, until heal().
        from.pause();
        from.unshift(chunk);
        return;
      }
      const write = () => {
        if (!to.destroyed) to.write(chunk);
      };
      if (delayMs > 0) setTimeout(write, delayMs);
      else write();
    });
    from.on("end", () => (delayMs > 0 ? setTimeout(() => to.end(), delayMs) : to.end()));
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    const pair: Pair = { client, server: upstream, stalled: false };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    forward(client, upstream, pair, true);
    forward(upstream, client, pair, false);
    if (holed) {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    blackhole() {
      holed = true;
      for (const p of pairs) {
        p.client.pause();
        p.server.pause();
      }
    },
    heal() {
      holed = false;
      stallPattern = undefined;
      for (const p of pairs) {
        p.stalled = false;
        p.client.resume();
        p.server.resume();
      }
    },
    latency(ms) {
      delayMs = ms;
    },
    resetAll() {
      for (const p of [...pairs]) {
        p.client.resetAndDestroy();
        p.server.resetAndDestroy();
        pairs.delete(p);
      }
    },
    stallRepliesAfter(pattern) {
      stallPattern = pattern;
    },
    open: () => pairs.size,
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.server.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
