-- Grants of V2 to the application role ${role}: the aggregate function only, nothing on subscription_facts.
GRANT EXECUTE ON FUNCTION ${schema}.subscription_metrics() TO ${role};
GRANT EXECUTE ON FUNCTION ${schema}.routed_tenants(text, integer) TO ${role};
