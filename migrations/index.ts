import { InitialSchema1764000000000 } from "./1764000000000-InitialSchema.js";
import { RateLimits1764000000001 } from "./1764000000001-RateLimits.js";
import { HotPathTuning1764000000002 } from "./1764000000002-HotPathTuning.js";
import { PlaceOrderFunction1764000000003 } from "./1764000000003-PlaceOrderFunction.js";
import { ConfirmPaymentFunction1764000000004 } from "./1764000000004-ConfirmPaymentFunction.js";
import { GenericPlansForHotFunctions1764000000005 } from "./1764000000005-GenericPlansForHotFunctions.js";
import { PlaceOrdersBatch1764000000006 } from "./1764000000006-PlaceOrdersBatch.js";
import { ConfirmPaymentsBatch1764000000007 } from "./1764000000007-ConfirmPaymentsBatch.js";
import { CustomerKeys1764000000100 } from "./1764000000100-CustomerKeys.js";

/** Every migration, in order. A new migration is added here as well. */
export const migrations = [
  InitialSchema1764000000000,
  RateLimits1764000000001,
  HotPathTuning1764000000002,
  PlaceOrderFunction1764000000003,
  ConfirmPaymentFunction1764000000004,
  GenericPlansForHotFunctions1764000000005,
  PlaceOrdersBatch1764000000006,
  ConfirmPaymentsBatch1764000000007,
  CustomerKeys1764000000100,
];
