import { InitialSchema1764000000000 } from "./1764000000000-InitialSchema.js";
import { Events1764000000001 } from "./1764000000001-Events.js";
import { PaymentsRound21764000000002 } from "./1764000000002-PaymentsRound2.js";
import { Refunds1764000000003 } from "./1764000000003-Refunds.js";
import { WebhookEndpoints1764000000004 } from "./1764000000004-WebhookEndpoints.js";
import { ProviderCallClaims1764000000006 } from "./1764000000006-ProviderCallClaims.js";
import { OpenOrdersByHold1764000000013 } from "./1764000000013-OpenOrdersByHold.js";
import { CustomerKeys1764000000100 } from "./1764000000100-CustomerKeys.js";
import { EventsResourceOrder1764000000101 } from "./1764000000101-EventsResourceOrder.js";
import { HotUpdateRoom1764000000200 } from "./1764000000200-HotUpdateRoom.js";
import { EventIdsAsUuid1764000000300 } from "./1764000000300-EventIdsAsUuid.js";
import { EventTypesAsEnum1764000000301 } from "./1764000000301-EventTypesAsEnum.js";
import { LinesWithoutSkuIndex1764000000400 } from "./1764000000400-LinesWithoutSkuIndex.js";
import { EndpointTimesInMilliseconds1764000000500 } from "./1764000000500-EndpointTimesInMilliseconds.js";

/**
 * Every schema migration, in order. A new migration is added here as well.
 * Migrations hold schema and constraints only: the SQL functions are source
 * files beside their use cases (src/**\/*.sql), applied at every migrate by
 * src/db/sql-functions.ts.
 */
export const migrations = [
  InitialSchema1764000000000,
  Events1764000000001,
  PaymentsRound21764000000002,
  Refunds1764000000003,
  WebhookEndpoints1764000000004,
  ProviderCallClaims1764000000006,
  OpenOrdersByHold1764000000013,
  CustomerKeys1764000000100,
  EventsResourceOrder1764000000101,
  HotUpdateRoom1764000000200,
  EventIdsAsUuid1764000000300,
  EventTypesAsEnum1764000000301,
  LinesWithoutSkuIndex1764000000400,
  EndpointTimesInMilliseconds1764000000500,
];
