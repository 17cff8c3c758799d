-- saas-jobs schema, version 1: the job table.
-- Placeholders replaced by the migration helper: ${schema} (default saaskit_jobs), ${tenant_setting}
-- (default app.tenant_id). Roles and their policies are added by the helper's grant step, not here.

CREATE SCHEMA IF NOT EXISTS ${schema};

-- One row per job, kept after it finishes (for status polling) until retention prunes it.
-- Heavy churn: every job is inserted, updated 2-3 times and deleted. fillfactor leaves room on each page so the
-- updates that do not touch an indexed column (heartbeats, progress) stay HOT; autovacuum runs after 2% of the
-- table changed instead of 20%, so dead tuples do not pile up in front of the claim index.
CREATE TABLE ${schema}.jobs (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id        text,                        -- NULL: a job of no tenant (system work), invisible to app roles
  queue            text        NOT NULL,
  type             text        NOT NULL,
  payload          jsonb       NOT NULL,
  state            text        NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'running', 'completed', 'dead', 'cancelled')),
  priority         smallint    NOT NULL DEFAULT 0,   -- lower runs first
  run_at           timestamptz NOT NULL DEFAULT now(),
  attempts         integer     NOT NULL DEFAULT 0,   -- attempts started so far
  max_attempts     integer     NOT NULL DEFAULT 20 CHECK (max_attempts >= 1),
  timeout_ms       bigint      CHECK (timeout_ms > 0),
  unique_key       text,
  lease_epoch      bigint      NOT NULL DEFAULT 0,   -- fencing token: bumped on every claim
  lease_expires_at timestamptz,
  worker_id        text,
  cancel_requested boolean     NOT NULL DEFAULT false,
  progress         real        CHECK (progress >= 0 AND progress <= 1),
  progress_message text,
  result           jsonb,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
) WITH (fillfactor = 70,
        autovacuum_vacuum_scale_factor = 0.02,
        autovacuum_analyze_scale_factor = 0.02,
        autovacuum_vacuum_cost_delay = 1);

-- Claim: per queue, per tenant (fair claiming walks tenants), in run order.
CREATE INDEX jobs_claim_idx ON ${schema}.jobs (queue, tenant_id, priority, run_at, id) WHERE state = 'pending';
-- Rescue: running jobs whose lease ran out.
CREATE INDEX jobs_lease_idx ON ${schema}.jobs (lease_expires_at) WHERE state = 'running';
-- Retention: finished jobs by age.
CREATE INDEX jobs_finished_idx ON ${schema}.jobs (finished_at) WHERE state IN ('completed', 'dead', 'cancelled');
-- Tenant listings (and RLS lookups) lead with tenant_id.
CREATE INDEX jobs_tenant_idx ON ${schema}.jobs (tenant_id, created_at);
-- Unique jobs: one pending or running job per (tenant, unique key).
CREATE UNIQUE INDEX jobs_unique_idx ON ${schema}.jobs ((coalesce(tenant_id, '')), unique_key)
  WHERE unique_key IS NOT NULL AND state IN ('pending', 'running');

ALTER TABLE ${schema}.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.jobs FORCE ROW LEVEL SECURITY;

-- Application roles see and create only their tenant's jobs; no tenant set means no rows.
CREATE POLICY jobs_tenant_isolation ON ${schema}.jobs
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));
