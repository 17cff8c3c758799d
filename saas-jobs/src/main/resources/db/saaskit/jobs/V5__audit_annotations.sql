-- saas-jobs schema, version 5: what saas-tenancy's RLS audit should know about the job tables, as
-- 'saaskit-audit: <rule> -- <reason>' comments (see docs/rls-audit.md, "Annotations in the database").
-- Placeholders: ${schema} (see V1).
--
-- tenant_id is nullable on purpose: NULL marks a system job (or a system recurring definition), which no tenant
-- policy matches, since tenant_id = current_setting(...) is never true for NULL; only the worker role, through its
-- own policy (JobsSchema.grantWorker, annotated there), sees such rows.
-- The worker policies are created by grantWorker, per role, and carry their own annotation.
COMMENT ON TABLE ${schema}.jobs IS 'saaskit-audit: tenant-column-nullable -- NULL marks a system job (no tenant); the tenant policy never matches a NULL tenant, so the application role never sees or writes such rows';
COMMENT ON TABLE ${schema}.recurring_jobs IS 'saaskit-audit: tenant-column-nullable -- NULL marks a system recurring job (no tenant); the tenant policy never matches a NULL tenant, so the application role never sees or writes such rows';
