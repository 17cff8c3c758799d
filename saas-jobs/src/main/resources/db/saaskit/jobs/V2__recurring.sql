-- saas-jobs schema, version 2: recurring (cron) job definitions.
-- Placeholders: ${schema}, ${tenant_setting} (see V1). The worker role's policy is added by the grant step.

-- One row per recurring job, shared by every scheduler node. The row is the source of truth: any node fires any
-- row (also one no running node declares), and the row lock taken while firing is what makes each occurrence
-- enqueued exactly once across nodes. A few rows, updated about once per occurrence: default storage settings.
CREATE TABLE ${schema}.recurring_jobs (
  name                 text        PRIMARY KEY,
  cron                 text        NOT NULL,
  cron_syntax          text        NOT NULL CHECK (cron_syntax IN ('unix', 'spring', 'quartz')),
  zone                 text        NOT NULL,               -- a java.time.ZoneId, e.g. 'UTC', 'Europe/Paris'
  tenant_id            text,                               -- NULL: a system job (no tenant)
  queue                text        NOT NULL,
  type                 text        NOT NULL,
  payload              jsonb       NOT NULL,
  priority             smallint    NOT NULL DEFAULT 0,
  max_attempts         integer     NOT NULL DEFAULT 20 CHECK (max_attempts >= 1),
  timeout_ms           bigint      CHECK (timeout_ms > 0),
  misfire_policy       text        NOT NULL DEFAULT 'fire_once' CHECK (misfire_policy IN ('fire_once', 'fire_all', 'skip')),
  misfire_threshold_ms bigint      NOT NULL DEFAULT 60000 CHECK (misfire_threshold_ms >= 0),
  max_catch_up         integer     NOT NULL DEFAULT 100 CHECK (max_catch_up >= 1),
  enabled              boolean     NOT NULL DEFAULT true,
  next_fire_at         timestamptz,                        -- NULL: the expression has no further occurrence
  last_fired_at        timestamptz,                        -- the latest occurrence enqueued
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- The scheduler's poll: enabled jobs by next fire time.
CREATE INDEX recurring_jobs_due_idx ON ${schema}.recurring_jobs (next_fire_at) WHERE enabled;
-- Tenant listings (and RLS lookups) lead with tenant_id.
CREATE INDEX recurring_jobs_tenant_idx ON ${schema}.recurring_jobs (tenant_id);

ALTER TABLE ${schema}.recurring_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${schema}.recurring_jobs FORCE ROW LEVEL SECURITY;

-- Same rule as the job table: a role without its own policy sees only the current tenant's definitions, and none
-- without a tenant. Only worker roles (JobsSchema.grantWorker) get privileges on this table.
CREATE POLICY recurring_jobs_tenant_isolation ON ${schema}.recurring_jobs
  USING (tenant_id = (SELECT current_setting('${tenant_setting}', true)))
  WITH CHECK (tenant_id = (SELECT current_setting('${tenant_setting}', true)));
