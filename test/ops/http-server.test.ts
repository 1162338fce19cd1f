import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/http/server.js";

/**
 * createHttpServer exists so that Express never changes a live request's or
 * response's prototype (a V8 deoptimisation on every request). Counted here
 * by watching Object.setPrototypeOf on requests and responses while real requests go through; the same
 * app under a plain http.createServer shows what the count looks like
 * without the fix.
 */
let realSetPrototypeOf: typeof Object.setPrototypeOf | undefined;
afterEach(() => {
  if (realSetPrototypeOf) Object.setPrototypeOf = realSetPrototypeOf;
  realSetPrototypeOf = undefined;
});

function countPrototypeChanges(): { changed: number } {
  const counter = { changed: 0 };
  realSetPrototypeOf = Object.setPrototypeOf;
  const real = realSetPrototypeOf;
  Object.setPrototypeOf = ((o: object, proto: object | null) => {
    const live = o instanceof http.IncomingMessage || o instanceof http.ServerResponse;
    if (live && Object.getPrototypeOf(o) !== proto) counter.changed += 1;
    return real(o, proto);
  }) as typeof Object.setPrototypeOf;
  return counter;
}

function appUnderTest() {
  const app = express();
  app.use(express.json());
  app.post("/echo/:id", (req, res) => {
    res
      .status(201)
      .set("X-Seen", req.get("X-Sent") ?? "")
      .json({ id: req.params.id, body: req.body, ip: typeof req.ip });
  });
  return app;
}

async function post(server: http.Server): Promise<{ status: number; seen: string | null; body: unknown }> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/echo/42`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Sent": "yes" },
      body: JSON.stringify({ a: 1 }),
    });
    return { status: res.status, seen: res.headers.get("X-Seen"), body: await res.json() };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

describe("createHttpServer", () => {
  it("serves Express requests with Express's request and response methods, without changing any prototype", async () => {
    const app = appUnderTest();
    const server = createHttpServer(app);
    const counter = countPrototypeChanges();
    const answer = await post(server);
    expect(answer).toEqual({ status: 201, seen: "yes", body: { id: "42", body: { a: 1 }, ip: "string" } });
    expect(counter.changed).toBe(0);
  });

  it("(the same app under a plain http server changes two prototypes per request)", async () => {
    const app = appUnderTest();
    const counter = countPrototypeChanges();
    const answer = await post(http.createServer(app));
    expect(answer.status).toBe(201);
    expect(counter.changed).toBe(2);
  });
});
