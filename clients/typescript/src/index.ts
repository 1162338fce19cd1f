export {
  type CustomerWithKey,
  createOrderlockClient,
  type Order,
  type OrderLine,
  type OrderlockClient,
  type OrderlockClientOptions,
  type Payment,
  type Product,
  type WithVersionOptions,
} from "./client.js";
export type { components, operations, paths } from "./generated/openapi.js";
export { isProblem, type Problem, type ProblemCode, ProblemError, type ProblemOf } from "./problems.js";
export { type RetryOptions, retryingFetch, type TransportOptions } from "./retrying-fetch.js";
