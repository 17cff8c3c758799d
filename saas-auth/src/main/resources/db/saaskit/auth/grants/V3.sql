-- Grants of V3 (SSO) to the application role ${role}. No TRUNCATE, nothing on the route table.
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.sso_connections TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.sso_domains TO ${role};
GRANT SELECT, INSERT, DELETE ON ${schema}.sso_login_states TO ${role};
GRANT EXECUTE ON FUNCTION ${schema}.sso_route_domain(text) TO ${role};
