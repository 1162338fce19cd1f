-- Counting requests against a limit per key, in fixed windows: the rate
-- limit's one definition. Both ways a request is counted call it: the
-- middleware's batch of counts (consume-rate-limit.ts) and a batch of orders,
-- counted in the same call that places them (place-counted-orders.sql).
--
-- p_keys and p_limits hold one entry per request, in arrival order. Per key
-- the batch adds its m requests at once and reads back the new total P; the
-- requests took the counts P-m+1 … P, in arrival order, and each is allowed
-- when its count is within its limit: the outcome of one count per request,
-- one after another. A refused request still counts (a client hammering a
-- limit does not earn a fresh allowance by doing so).
--
-- What must stay true:
-- - Window start and expiry come from the database clock (now()), never an
--   instance's clock, so instances with skewed clocks share one window.
-- - Rows are upserted in key order, so two batches with common keys lock
--   them in the same order and cannot deadlock. A caller takes them after
--   every other lock it needs, in its last statement (the row locks last
--   until its COMMIT; see place-counted-orders.sql).
-- - The table is UNLOGGED (the baseline migration): a transaction that
--   writes only these rows has no WAL to flush at COMMIT; after a database
--   crash the counts start from zero.
CREATE OR REPLACE FUNCTION orderlock_count_requests(p_keys text[], p_limits int[], p_window_ms bigint)
RETURNS TABLE (pos int, allowed boolean, remaining int, ms_left bigint)
LANGUAGE sql VOLATILE
AS $fn$
  WITH req AS (
    SELECT r.key, r.lim, r.n::int AS n,
           row_number() OVER (PARTITION BY r.key ORDER BY r.n)::int AS nth,
           count(*) OVER (PARTITION BY r.key)::int AS m
      FROM unnest(p_keys, p_limits) WITH ORDINALITY AS r(key, lim, n)
  ),
  counted AS (
    INSERT INTO rate_limits AS t (key, points, expire)
    SELECT k.key, k.m, (extract(epoch FROM now()) * 1000)::bigint + p_window_ms
      FROM (SELECT DISTINCT req.key, req.m FROM req) k
     ORDER BY k.key
    ON CONFLICT (key) DO UPDATE SET
      points = CASE WHEN t.expire IS NULL OR t.expire <= (extract(epoch FROM now()) * 1000)::bigint
                    THEN EXCLUDED.points ELSE t.points + EXCLUDED.points END,
      expire = CASE WHEN t.expire IS NULL OR t.expire <= (extract(epoch FROM now()) * 1000)::bigint
                    THEN EXCLUDED.expire ELSE t.expire END
    RETURNING t.key, t.points, t.expire - (extract(epoch FROM now()) * 1000)::bigint AS ms_left
  )
  SELECT req.n, c.points - req.m + req.nth <= req.lim, greatest(0, req.lim - (c.points - req.m + req.nth)), greatest(0, c.ms_left)
    FROM req JOIN counted c ON c.key = req.key
   ORDER BY req.n
$fn$;
