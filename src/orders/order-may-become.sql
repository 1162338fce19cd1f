-- The order state machine, its one definition. Both languages obey it: the
-- database refuses any other change of an order's status
-- (guard-order-status.sql, a trigger on `orders`), and the service answers
-- that refusal with 409 invalid_state (src/orders/transition-order.ts).
--   reserved        → pending_payment (a payment created)
--                   | cancelled (by the customer) | expired (its hold ran out)
--   pending_payment → paid (the payment succeeded)
--                   | reserved (the payment failed; a fresh hold)
--                   | expired (the payment expired)
--   paid            → refunded (refunds returned the whole total)
--   refunded        → paid (a dispute's refund reversed: funds reinstated)
--   cancelled, expired: final
-- Which statuses hold stock is not a transition but a constraint:
-- orders_hold_while_open (an order holds stock exactly while it has a hold
-- deadline, reserved_until).
-- LANGUAGE sql, IMMUTABLE, one expression and no SET clause, so a caller's
-- plan inlines it.
CREATE OR REPLACE FUNCTION orderlock_order_may_become(p_from text, p_to text) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $fn$
  SELECT coalesce(p_to = ANY (CASE p_from
                                WHEN 'reserved'        THEN ARRAY['pending_payment', 'cancelled', 'expired']
                                WHEN 'pending_payment' THEN ARRAY['paid', 'reserved', 'expired']
                                WHEN 'paid'            THEN ARRAY['refunded']
                                WHEN 'refunded'        THEN ARRAY['paid']
                              END), false)
$fn$;
