-- saas-auth schema, version 1: users, memberships, invitations, the permission-change log.
-- Placeholders: ${schema} (default saaskit_auth), ${tenant_setting} (default app.tenant_id).
-- The grants of the application role are in grants/V1.sql. Guide: docs/auth-memberships.md.

CREATE SCHEMA IF NOT EXISTS ${schema};

-- One row per user, identified by (issuer, subject), never by email (mutable at several IdPs). Not tenant data:
-- a user belongs to no tenant (memberships say where they belong), so there is no tenant column and no RLS; the
-- email is informational (the last one an IdP stated), never a key.
CREATE TABLE ${schema}.users (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  issuer      text        NOT NULL CHECK (length(issuer) BETWEEN 1 AND 512),
  subject     text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  email       text        CHECK (length(email) <= 320),
  created_at  timestamptz NOT NULL,
  UNIQUE (issuer, subject)
);

-- The role of a user in a tenant. A removed membership keeps its row with role NULL, so that its permission
-- version only ever grows (a re-added user gets a version above every one issued before). Rows are never deleted
-- by the application role.
CREATE TABLE ${schema}.memberships (
  tenant_id           text        NOT NULL,
  user_id             bigint      NOT NULL REFERENCES ${schema}.users (id),
  role                text        CHECK (length(role) BETWEEN 1 AND 100),
  permission_version  bigint      NOT NULL CHECK (permission_version >= 0),
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_tenant_role_idx ON ${schema}.memberships (tenant_id, role);

ALTER TABLE ${schema}.memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_tenant_isolation ON ${schema}.memberships
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));

-- Invitations: only the SHA-256 of the token is stored (the token, 256 random bits, is shown once). Single use:
-- accepting sets accepted_at under the row lock; revoking sets revoked_at. The inviter (NULL: the system) is kept
-- so that accepting can re-check the inviter's current role.
CREATE TABLE ${schema}.invitations (
  tenant_id       text        NOT NULL,
  id              uuid        NOT NULL,
  token_hash      bytea       NOT NULL CHECK (length(token_hash) = 32),
  email           text        CHECK (length(email) <= 320),
  role            text        NOT NULL CHECK (length(role) BETWEEN 1 AND 100),
  invited_by      bigint      REFERENCES ${schema}.users (id),
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  accepted_at     timestamptz,
  accepted_by     bigint      REFERENCES ${schema}.users (id),
  revoked_at      timestamptz,
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT invitations_expiry_after_creation CHECK (expires_at > created_at),
  CONSTRAINT invitations_accepted_fits CHECK ((accepted_at IS NULL) = (accepted_by IS NULL))
);
CREATE UNIQUE INDEX invitations_token_hash_idx ON ${schema}.invitations (token_hash);
CREATE INDEX invitations_pending_idx ON ${schema}.invitations (tenant_id, expires_at)
  WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE ${schema}.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant_isolation ON ${schema}.invitations
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));

-- The append-only log of permission changes. The application role may SELECT and INSERT (grants/V1.sql); the
-- trigger below refuses UPDATE, DELETE and TRUNCATE whoever runs them, so only a deliberate DDL change by the owner
-- could rewrite history.
CREATE TABLE ${schema}.permission_changes (
  id              bigint      GENERATED ALWAYS AS IDENTITY,
  tenant_id       text        NOT NULL,
  change          text        NOT NULL CHECK (change IN ('ADD', 'CHANGE_ROLE', 'REMOVE', 'ACCEPT_INVITATION')),
  actor_issuer    text,
  actor_subject   text,
  user_id         bigint      NOT NULL REFERENCES ${schema}.users (id),
  before_role     text,
  before_version  bigint,
  after_role      text,
  after_version   bigint      NOT NULL,
  invitation_id   uuid,
  changed_at      timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT permission_changes_actor_fits CHECK ((actor_issuer IS NULL) = (actor_subject IS NULL))
);
CREATE INDEX permission_changes_user_idx ON ${schema}.permission_changes (tenant_id, user_id, id);

ALTER TABLE ${schema}.permission_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.permission_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY permission_changes_tenant_isolation ON ${schema}.permission_changes
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));

CREATE FUNCTION ${schema}.permission_changes_append_only() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'the permission-change log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER permission_changes_no_update_delete BEFORE UPDATE OR DELETE ON ${schema}.permission_changes
  FOR EACH ROW EXECUTE FUNCTION ${schema}.permission_changes_append_only();
CREATE TRIGGER permission_changes_no_truncate BEFORE TRUNCATE ON ${schema}.permission_changes
  FOR EACH STATEMENT EXECUTE FUNCTION ${schema}.permission_changes_append_only();

-- The route from a pending invitation's token hash to its tenant, needed before any tenant is known (a user opens
-- an invitation link). Cross-tenant by nature: no RLS, and the application role has no privilege on it at all.
-- Kept by the trigger below from the invitation rows, read only through invitation_by_token_hash(). The column is
-- routed_tenant_id (not tenant_id): the table holds no tenant's data, only "this 256-bit hash opens an invitation
-- of that tenant", which only the holder of the token can ask about.
CREATE TABLE ${schema}.invitation_routes (
  token_hash        bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
  routed_tenant_id  text        NOT NULL,
  invitation_id     uuid        NOT NULL,
  expires_at        timestamptz NOT NULL
);

CREATE FUNCTION ${schema}.invitation_route() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    DELETE FROM ${schema}.invitation_routes WHERE token_hash = OLD.token_hash;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.accepted_at IS NULL AND NEW.revoked_at IS NULL THEN
    INSERT INTO ${schema}.invitation_routes (token_hash, routed_tenant_id, invitation_id, expires_at)
    VALUES (NEW.token_hash, NEW.tenant_id, NEW.id, NEW.expires_at);
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION ${schema}.invitation_route() FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.invitation_route() IS 'saaskit-audit: security-definer-function -- trigger of the invitation table: copies the row being written (NEW/OLD, already checked by the RLS policy) into the route table while it is pending, reads no tenant table, not executable by PUBLIC';

CREATE TRIGGER invitation_route AFTER INSERT OR UPDATE OR DELETE ON ${schema}.invitations
  FOR EACH ROW EXECUTE FUNCTION ${schema}.invitation_route();

-- Pre-tenant lookup: the tenant and id of the one pending, unexpired invitation whose token hashes to p_token_hash;
-- nothing else (no listing, no pattern, no email or role: the caller then reads the invitation under that tenant,
-- where RLS applies, and re-checks everything).
CREATE FUNCTION ${schema}.invitation_by_token_hash(p_token_hash bytea, p_now timestamptz)
  RETURNS TABLE (tenant_id text, invitation_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.routed_tenant_id, r.invitation_id FROM ${schema}.invitation_routes r
   WHERE r.token_hash = p_token_hash AND r.expires_at > p_now
$$;
REVOKE ALL ON FUNCTION ${schema}.invitation_by_token_hash(bytea, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION ${schema}.invitation_by_token_hash(bytea, timestamptz) IS 'saaskit-audit: security-definer-function -- pre-tenant invitation lookup: returns the tenant and id of the one pending invitation whose token (256 random bits) hashes to the exact argument, reads only the route table, never email, role or other rows';
