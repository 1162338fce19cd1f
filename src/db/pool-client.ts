import pg from "pg";

type AnyQuery = (...args: unknown[]) => unknown;

const isReadTimeout = (err: unknown) => err instanceof Error && err.message === "Query read timeout";

/**
 * The pool's connection class: a pg Client that closes its connection when a
 * call's answer does not come within query_timeout.
 *
 * pg gives up on such a call but keeps the connection, still busy with it:
 * the next statement on it (a transaction's ROLLBACK, or the next request's
 * call once TypeORM's query runner has handed it back to the pool, which it
 * does without an error) queues behind the lost call and waits out
 * query_timeout again. Closing the connection makes pg-pool drop it (the
 * client emits `error`/`end`), so the pool never hands out a connection
 * known not to answer. The server side is left to its own statement_timeout
 * (shorter than query_timeout) or to noticing the closed socket.
 */
export class DropOnReadTimeoutClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const query = this.query.bind(this) as AnyQuery;
    const drop = (err: unknown) => {
      if (isReadTimeout(err)) (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    };
    (this as unknown as { query: AnyQuery }).query = (...args: unknown[]) => {
      const last = args.at(-1);
      if (typeof last === "function") {
        args[args.length - 1] = (err: unknown, res: unknown) => {
          drop(err);
          (last as AnyQuery)(err, res);
        };
        return query(...args);
      }
      const result = query(...args);
      if (result instanceof Promise) {
        return result.catch((err: unknown) => {
          drop(err);
          throw err;
        });
      }
      return result;
    };
  }
}
