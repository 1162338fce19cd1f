import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The baseline: the whole data model as of the first release, replacing the
 * pre-1.0 history (its name is the first migration's, so a database migrated
 * by that history counts it as applied). Schema and constraints only. Every invariant the service relies on is a constraint
 * here, so a bug in the code fails a statement instead of corrupting data:
 * stock can never go negative or be over-reserved, an order has at most one
 * pending and one succeeded payment, a payment is counted at most once, and a
 * payment-provider event is processed at most once.
 */
export class InitialSchema1764000000000 implements MigrationInterface {
  name = "InitialSchema1764000000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE customers (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        api_key_hash  text NOT NULL UNIQUE CHECK (api_key_hash ~ '^[0-9a-f]{64}$'),
        created_at    timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE products (
        sku          text PRIMARY KEY CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
        name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        price_cents  integer NOT NULL CHECK (price_cents BETWEEN 0 AND 100000000),
        on_hand      integer NOT NULL CHECK (on_hand >= 0),
        reserved     integer NOT NULL DEFAULT 0,
        version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT products_reserved_within_on_hand CHECK (0 <= reserved AND reserved <= on_hand)
      )`);

    // An append-only audit of every stock adjustment, written in the same
    // transaction as the adjustment itself.
    await q.query(`
      CREATE TABLE stock_adjustments (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        sku         text NOT NULL REFERENCES products(sku),
        delta       integer NOT NULL CHECK (delta <> 0),
        reason      text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
        on_hand_after integer NOT NULL CHECK (on_hand_after >= 0),
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX stock_adjustments_sku_idx ON stock_adjustments (sku, id)`);

    await q.query(`
      CREATE TABLE orders (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id     uuid NOT NULL REFERENCES customers(id),
        status          text NOT NULL CHECK (status IN ('reserved','pending_payment','paid','cancelled','expired')),
        total_cents     bigint NOT NULL CHECK (total_cents >= 0),
        version         integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        reserved_until  timestamptz,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        -- A hold only exists while stock is held.
        CONSTRAINT orders_hold_while_open CHECK ((status IN ('reserved','pending_payment')) = (reserved_until IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC)`);
    // The expiry sweeper scans only open holds, oldest deadline first.
    await q.query(`CREATE INDEX orders_expiry_idx ON orders (reserved_until) WHERE status = 'reserved'`);
    // The per-customer cap reads only a customer's open orders.
    await q.query(`CREATE INDEX orders_open_by_customer_idx ON orders (customer_id) WHERE status IN ('reserved', 'pending_payment')`);

    await q.query(`
      CREATE TABLE order_lines (
        order_id          uuid NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
        sku               text NOT NULL REFERENCES products(sku),
        quantity          integer NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
        unit_price_cents  integer NOT NULL CHECK (unit_price_cents >= 0),
        line_total_cents  bigint NOT NULL,
        PRIMARY KEY (order_id, sku),
        CONSTRAINT order_lines_total CHECK (line_total_cents = quantity::bigint * unit_price_cents)
      )`);
    await q.query(`CREATE INDEX order_lines_sku_idx ON order_lines (sku)`);

    await q.query(`
      CREATE TABLE payments (
        id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id             uuid NOT NULL REFERENCES orders(id),
        customer_id          uuid NOT NULL REFERENCES customers(id),
        amount_cents         bigint NOT NULL CHECK (amount_cents >= 0),
        currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        status               text NOT NULL CHECK (status IN ('pending','succeeded','failed')),
        provider             text NOT NULL,
        provider_payment_id  text NOT NULL,
        version              integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        succeeded_at         timestamptz,
        created_at           timestamptz NOT NULL DEFAULT now(),
        updated_at           timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT payments_succeeded_at CHECK ((status = 'succeeded') = (succeeded_at IS NOT NULL)),
        UNIQUE (provider, provider_payment_id)
      )`);
    // At most one pending and at most one succeeded payment per order, whatever the code does.
    await q.query(`CREATE UNIQUE INDEX payments_one_pending_per_order ON payments (order_id) WHERE status = 'pending'`);
    await q.query(`CREATE UNIQUE INDEX payments_one_success_per_order ON payments (order_id) WHERE status = 'succeeded'`);
    await q.query(`CREATE INDEX payments_succeeded_at_idx ON payments (succeeded_at) WHERE status = 'succeeded'`);

    // Provider events, processed at most once each (event id is the key).
    await q.query(`
      CREATE TABLE payment_events (
        event_id     text PRIMARY KEY CHECK (char_length(event_id) BETWEEN 1 AND 255),
        payment_id   uuid,
        type         text NOT NULL,
        outcome      text NOT NULL CHECK (outcome IN ('processed','duplicate','ignored')),
        received_at  timestamptz NOT NULL DEFAULT now()
      )`);

    // Purchase counters per UTC day. A day may be spread over several shard
    // rows (summed on read) so one hot row does not serialise confirmations.
    await q.query(`
      CREATE TABLE purchase_counters (
        day               date NOT NULL,
        shard             smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 255),
        purchases         bigint NOT NULL DEFAULT 0 CHECK (purchases >= 0),
        revenue_cents     bigint NOT NULL DEFAULT 0 CHECK (revenue_cents >= 0),
        unique_customers  bigint NOT NULL DEFAULT 0 CHECK (unique_customers >= 0),
        PRIMARY KEY (day, shard)
      )`);
    // Dedupe key: a payment moves the counters at most once.
    await q.query(`
      CREATE TABLE counted_payments (
        payment_id    uuid PRIMARY KEY REFERENCES payments(id),
        day           date NOT NULL,
        customer_id   uuid NOT NULL REFERENCES customers(id),
        amount_cents  bigint NOT NULL CHECK (amount_cents >= 0),
        counted_at    timestamptz NOT NULL DEFAULT now()
      )`);
    // Dedupe key: a customer counts once per day towards unique customers.
    await q.query(`
      CREATE TABLE counted_customer_days (
        day          date NOT NULL,
        customer_id  uuid NOT NULL REFERENCES customers(id),
        PRIMARY KEY (day, customer_id)
      )`);

    // Idempotency keys, scoped per caller ('admin' or a customer id). The
    // stored answer holds facts, never HTTP made by the database: `outcome`
    // names what happened and `facts` what the first answer was rendered from
    // (for answers rendered in the service, the rendered answer itself).
    await q.query(`
      CREATE TABLE idempotency_keys (
        owner        text NOT NULL,
        key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
        fingerprint  text NOT NULL,
        outcome      text NOT NULL CHECK (char_length(outcome) BETWEEN 1 AND 64),
        facts        jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (owner, key)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)`);

    // Per-key request counts in fixed windows (src/rate-limits). UNLOGGED: a
    // rate-limit counter needs no durability (after a crash the table is
    // emptied and windows start afresh), and a transaction that writes only
    // unlogged rows commits without waiting for a WAL flush.
    await q.query(`
      CREATE UNLOGGED TABLE rate_limits (
        key     varchar(255) PRIMARY KEY,
        points  integer NOT NULL DEFAULT 0,
        expire  bigint
      )`);

    // The SQL functions applied from source files (src/db/sql-functions.ts):
    // one row per function, with the checksum of the file it came from.
    await q.query(`
      CREATE TABLE sql_functions (
        name        text PRIMARY KEY CHECK (name ~ '^orderlock_[a-z0-9_]+$'),
        checksum    text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
        applied_at  timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      "sql_functions",
      "rate_limits",
      "idempotency_keys",
      "counted_customer_days",
      "counted_payments",
      "purchase_counters",
      "payment_events",
      "payments",
      "order_lines",
      "orders",
      "stock_adjustments",
      "products",
      "customers",
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
