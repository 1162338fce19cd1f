import { CountedCustomerDay } from "./counted-customer-day.entity.js";
import { CountedPayment } from "./counted-payment.entity.js";
import { CountedRefund } from "./counted-refund.entity.js";
import { CountedRefundReversal } from "./counted-refund-reversal.entity.js";
import { Customer } from "./customer.entity.js";
import { CustomerApiKey } from "./customer-api-key.entity.js";
import { IdempotencyKey } from "./idempotency-key.entity.js";
import { Order } from "./order.entity.js";
import { OrderLine } from "./order-line.entity.js";
import { Payment } from "./payment.entity.js";
import { PaymentEvent } from "./payment-event.entity.js";
import { Product } from "./product.entity.js";
import { PurchaseCounter } from "./purchase-counter.entity.js";
import { RateLimit } from "./rate-limit.entity.js";
import { Refund } from "./refund.entity.js";
import { SqlFunction } from "./sql-function.entity.js";
import { StockAdjustment } from "./stock-adjustment.entity.js";
import { WebhookEndpoint } from "./webhook-endpoint.entity.js";

export const entities = [
  Customer,
  CustomerApiKey,
  Product,
  StockAdjustment,
  Order,
  OrderLine,
  Payment,
  PaymentEvent,
  PurchaseCounter,
  CountedPayment,
  CountedCustomerDay,
  Refund,
  CountedRefund,
  CountedRefundReversal,
  IdempotencyKey,
  RateLimit,
  SqlFunction,
  WebhookEndpoint,
];
