import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_TYPES } from "../../src/events/append-event.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("event types", () => {
  it("when the schema is migrated, then the database's event types (the enum every event row is typed by) are exactly the API's", async () => {
    const [{ types }] = await t.ds.query(`SELECT enum_range(NULL::orderlock_event_type)::text[] AS types`);
    expect(types).toEqual([...EVENT_TYPES]);
  });
});
