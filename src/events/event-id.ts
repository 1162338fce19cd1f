import { z } from "zod";

/**
 * An event's id as the API shows it: `evt_` and its row's id, a UUID version
 * 7 (src/events/append-events.sql), as 32 lower-case hex digits. The database
 * keeps the uuid (migrations/1764000000300-EventIdsAsUuid.ts); this module
 * is the one place that turns one into the other.
 */
export const eventIdSchema = z.string().regex(/^evt_[0-9a-f]{32}$/, "not an event id");

/** The API's id of the event stored under `rowId` (a uuid). */
export const eventIdOf = (rowId: string): string => `evt_${rowId.replaceAll("-", "")}`;

/** The stored uuid of an event the API names `eventId` (one eventIdSchema accepts). */
export const rowIdOfEvent = (eventId: string): string => eventId.slice(4).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
