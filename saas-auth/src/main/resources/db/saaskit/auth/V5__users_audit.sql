-- saas-auth schema, version 5: says in the catalog why users carry no tenant column.
-- Placeholders: ${schema} (default saaskit_auth). No grants.
--
-- Memberships (tenant data, under RLS) reference users, so saaskit's RLS audit sees users as a parent of tenant
-- data that the application role writes (rule tenant-data-without-tenant-column, INFO). A user is a person who may
-- belong to several tenants: the table is shared on purpose, and what a tenant may see of it goes through its
-- memberships. The comment accepts that finding, as docs/rls-audit.md describes.

COMMENT ON TABLE ${schema}.users IS 'saaskit-audit: tenant-data-without-tenant-column -- a user belongs to no tenant; a tenant reaches users through its memberships (under RLS)';
