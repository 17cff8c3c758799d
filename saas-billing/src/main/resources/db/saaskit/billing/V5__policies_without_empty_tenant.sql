-- saas-billing schema, version 5: the tenant policies no longer match a session without a tenant.
-- Placeholders: ${schema}, ${tenant_setting}. No new grants.
--
-- Until version 4 each policy compared tenant_id with current_setting(...) as it is. Once a setting has been set in
-- a session (even transaction-locally, as TenantDataSource does) and the transaction is over, or after RESET, the
-- setting reads '' rather than NULL. '' = '' is true, so every tenantless session (a raw pool connection, a
-- background task) shared one bucket of rows whose tenant_id is '': it could write such a row and read it back. The
-- RLS audit reports that form as current-setting-without-nullif. With nullif a tenantless session matches nothing,
-- as with RlsPolicy's generated policies: no rows, and writes refused.

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['customers', 'subscriptions', 'subscription_items', 'invoices', 'checkout_sessions',
                           'entitlement_summaries', 'usage_outbox'] LOOP
    EXECUTE format('ALTER POLICY %I ON %s.%I USING (tenant_id = (SELECT nullif(current_setting(%L, true), '''')))'
                   ' WITH CHECK (tenant_id = (SELECT nullif(current_setting(%L, true), '''')))',
                   t || '_tenant_isolation', '${schema}', t, '${tenant_setting}', '${tenant_setting}');
  END LOOP;
END
$$;
