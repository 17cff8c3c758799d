-- saas-auth schema, version 1: users, memberships, invitations, the permission-change log.
-- Placeholders: ${schema} (default saaskit_auth), ${tenant_setting} (default app.tenant_id).
-- (skeleton: the memberships work fills this in)
CREATE SCHEMA IF NOT EXISTS ${schema};
