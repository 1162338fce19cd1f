import http from "node:http";
import type { Express } from "express";

/**
 * The HTTP server for an Express app, built so that Express never has to
 * change a request's or response's prototype.
 *
 * Express 5 turns Node's req/res into its own with `Object.setPrototypeOf`
 * on every request (application.js, `app.handle`). V8 then drops its
 * optimised shapes for those objects, and Node's own HTTP code runs slowly on
 * them for the rest of the request. Measured on this project's machine: an
 * Express app with one route cost ~0.25 ms of CPU per request this way, and
 * ~0.07 ms when the server makes req/res with Express's prototypes from the
 * start (expressjs/express#5998 describes the same fix).
 *
 * How: req/res are instances of subclasses whose prototypes are the app's
 * `app.request`/`app.response` (re-parented onto Express's), so the
 * `setPrototypeOf` in `app.handle` sets the prototype an object already has,
 * which V8 skips. Behaviour is unchanged: the same prototype chain, only
 * built once instead of per request. The app must not be mounted inside
 * another Express app (it is not; a sub-app would swap prototypes again).
 */
export function createHttpServer(app: Express): http.Server {
  class ExpressRequest extends http.IncomingMessage {}
  class ExpressResponse<Request extends http.IncomingMessage = http.IncomingMessage> extends http.ServerResponse<Request> {}
  Object.setPrototypeOf(ExpressRequest.prototype, app.request);
  Object.setPrototypeOf(ExpressResponse.prototype, app.response);
  app.request = ExpressRequest.prototype as unknown as Express["request"];
  app.response = ExpressResponse.prototype as unknown as Express["response"];
  return http.createServer({ IncomingMessage: ExpressRequest, ServerResponse: ExpressResponse }, app);
}
