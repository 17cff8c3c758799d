-- saas-fleet control schema, version 2: when each tenant's placement last changed.
--
-- Why: after a move, a read replica of the target database may not have replayed the copied rows yet, and a
-- FleetDataSource that sent the tenant's reads there would serve the tenant empty. updated_at cannot tell: it also
-- moves when only the state changes. placed_at is set when the placement changes (TenantDirectory.compareAndSet),
-- and FleetDataSource reads a tenant from the primary until its placement is older than the replicas' lag bound.
-- NULL: the placement has not changed since the tenant was registered (its rows are written where it lives, and
-- read-your-writes covers the writer), as for every tenant registered before this version.
ALTER TABLE ${schema}.tenants ADD COLUMN placed_at timestamptz;
