-- A batch of orders and their requests' rate-limit counts, in ONE call and
-- one transaction: the orders are placed (orderlock_place_orders), then
-- every order's request is counted (orderlock_count_requests), last. When
-- every request is within its limit, that is the outcome of counting each
-- request first and then placing it, since nothing else happens between
-- the count and the COMMIT. When one is over its limit, nothing of the
-- batch is kept: the call fails with SQLSTATE OL429, and the service counts
-- the batch's requests on their own first, then places the allowed orders
-- (src/orders/place-order.ts).
--
-- What must stay true:
-- - The counters' rows are the LAST locks the batch takes (customers, then
--   products, then counters by key), held only from that final statement to
--   the COMMIT. A batch that waits on a product row holds no counter, so the
--   customer's other requests never queue behind a blocked order.
-- - A request counts once per committed call: a batch that fails (over a
--   limit, or an error retried or split by src/db/batcher.ts) rolls its
--   counts back with everything else. A request whose last attempt fails is
--   then counted on its own by the service (src/orders/place-order.ts).
-- - Each element of p_orders is one orderlock_place_orders element plus
--   rateKey and rateLimit (the key counted and its points per window).
-- - One row per order: its count (allowed, remaining, ms_left) and its
--   placement (replayed, outcome, facts).
CREATE OR REPLACE FUNCTION orderlock_place_counted_orders(p_orders jsonb, p_window_ms bigint)
RETURNS TABLE (pos int, allowed boolean, remaining int, ms_left bigint, replayed boolean, outcome text, facts jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  v_pos int[];
  v_replayed boolean[];
  v_outcome text[];
  v_facts jsonb[];
  v_all boolean;
  v_remaining int[];
  v_ms_left bigint[];
BEGIN
  SELECT array_agg(p.pos), array_agg(p.replayed), array_agg(p.outcome), array_agg(p.facts)
    INTO v_pos, v_replayed, v_outcome, v_facts
    FROM orderlock_place_orders(p_orders) p;

  SELECT bool_and(c.allowed), array_agg(c.remaining ORDER BY c.pos), array_agg(c.ms_left ORDER BY c.pos)
    INTO v_all, v_remaining, v_ms_left
    FROM orderlock_count_requests(
           ARRAY(SELECT x.e ->> 'rateKey' FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n) ORDER BY x.n),
           ARRAY(SELECT (x.e ->> 'rateLimit')::int FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n) ORDER BY x.n),
           p_window_ms) c;
  IF NOT v_all THEN
    RAISE EXCEPTION 'a request of the batch is over its rate limit' USING ERRCODE = 'OL429';
  END IF;

  RETURN QUERY
    SELECT v_pos[i], true, v_remaining[v_pos[i]], v_ms_left[v_pos[i]], v_replayed[i], v_outcome[i], v_facts[i]
      FROM generate_subscripts(v_pos, 1) AS i;
END
$fn$;
