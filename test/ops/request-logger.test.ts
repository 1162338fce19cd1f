import { Writable } from "node:stream";
import express from "express";
import { pino } from "pino";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { observeRequests } from "../../src/http/observability.js";

/**
 * req.log is bound to each request's own id, and it is a getter on the
 * app's request prototype, not a property added to every request object
 * (that gave each request a shape of its own, which V8 handles slowly).
 */
describe("observeRequests: req.log", () => {
  it("logs with each request's own id, without adding a property to the request", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: "info" }, sink);
    const app = express();
    app.use(observeRequests(app, logger));
    app.get("/work", (req, res) => {
      req.log!.info({ step: "handler" }, "working");
      res.json({ ownLog: Object.hasOwn(req, "log") });
    });

    const first = await request(app).get("/work").set("X-Request-Id", "req-one");
    const second = await request(app).get("/work").set("X-Request-Id", "req-two");
    expect(first.body).toEqual({ ownLog: false });
    expect(second.body).toEqual({ ownLog: false });

    const handlerLines = lines.filter((l) => l.step === "handler");
    expect(handlerLines.map((l) => l.reqId)).toEqual(["req-one", "req-two"]);
    // The access line of each request carries its id too.
    expect(lines.filter((l) => l.msg === "request").map((l) => l.reqId)).toEqual(["req-one", "req-two"]);
  });
});
