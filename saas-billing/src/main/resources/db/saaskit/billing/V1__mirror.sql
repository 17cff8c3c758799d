-- saas-billing schema, version 1: the Stripe mirror, the event inbox, listener deliveries and the usage outbox.
-- Placeholders: ${schema} (default saaskit_billing), ${tenant_setting} (default app.tenant_id).
-- Grants of the application role: grants/V1.sql. Guide: docs/billing.md.
--
-- Every mirrored object keeps Stripe's JSON as received or fetched (raw), the few columns we query, and
-- state_as_of: the Stripe time of the newest state applied to the row (the `created` of the event that carried it,
-- or the moment it was fetched from the API). A write carrying an older state never replaces a newer one.

CREATE SCHEMA IF NOT EXISTS ${schema};

-- The tenant <-> Stripe customer link, at most one live billing customer per tenant.
CREATE TABLE ${schema}.customers (
  tenant_id    text        NOT NULL,
  stripe_id    text        PRIMARY KEY CHECK (stripe_id ~ '^cus_[0-9A-Za-z_]{1,250}$'),
  email        text,
  name         text,
  deleted      boolean     NOT NULL DEFAULT false,
  raw          jsonb       NOT NULL,
  state_as_of  timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, stripe_id)
);
CREATE UNIQUE INDEX customers_one_live_per_tenant ON ${schema}.customers (tenant_id) WHERE NOT deleted;

