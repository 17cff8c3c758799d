-- saas-jobs schema, version 3: an empty tenant id means no tenant, in the policies and in the tables.
-- Placeholders: ${schema}, ${tenant_setting} (see V1).
--
-- saas-tenancy's TenantDataSource (and any pooled connection that once had a tenant) leaves the tenant setting at
-- '' when no tenant is set, and the V1/V2 policies compared tenant_id with that '' as it was: code with no tenant
-- could create, read and cancel rows of tenant_id '', which no worker claims, whose unique key shared the index
-- bucket of system jobs (coalesce(tenant_id, '')), and which the operator's tools could not display.

-- 1. Such rows belong to nobody: no tenant sees them and no worker ever ran them (a worker's walk starts after
--    ''). A row of tenant '' can only have come from code that wrote the job table directly with no tenant set,
--    so its payload came from nowhere trusted: making it a system job (tenant NULL) would hand it the workers'
--    rights on a retry, so it is deleted. Inspect them before upgrading with
--    SELECT * FROM <schema>.jobs WHERE tenant_id = '' (and recurring_jobs) if you want to know where they came
--    from. FORCE ROW LEVEL SECURITY applies to the owner that runs this migration too, and the old policy would
--    hide these rows from it, so it is lifted for the two deletes; the whole migration is one transaction, which
--    holds the tables' ACCESS EXCLUSIVE lock until it commits, so nobody sees the tables unforced.
ALTER TABLE ${schema}.jobs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.recurring_jobs NO FORCE ROW LEVEL SECURITY;
DELETE FROM ${schema}.jobs WHERE tenant_id = '';
DELETE FROM ${schema}.recurring_jobs WHERE tenant_id = '';
ALTER TABLE ${schema}.jobs FORCE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.recurring_jobs FORCE ROW LEVEL SECURITY;

-- 2. Whatever a role's policy says (the worker role's admits every row), no row can have tenant '' again. NULL
--    stays allowed: it is the system jobs' tenant. Added valid at once rather than NOT VALID + VALIDATE: the
--    migrator runs every pending script in one transaction, so the lock taken here is held to the end anyway, and
--    a split would only leave the table scan where it is.
ALTER TABLE ${schema}.jobs ADD CONSTRAINT jobs_tenant_id_not_empty CHECK (tenant_id <> '');
ALTER TABLE ${schema}.recurring_jobs ADD CONSTRAINT recurring_jobs_tenant_id_not_empty CHECK (tenant_id <> '');

-- 3. The tenant policies map '' to NULL, so an empty setting, like an unset one, admits no row and no write.
ALTER POLICY jobs_tenant_isolation ON ${schema}.jobs
  USING (tenant_id = (SELECT nullif(current_setting('${tenant_setting}', true), '')))
  WITH CHECK (tenant_id = (SELECT nullif(current_setting('${tenant_setting}', true), '')));
ALTER POLICY recurring_jobs_tenant_isolation ON ${schema}.recurring_jobs
  USING (tenant_id = (SELECT nullif(current_setting('${tenant_setting}', true), '')))
  WITH CHECK (tenant_id = (SELECT nullif(current_setting('${tenant_setting}', true), '')));

-- 4. Unique keys: a tenant's live jobs per (tenant_id, unique_key), system jobs (tenant NULL) per unique_key, in two
--    partial indexes rather than one over coalesce(tenant_id, ''), which put '' and NULL in one bucket. Two
--    indexes rather than one UNIQUE NULLS NOT DISTINCT: they need no PostgreSQL 15 feature, the tenants' index
--    leads with tenant_id like every other tenant index, and each INSERT ... ON CONFLICT names exactly one of them
--    as its arbiter.
DROP INDEX ${schema}.jobs_unique_idx;
CREATE UNIQUE INDEX jobs_unique_idx ON ${schema}.jobs (tenant_id, unique_key)
  WHERE tenant_id IS NOT NULL AND unique_key IS NOT NULL AND state IN ('pending', 'running');
CREATE UNIQUE INDEX jobs_system_unique_idx ON ${schema}.jobs (unique_key)
  WHERE tenant_id IS NULL AND unique_key IS NOT NULL AND state IN ('pending', 'running');
