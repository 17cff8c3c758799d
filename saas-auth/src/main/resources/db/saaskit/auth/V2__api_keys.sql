-- saas-auth schema, version 2: tenant-owned API keys.
-- Placeholders: ${schema} (default saaskit_auth), ${tenant_setting} (default app.tenant_id).
-- The grants of the application role are in grants/V2.sql. Guide: docs/auth-api-keys.md.

CREATE SCHEMA IF NOT EXISTS ${schema};

-- One row per key, kept after revocation for audit. A presented key names its tenant (see docs/auth-api-keys.md),
-- so it is looked up under that tenant's row-level security: no lookup around RLS is needed. Only a hash of the secret is stored: HMAC-SHA-256 with a
-- server pepper (hash_alg 'hmac-sha256', pepper_id naming the pepper) or SHA-256 ('sha256').
CREATE TABLE ${schema}.api_keys (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     text        NOT NULL,
  public_id     text        NOT NULL UNIQUE CHECK (public_id ~ '^[0-9A-Za-z]{12,32}$'),
  name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  secret_hash   bytea       NOT NULL CHECK (length(secret_hash) = 32),
  hash_alg      text        NOT NULL CHECK (hash_alg IN ('sha256', 'hmac-sha256')),
  pepper_id     text        CHECK ((hash_alg = 'hmac-sha256') = (pepper_id IS NOT NULL)),
  scopes        text[]      NOT NULL,
  created_by    text        NOT NULL,
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz,
  revoked_at    timestamptz,
  revoked_by    text,
  last_used_at  timestamptz
);
CREATE INDEX api_keys_tenant_idx ON ${schema}.api_keys (tenant_id, created_at);

ALTER TABLE ${schema}.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_tenant_isolation ON ${schema}.api_keys
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));