-- Stripe's product catalog is the account's, not a tenant's: no tenant column, readable by the application.
CREATE TABLE ${schema}.products (
  stripe_id    text        PRIMARY KEY,
  active       boolean     NOT NULL,
  name         text,
  deleted      boolean     NOT NULL DEFAULT false,
  raw          jsonb       NOT NULL,
  state_as_of  timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ${schema}.prices (
  stripe_id          text        PRIMARY KEY,
  product_id         text,
  active             boolean     NOT NULL,
  currency           text,
  unit_amount        bigint,
  recurring_interval text,
  interval_count     integer,
  usage_type         text,
  lookup_key         text,
  deleted            boolean     NOT NULL DEFAULT false,
  raw                jsonb       NOT NULL,
  state_as_of        timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prices_product_idx ON ${schema}.prices (product_id);
CREATE INDEX prices_lookup_key_idx ON ${schema}.prices (lookup_key) WHERE lookup_key IS NOT NULL;

CREATE TABLE ${schema}.subscriptions (
  tenant_id            text        NOT NULL,
  stripe_id            text        PRIMARY KEY,
  customer_id          text        NOT NULL,
  status               text        NOT NULL,
  cancel_at_period_end boolean     NOT NULL DEFAULT false,
  cancel_at            timestamptz,
  canceled_at          timestamptz,
  ended_at             timestamptz,
  current_period_start timestamptz,
  current_period_end   timestamptz,
  trial_start          timestamptz,
  trial_end            timestamptz,
  collection_method    text,
  days_until_due       integer,
  schedule_id          text,
  paused               boolean     NOT NULL DEFAULT false,
  raw                  jsonb       NOT NULL,
  state_as_of          timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, stripe_id)
);
CREATE INDEX subscriptions_tenant_idx ON ${schema}.subscriptions (tenant_id, status);

-- Rewritten whole with their subscription, in the same statement batch.
CREATE TABLE ${schema}.subscription_items (
  tenant_id       text    NOT NULL,
  stripe_id       text    NOT NULL,
  subscription_id text    NOT NULL,
  price_id        text,
  product_id      text,
  quantity        bigint,
  raw             jsonb   NOT NULL,
  PRIMARY KEY (stripe_id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES ${schema}.subscriptions (tenant_id, stripe_id) ON DELETE CASCADE
);
CREATE INDEX subscription_items_tenant_idx ON ${schema}.subscription_items (tenant_id, subscription_id);

CREATE TABLE ${schema}.invoices (
  tenant_id            text        NOT NULL,
  stripe_id            text        PRIMARY KEY,
  customer_id          text        NOT NULL,
  subscription_id      text,
  status               text,
  collection_method    text,
  currency             text,
  amount_due           bigint,
  amount_paid          bigint,
  amount_remaining     bigint,
  attempt_count        integer,
  next_payment_attempt timestamptz,
  due_date             timestamptz,
  period_start         timestamptz,
  period_end           timestamptz,
  hosted_invoice_url   text,
  created              timestamptz,
  raw                  jsonb       NOT NULL,
  state_as_of          timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoices_tenant_idx ON ${schema}.invoices (tenant_id, subscription_id, created);

CREATE TABLE ${schema}.checkout_sessions (
  tenant_id       text        NOT NULL,
  stripe_id       text        PRIMARY KEY,
  status          text,
  payment_status  text,
  customer_id     text,
  subscription_id text,
  raw             jsonb       NOT NULL,
  state_as_of     timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkout_sessions_tenant_idx ON ${schema}.checkout_sessions (tenant_id);

-- Stripe Entitlements' active summary per customer (entitlements.active_entitlement_summary.updated), when used.
CREATE TABLE ${schema}.entitlement_summaries (
  tenant_id    text        NOT NULL,
  customer_id  text        PRIMARY KEY,
  lookup_keys  text[]      NOT NULL,
  raw          jsonb       NOT NULL,
  state_as_of  timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entitlement_summaries_tenant_idx ON ${schema}.entitlement_summaries (tenant_id);

-- Metered usage waiting to be sent to Stripe, written in the caller's transaction under the tenant's RLS.
-- identifier is what Stripe deduplicates meter events by: the same (tenant, key) is one event, forever.
CREATE TABLE ${schema}.usage_outbox (
  tenant_id       text        NOT NULL,
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  meter           text        NOT NULL CHECK (meter ~ '^[A-Za-z0-9_.:-]{1,100}$'),
  value           bigint      NOT NULL CHECK (value >= 0),
  idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  identifier      text        NOT NULL UNIQUE,
  occurred_at     timestamptz NOT NULL,
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        integer     NOT NULL DEFAULT 0,
  last_error      text,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX usage_outbox_pending_idx ON ${schema}.usage_outbox (tenant_id, next_attempt_at) WHERE status = 'pending';

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['customers', 'subscriptions', 'subscription_items', 'invoices', 'checkout_sessions',
                           'entitlement_summaries', 'usage_outbox'] LOOP
    EXECUTE format('ALTER TABLE %s.%I ENABLE ROW LEVEL SECURITY', '${schema}', t);
    EXECUTE format('ALTER TABLE %s.%I FORCE ROW LEVEL SECURITY', '${schema}', t);
    EXECUTE format('CREATE POLICY %I ON %s.%I USING (tenant_id = (SELECT current_setting(%L, true)))'
                   ' WITH CHECK (tenant_id = (SELECT current_setting(%L, true)))',
                   t || '_tenant_isolation', '${schema}', t, '${tenant_setting}', '${tenant_setting}');
  END LOOP;
END
$$;

-- The route from a Stripe customer id to its tenant, needed when a webhook arrives (before any tenant is known).
-- Holds no tenant data (an opaque id and the tenant it belongs to); the application role has no privilege on it
-- and reads one exact id through route_customer(). Kept by the trigger below from customers.
CREATE TABLE ${schema}.customer_routes (
  stripe_customer_id text PRIMARY KEY,
  routed_tenant_id   text NOT NULL
);

CREATE FUNCTION ${schema}.customers_route() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM ${schema}.customer_routes WHERE stripe_customer_id = OLD.stripe_id AND routed_tenant_id = OLD.tenant_id;
    RETURN NULL;
  END IF;
  INSERT INTO ${schema}.customer_routes (stripe_customer_id, routed_tenant_id) VALUES (NEW.stripe_id, NEW.tenant_id)
  ON CONFLICT (stripe_customer_id) DO NOTHING;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION ${schema}.customers_route() FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.customers_route() IS 'saaskit-audit: security-definer-function -- trigger of customers: copies the (customer id, tenant) of the row being written, already checked by the RLS policy, into the route table; a customer id once routed never moves to another tenant; reads no tenant table, not executable by PUBLIC';

CREATE TRIGGER customers_route AFTER INSERT OR DELETE ON ${schema}.customers
  FOR EACH ROW EXECUTE FUNCTION ${schema}.customers_route();

-- PL/pgSQL, not SQL: a SQL function with a SET clause is planned again at every call; this one runs per webhook.
CREATE FUNCTION ${schema}.route_customer(p_customer text)
  RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT r.routed_tenant_id FROM ${schema}.customer_routes r WHERE r.stripe_customer_id = p_customer);
END
$$;
REVOKE ALL ON FUNCTION ${schema}.route_customer(text) FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.route_customer(text) IS 'saaskit-audit: security-definer-function -- webhook routing: returns the tenant of one exact Stripe customer id, reads only the route table, never customer data';

-- The event inbox: every verified delivery, keyed by Stripe's event id, so a repeated or parallel delivery is
-- recorded once. The account's events, not one tenant's data: the application role inserts and processes them
-- (the webhook endpoint has no tenant); routed_tenant_id says which tenant an applied event touched.
CREATE TABLE ${schema}.events (
  id               text        PRIMARY KEY CHECK (id ~ '^evt_[0-9A-Za-z_]{1,250}$'),
  type             text        NOT NULL,
  api_version      text,
  created          timestamptz NOT NULL,
  livemode         boolean     NOT NULL DEFAULT false,
  object_id        text,
  payload          jsonb       NOT NULL,
  status           text        NOT NULL DEFAULT 'received'
                               CHECK (status IN ('received', 'applied', 'failed', 'ignored')),
  attempts         integer     NOT NULL DEFAULT 0,
  last_error       text,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  routed_tenant_id text,
  received_at      timestamptz NOT NULL DEFAULT now(),
  applied_at       timestamptz
);
CREATE INDEX events_retry_idx ON ${schema}.events (next_attempt_at) WHERE status IN ('received', 'failed');
CREATE INDEX events_created_idx ON ${schema}.events (created);
COMMENT ON TABLE ${schema}.events IS 'the Stripe account''s event inbox, written by the webhook endpoint before any tenant is known; routed_tenant_id records the tenant an event was applied to';

-- At most once per event per listener: a row is written (and committed) before the listener is called.
CREATE TABLE ${schema}.listener_deliveries (
  event_id      text        NOT NULL REFERENCES ${schema}.events (id) ON DELETE CASCADE,
  listener      text        NOT NULL,
  delivered_at  timestamptz NOT NULL DEFAULT now(),
  error         text,
  PRIMARY KEY (event_id, listener)
);

-- Which tenants have usage waiting, for the sender (which then drains each tenant under its RLS). Like
-- customer_routes: no tenant data, no privilege for the application role, kept by a trigger, read and cleared
-- through two functions. version grows with every recorded usage row, so clearing with a stale version is a no-op
-- and a row recorded while a tenant was being drained is never forgotten.
CREATE TABLE ${schema}.usage_routes (
  routed_tenant_id text   PRIMARY KEY,
  version          bigint NOT NULL
);

CREATE FUNCTION ${schema}.usage_outbox_route() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO ${schema}.usage_routes AS r (routed_tenant_id, version) VALUES (NEW.tenant_id, 1)
  ON CONFLICT (routed_tenant_id) DO UPDATE SET version = r.version + 1;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION ${schema}.usage_outbox_route() FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.usage_outbox_route() IS 'saaskit-audit: security-definer-function -- trigger of usage_outbox: records that the tenant of the row being inserted (already checked by the RLS policy) has usage to send; reads no tenant table, not executable by PUBLIC';

CREATE TRIGGER usage_outbox_route AFTER INSERT OR UPDATE OF status ON ${schema}.usage_outbox
  FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION ${schema}.usage_outbox_route();

CREATE FUNCTION ${schema}.usage_pending_tenants(p_limit integer)
  RETURNS TABLE (tenant_id text, version bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.routed_tenant_id, r.version FROM ${schema}.usage_routes r ORDER BY r.routed_tenant_id LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION ${schema}.usage_pending_tenants(integer) FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.usage_pending_tenants(integer) IS 'saaskit-audit: security-definer-function -- usage sender: lists the tenants that may have usage to send (ids only), reads only the route table';

CREATE FUNCTION ${schema}.usage_tenant_drained(p_tenant text, p_version bigint)
  RETURNS boolean
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  WITH d AS (
    DELETE FROM ${schema}.usage_routes r WHERE r.routed_tenant_id = p_tenant AND r.version = p_version RETURNING 1
  )
  SELECT EXISTS (SELECT 1 FROM d)
$$;
REVOKE ALL ON FUNCTION ${schema}.usage_tenant_drained(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.usage_tenant_drained(text, bigint) IS 'saaskit-audit: security-definer-function -- usage sender: forgets a tenant''s route once its usage was sent, only if nothing was recorded since (same version); reads only the route table';
