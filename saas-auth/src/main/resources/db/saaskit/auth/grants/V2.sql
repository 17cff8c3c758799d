-- API keys: the application role creates, lists, revokes and marks keys used, never deletes them (revoked keys
-- stay for audit) and never rewrites the secret hash or the scopes after creation.
GRANT SELECT, INSERT ON ${schema}.api_keys TO ${role};
GRANT UPDATE (revoked_at, revoked_by, last_used_at) ON ${schema}.api_keys TO ${role};
