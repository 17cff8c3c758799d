-- saas-auth schema, version 3: SSO connections per tenant, their email domains, OIDC login state, and the
-- cross-tenant route from a verified email domain to its connection.
-- Placeholders: ${schema} (default saaskit_auth), ${tenant_setting} (default app.tenant_id).
-- Self-contained: references no table of V1 or V2.

CREATE SCHEMA IF NOT EXISTS ${schema};

-- One row per SSO connection of a tenant. The OIDC client secret is stored here (a secret at rest: see
-- docs/auth-sso.md, "Protecting the client secret"); the application role reads it under RLS, one tenant at a time.
CREATE TABLE ${schema}.sso_connections (
  tenant_id            text        NOT NULL,
  id                   uuid        NOT NULL,
  protocol             text        NOT NULL CHECK (protocol IN ('OIDC', 'SAML')),
  display_name         text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  enabled              boolean     NOT NULL DEFAULT true,
  default_role         text        NOT NULL CHECK (length(default_role) BETWEEN 1 AND 200),
  require_email_domain boolean     NOT NULL DEFAULT true,
  oidc_issuer          text,
  oidc_client_id       text,
  oidc_client_secret   text,
  saml_idp_entity_id   text,
  saml_sso_url         text,
  saml_idp_cert_pem    text,
  saml_sp_entity_id    text,
  saml_acs_url         text,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT sso_connections_settings_fit_protocol CHECK (
    (protocol = 'OIDC' AND oidc_issuer IS NOT NULL AND oidc_client_id IS NOT NULL AND oidc_client_secret IS NOT NULL
      AND saml_idp_entity_id IS NULL AND saml_sso_url IS NULL AND saml_idp_cert_pem IS NULL)
    OR (protocol = 'SAML' AND saml_idp_entity_id IS NOT NULL AND saml_sso_url IS NOT NULL
      AND saml_idp_cert_pem IS NOT NULL AND saml_sp_entity_id IS NOT NULL AND saml_acs_url IS NOT NULL
      AND oidc_issuer IS NULL AND oidc_client_id IS NULL AND oidc_client_secret IS NULL))
);
CREATE UNIQUE INDEX sso_connections_id_idx ON ${schema}.sso_connections (id);

ALTER TABLE ${schema}.sso_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.sso_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_connections_tenant_isolation ON ${schema}.sso_connections
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));

-- The email domains of a connection: pending (a DNS TXT value to publish) or verified (by DNS or by an admin).
-- A domain is verified for one tenant at most: the partial unique index decides a race between two tenants
-- (indexes see every row, whatever RLS hides).
CREATE TABLE ${schema}.sso_domains (
  tenant_id       text        NOT NULL,
  connection_id   uuid        NOT NULL,
  domain          text        NOT NULL CHECK (domain = lower(domain) AND length(domain) BETWEEN 3 AND 253),
  txt_value       text        NOT NULL,
  verified_at     timestamptz,
  verified_by     text        CHECK (verified_by IN ('DNS', 'ADMIN')),
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, connection_id, domain),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES ${schema}.sso_connections (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT sso_domains_verified_fits CHECK ((verified_at IS NULL) = (verified_by IS NULL))
);
CREATE UNIQUE INDEX sso_domains_verified_once_idx ON ${schema}.sso_domains (domain) WHERE verified_at IS NOT NULL;
CREATE INDEX sso_domains_tenant_domain_idx ON ${schema}.sso_domains (tenant_id, domain);

ALTER TABLE ${schema}.sso_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.sso_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_domains_tenant_isolation ON ${schema}.sso_domains
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));

-- OIDC logins under way: keyed by SHA-256 of the state (the state itself is never stored), single use (taken by
-- DELETE ... RETURNING), expiring. The state carries its tenant, so the callback sets the tenant before reading.
CREATE TABLE ${schema}.sso_login_states (
  tenant_id       text        NOT NULL,
  state_hash      bytea       NOT NULL CHECK (length(state_hash) = 32),
  connection_id   uuid        NOT NULL,
  nonce           text        NOT NULL,
  code_verifier   text        NOT NULL,
  redirect_uri    text        NOT NULL,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, state_hash),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES ${schema}.sso_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sso_login_states_expiry_idx ON ${schema}.sso_login_states (tenant_id, expires_at);

ALTER TABLE ${schema}.sso_login_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.sso_login_states FORCE ROW LEVEL SECURITY;
CREATE POLICY sso_login_states_tenant_isolation ON ${schema}.sso_login_states
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));

-- The route from a VERIFIED email domain to its tenant and connection, needed before any tenant is known (a user
-- types an email on the login page). Cross-tenant by nature, like a directory of tenants: no RLS, and the
-- application role has no privilege on it at all. Kept by the trigger below from sso_domains, read only through
-- sso_route_domain(). The column is routed_tenant_id (not tenant_id): the table holds no tenant's data but the
-- public fact "this domain belongs to that tenant's SSO".
CREATE TABLE ${schema}.sso_domain_routes (
  domain           text PRIMARY KEY,
  routed_tenant_id text NOT NULL,
  connection_id    uuid NOT NULL
);

CREATE FUNCTION ${schema}.sso_domains_route() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.verified_at IS NOT NULL THEN
    DELETE FROM ${schema}.sso_domain_routes
     WHERE domain = OLD.domain AND routed_tenant_id = OLD.tenant_id AND connection_id = OLD.connection_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.verified_at IS NOT NULL THEN
    INSERT INTO ${schema}.sso_domain_routes (domain, routed_tenant_id, connection_id)
    VALUES (NEW.domain, NEW.tenant_id, NEW.connection_id);
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION ${schema}.sso_domains_route() FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.sso_domains_route() IS 'saaskit-audit: security-definer-function -- trigger of sso_domains: copies the row being written (NEW/OLD, already checked by the RLS policy) into the route table, reads no tenant table, not executable by PUBLIC';

CREATE TRIGGER sso_domains_route AFTER INSERT OR UPDATE OR DELETE ON ${schema}.sso_domains
  FOR EACH ROW EXECUTE FUNCTION ${schema}.sso_domains_route();

-- Pre-tenant routing: the tenant and connection of one exact, verified domain; nothing else (no listing, no
-- pattern, no pending domain, no connection settings: the caller then reads the connection under that tenant).
CREATE FUNCTION ${schema}.sso_route_domain(p_domain text)
  RETURNS TABLE (tenant_id text, connection_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.routed_tenant_id, r.connection_id FROM ${schema}.sso_domain_routes r WHERE r.domain = p_domain
$$;
REVOKE ALL ON FUNCTION ${schema}.sso_route_domain(text) FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.sso_route_domain(text) IS 'saaskit-audit: security-definer-function -- pre-tenant SSO routing: returns the tenant and connection id of one exact verified email domain (a fact the domain owner published), reads only the route table, never connection settings or pending domains';
