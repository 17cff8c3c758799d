-- saas-auth schema, version 4: state of the SAML 2.0 service provider (dev.saaskit.auth.saml).
-- Placeholders: ${schema} (default saaskit_auth). Grants of the application role: grants/V4.sql.
-- Guide: docs/auth-saml.md.
--
-- Neither table holds tenant data: a row is a SHA-256 hash of a random AuthnRequest ID (or of an IdP's assertion
-- ID, with the entity ids it was issued between) and the time after which it no longer matters. No tenant column,
-- nothing personal, nothing that can be turned back into an id; so no row-level security (the RLS audit only
-- judges tables with a tenant column), and the application role gets only SELECT, INSERT and DELETE.

CREATE SCHEMA IF NOT EXISTS ${schema};

-- AuthnRequests sent and not yet answered: a Response must name one of these in InResponseTo; the row is deleted
-- when that Response is accepted, so each request is answered at most once.
CREATE TABLE ${schema}.saml_requests (
  request_hash bytea       PRIMARY KEY CHECK (length(request_hash) = 32),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX saml_requests_expires_idx ON ${schema}.saml_requests (expires_at);

-- Assertions already accepted, kept until they could no longer be accepted anyway (their NotOnOrAfter plus the
-- clock skew): a second Response carrying the same assertion is refused as a replay.
CREATE TABLE ${schema}.saml_assertions (
  assertion_hash bytea       PRIMARY KEY CHECK (length(assertion_hash) = 32),
  expires_at     timestamptz NOT NULL
);
CREATE INDEX saml_assertions_expires_idx ON ${schema}.saml_assertions (expires_at);
