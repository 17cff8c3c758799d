-- Grants of V1 to the application role ${role}. No TRUNCATE, nothing on the route table.
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.customers TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.products TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.prices TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.subscriptions TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.subscription_items TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.invoices TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.checkout_sessions TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.entitlement_summaries TO ${role};
GRANT SELECT, INSERT, UPDATE ON ${schema}.usage_outbox TO ${role};
GRANT SELECT, INSERT, UPDATE ON ${schema}.events TO ${role};
GRANT SELECT, INSERT, UPDATE ON ${schema}.listener_deliveries TO ${role};
GRANT EXECUTE ON FUNCTION ${schema}.route_customer(text) TO ${role};
GRANT EXECUTE ON FUNCTION ${schema}.usage_pending_tenants(integer) TO ${role};
GRANT EXECUTE ON FUNCTION ${schema}.usage_tenant_drained(text, bigint) TO ${role};
