-- saas-billing schema, version 3: the monthly amount of a subscription never fails its write.
-- Placeholders: ${schema}, ${tenant_setting}. No new grants (CREATE OR REPLACE keeps privileges and comments).
--
-- Version 2's subscription_mrr cast every quantity and interval_count to numeric and the sum to bigint: a signed
-- subscription with a quantity that is not a number, or whose amount times quantity passes 2^63, made the facts
-- trigger raise, so the subscription's upsert (and the webhook carrying it) failed on every retry. Now a quantity
-- or interval_count that is not a JSON number counts as absent (quantity 1, interval_count 1), factors are capped
-- at 10^20 (so their product stays far inside numeric) and the result saturates at the bigint bounds, as do the
-- sums of subscription_metrics().

CREATE OR REPLACE FUNCTION ${schema}.subscription_mrr(p_raw jsonb)
  RETURNS bigint
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT least(greatest(coalesce(round(sum(
           least(greatest(coalesce(p.price->>'unit_amount', p.price->>'amount')::numeric, -1e20), 1e20)
           * CASE WHEN jsonb_typeof(p.item->'quantity') = 'number'
               THEN least(greatest((p.item->>'quantity')::numeric, -1e20), 1e20) ELSE 1 END
           * CASE coalesce(p.price#>>'{recurring,interval}', p.price->>'interval')
               WHEN 'month' THEN 1.0
               WHEN 'year' THEN 1.0 / 12
               WHEN 'week' THEN 52.0 / 12
               WHEN 'day' THEN 365.0 / 12
               ELSE 0 END
           / least(greatest(coalesce(
               CASE WHEN jsonb_typeof(p.price#>'{recurring,interval_count}') = 'number'
                 THEN (p.price#>>'{recurring,interval_count}')::numeric END,
               CASE WHEN jsonb_typeof(p.price->'interval_count') = 'number'
                 THEN (p.price->>'interval_count')::numeric END, 1), 1), 1e20)
         )), 0), -9223372036854775808), 9223372036854775807)::bigint
  FROM (
    SELECT i AS item, CASE WHEN jsonb_typeof(i->'price') = 'object' THEN i->'price' ELSE i->'plan' END AS price
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_raw#>'{items,data}') = 'array'
                                   THEN p_raw#>'{items,data}' ELSE '[]'::jsonb END) AS i
  ) p
  WHERE jsonb_typeof(p.price) = 'object'
    AND coalesce(p.price#>>'{recurring,usage_type}', p.price->>'usage_type', 'licensed') <> 'metered'
    AND coalesce(p.price->>'unit_amount', p.price->>'amount') ~ '^-?[0-9]+$');
END
$$;

CREATE OR REPLACE FUNCTION ${schema}.subscription_metrics()
  RETURNS TABLE (status text, currency text, subscriptions bigint, mrr_minor bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT f.status, f.currency, count(*)::bigint,
         least(greatest(coalesce(sum(f.mrr_minor), 0), -9223372036854775808), 9223372036854775807)::bigint
  FROM ${schema}.subscription_facts f
  GROUP BY f.status, f.currency
  ORDER BY f.status, f.currency
$$;
