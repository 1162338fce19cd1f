import type { Logger } from "pino";
import type { Caller } from "../auth/caller.js";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by the authenticate middleware. */
      caller?: Caller;
      /** The exact bytes of a JSON body, for webhook signature checks. */
      rawBody?: Buffer;
      /** Set by observeRequests: the request id, and a logger bound to it. */
      id?: string;
      log?: Logger;
    }
  }
}
