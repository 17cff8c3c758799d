-- saas-billing schema, version 2: subscription facts for business metrics across tenants.
-- Placeholders: ${schema}, ${tenant_setting}. Grants of the application role: grants/V2.sql.
--
-- subscriptions is a tenant table under forced RLS, so no role the application runs as can aggregate over all
-- tenants. subscription_facts keeps, per subscription, only what the metrics need (no tenant column, no customer,
-- no raw JSON): kept by a SECURITY DEFINER trigger of subscriptions, never readable by the application role, and
-- summarized by subscription_metrics(), which returns aggregates only.

CREATE TABLE ${schema}.subscription_facts (
  stripe_id   text        PRIMARY KEY,
  status      text        NOT NULL,
  currency    text,
  mrr_minor   bigint      NOT NULL DEFAULT 0,
  trialing    boolean     NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ${schema}.subscription_facts IS 'per-subscription status, currency and monthly recurring amount, without tenant or customer; written only by the subscriptions trigger, read only through subscription_metrics() (aggregates)';

-- The monthly recurring amount of a subscription's JSON, in minor units: the sum over its licensed items of
-- unit_amount * quantity, normalized by the price's recurring interval and interval_count (year /12, week *52/12,
-- day *365/12). Metered items and items without a unit amount count 0. Reads both price (current) and plan (old).
-- PL/pgSQL, not SQL: a SQL function with a SET clause is never inlined and is planned again at every call (about
-- 0.6 ms, most of a webhook's database time), where PL/pgSQL keeps the plan of its one statement.
CREATE FUNCTION ${schema}.subscription_mrr(p_raw jsonb)
  RETURNS bigint
  LANGUAGE plpgsql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT coalesce(round(sum(
           (coalesce(p.price->>'unit_amount', p.price->>'amount'))::numeric
           * coalesce((p.item->>'quantity')::numeric, 1)
           * CASE coalesce(p.price#>>'{recurring,interval}', p.price->>'interval')
               WHEN 'month' THEN 1.0
               WHEN 'year' THEN 1.0 / 12
               WHEN 'week' THEN 52.0 / 12
               WHEN 'day' THEN 365.0 / 12
               ELSE 0 END
           / greatest(coalesce((p.price#>>'{recurring,interval_count}')::numeric,
                               (p.price->>'interval_count')::numeric, 1), 1)
         )), 0)::bigint
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

CREATE FUNCTION ${schema}.subscriptions_facts() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM ${schema}.subscription_facts WHERE stripe_id = OLD.stripe_id;
    RETURN NULL;
  END IF;
  INSERT INTO ${schema}.subscription_facts AS f (stripe_id, status, currency, mrr_minor, trialing, updated_at)
  VALUES (NEW.stripe_id, NEW.status,
          lower(coalesce(NEW.raw->>'currency', NEW.raw#>>'{items,data,0,price,currency}',
                         NEW.raw#>>'{items,data,0,plan,currency}')),
          ${schema}.subscription_mrr(NEW.raw), NEW.status = 'trialing', now())
  ON CONFLICT (stripe_id) DO UPDATE SET status = EXCLUDED.status, currency = EXCLUDED.currency,
    mrr_minor = EXCLUDED.mrr_minor, trialing = EXCLUDED.trialing, updated_at = EXCLUDED.updated_at;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION ${schema}.subscriptions_facts() FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.subscriptions_facts() IS 'saaskit-audit: security-definer-function -- trigger of subscriptions: copies the status, currency and monthly amount of the row being written (already checked by the RLS policy) into subscription_facts, without tenant or customer; reads no tenant table, not executable by PUBLIC';

CREATE TRIGGER subscriptions_facts AFTER INSERT OR UPDATE OR DELETE ON ${schema}.subscriptions
  FOR EACH ROW EXECUTE FUNCTION ${schema}.subscriptions_facts();

-- Subscriptions already mirrored before this version.
INSERT INTO ${schema}.subscription_facts (stripe_id, status, currency, mrr_minor, trialing)
SELECT s.stripe_id, s.status,
       lower(coalesce(s.raw->>'currency', s.raw#>>'{items,data,0,price,currency}', s.raw#>>'{items,data,0,plan,currency}')),
       ${schema}.subscription_mrr(s.raw), s.status = 'trialing'
FROM ${schema}.subscriptions s
ON CONFLICT (stripe_id) DO NOTHING;

CREATE FUNCTION ${schema}.subscription_metrics()
  RETURNS TABLE (status text, currency text, subscriptions bigint, mrr_minor bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT f.status, f.currency, count(*)::bigint, coalesce(sum(f.mrr_minor), 0)::bigint
  FROM ${schema}.subscription_facts f
  GROUP BY f.status, f.currency
  ORDER BY f.status, f.currency
$$;
REVOKE ALL ON FUNCTION ${schema}.subscription_metrics() FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.subscription_metrics() IS 'saaskit-audit: security-definer-function -- business metrics: subscription counts and monthly recurring amounts grouped by status and currency across all tenants; aggregates only, no id, tenant or customer; reads only subscription_facts';

-- Reconcile: the tenants that have (or had) a Stripe customer, page by page, so a full sync can look for mirror
-- rows Stripe no longer lists (a deleted customer is not listed by Stripe, so its tenant is seen nowhere else).
CREATE FUNCTION ${schema}.routed_tenants(p_after text, p_limit integer)
  RETURNS TABLE (tenant_id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT DISTINCT r.routed_tenant_id FROM ${schema}.customer_routes r
  WHERE r.routed_tenant_id > coalesce(p_after, '')
  ORDER BY r.routed_tenant_id LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION ${schema}.routed_tenants(text, integer) FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.routed_tenants(text, integer) IS 'saaskit-audit: security-definer-function -- reconcile: lists the ids of tenants that have a routed Stripe customer, page by page (ids only, like the event inbox''s routed_tenant_id); reads only the route table';
