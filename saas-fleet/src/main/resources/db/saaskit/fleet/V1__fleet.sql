-- saas-fleet control schema: which database each tenant lives in, and the journal of tenant moves.
-- Operational metadata, not tenant data: credentials are never stored here, only references a resolver turns into
-- credentials (environment variables by default).
CREATE TABLE ${schema}.shards (
  name            text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  jdbc_url        text NOT NULL CHECK (jdbc_url LIKE 'jdbc:postgresql:%'),
  credentials_ref text NOT NULL CHECK (credentials_ref ~ '^[A-Za-z0-9_]{1,100}$'),
  accepts_new     boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ${schema}.shards IS 'the shared databases of the fleet (operators only)';

CREATE TABLE ${schema}.tenants (
  tenant_id       text PRIMARY KEY CHECK (tenant_id <> ''),
  shard           text REFERENCES ${schema}.shards (name),
  jdbc_url        text CHECK (jdbc_url LIKE 'jdbc:postgresql:%'),
  credentials_ref text CHECK (credentials_ref ~ '^[A-Za-z0-9_]{1,100}$'),
  state           text NOT NULL CHECK (state IN ('active', 'read_only', 'moving', 'suspended', 'deleted')),
  version         bigint NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((shard IS NOT NULL AND jdbc_url IS NULL AND credentials_ref IS NULL)
      OR (shard IS NULL AND jdbc_url IS NOT NULL AND credentials_ref IS NOT NULL))
);
CREATE INDEX tenants_shard_idx ON ${schema}.tenants (shard) WHERE shard IS NOT NULL;
COMMENT ON TABLE ${schema}.tenants IS 'the placement of every tenant: a directory of tenants, not tenant data (read by the fleet and operators, never by a tenant); RLS audits of a database holding it list it in ignoreTables';

CREATE TABLE ${schema}.moves (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id       text NOT NULL,
  source_shard    text,
  source_url      text,
  source_ref      text,
  target_shard    text,
  target_url      text,
  target_ref      text,
  prior_state     text NOT NULL,
  step            text NOT NULL,
  status          text NOT NULL CHECK (status IN ('running', 'done', 'rolled_back')),
  blocked_at      timestamptz,
  blocked_ms      bigint,
  rows_copied     bigint NOT NULL DEFAULT 0,
  detail          text NOT NULL DEFAULT '',
  started_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX moves_one_running_idx ON ${schema}.moves (tenant_id) WHERE status = 'running';
COMMENT ON TABLE ${schema}.moves IS 'the journal of tenant moves, not tenant data (operators only); RLS audits of a database holding it list it in ignoreTables';
