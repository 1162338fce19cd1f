-- A batch of orders, each request first counted against its rate limit, in
-- ONE call and one transaction: orderlock_count_requests for every order's
-- request, then orderlock_place_orders for the orders whose request was
-- allowed. An order whose request was refused is not placed and its key not
-- claimed: its outcome is rate_limited, and its request still counts.
--
-- What must stay true:
-- - The counters' rows are the first locks the batch takes (in key order,
--   then customers, then products: the one lock order), held to its COMMIT.
-- - A request counts once per committed call: a batch that fails rolls its
--   counts back with everything else, and its orders, run again one at a
--   time (src/db/batcher.ts), are counted in those calls.
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
  v_allowed boolean[];
  v_remaining int[];
  v_ms_left bigint[];
  v_admitted jsonb;
  v_at int[];
BEGIN
  SELECT array_agg(c.allowed ORDER BY c.pos), array_agg(c.remaining ORDER BY c.pos), array_agg(c.ms_left ORDER BY c.pos)
    INTO v_allowed, v_remaining, v_ms_left
    FROM orderlock_count_requests(
           ARRAY(SELECT x.e ->> 'rateKey' FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n) ORDER BY x.n),
           ARRAY(SELECT (x.e ->> 'rateLimit')::int FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n) ORDER BY x.n),
           p_window_ms) c;

  IF true = ALL(v_allowed) THEN
    RETURN QUERY
      SELECT p.pos, true, v_remaining[p.pos], v_ms_left[p.pos], p.replayed, p.outcome, p.facts
        FROM orderlock_place_orders(p_orders) p;
    RETURN;
  END IF;

  RETURN QUERY
    SELECT n, false, v_remaining[n], v_ms_left[n], false, 'rate_limited'::text, NULL::jsonb
      FROM generate_subscripts(v_allowed, 1) AS n WHERE NOT v_allowed[n];
  SELECT jsonb_agg(x.e ORDER BY x.n), array_agg(x.n::int ORDER BY x.n)
    INTO v_admitted, v_at
    FROM jsonb_array_elements(p_orders) WITH ORDINALITY AS x(e, n)
   WHERE v_allowed[x.n];
  IF v_admitted IS NOT NULL THEN
    RETURN QUERY
      SELECT v_at[p.pos], true, v_remaining[v_at[p.pos]], v_ms_left[v_at[p.pos]], p.replayed, p.outcome, p.facts
        FROM orderlock_place_orders(v_admitted) p;
  END IF;
END
$fn$;
