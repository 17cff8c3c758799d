-- saas-cache schema, version 1: the invalidation log that every PostgresInvalidationBus node reads.
-- Placeholder replaced by CacheSchema.migrate: ${schema} (default saaskit_cache), as a quoted identifier.
-- Privileges for the application role come from CacheSchema.grantApp, not from here.
--
-- No row-level security: the log is cross-tenant infrastructure that every node must read in full, and it holds
-- no tenant data beyond the ids inside keys and tags. Its tenant column is named "tenant", not "tenant_id", so the
-- RLS audit does not take it for a tenant table.

CREATE SCHEMA IF NOT EXISTS ${schema};

-- One row per published invalidation. A node's position is the pg_snapshot of its last read, and the rows it has
-- not seen are those of transactions that snapshot did not see committed: tx in its in-progress list or tx >= its
-- xmax. So the transaction id (tx), not seq, is what readers search by; seq only orders rows within a read.
-- Rows are inserted and deleted, never updated.
CREATE TABLE ${schema}.invalidation_log (
  seq        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tx         xid8        NOT NULL DEFAULT pg_current_xact_id(),
  scope      text        NOT NULL CHECK (scope IN ('KEY', 'TAG', 'TENANT', 'ALL')),
  cache_name text        CHECK (length(cache_name) BETWEEN 1 AND 1024),
  tenant     text        CHECK (length(tenant) BETWEEN 1 AND 128),
  value      text        CHECK (length(value) BETWEEN 1 AND 1024),
  created_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  CONSTRAINT invalidation_log_parts_fit_scope CHECK (CASE scope
    WHEN 'KEY'    THEN cache_name IS NOT NULL AND value IS NOT NULL
    WHEN 'TAG'    THEN value IS NOT NULL AND tenant IS NULL
    WHEN 'TENANT' THEN tenant IS NOT NULL AND value IS NULL
    ELSE tenant IS NULL AND value IS NULL END)
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

CREATE INDEX invalidation_log_tx_idx ON ${schema}.invalidation_log (tx);

-- Pruning bookkeeping, one row. Pruners lock it (FOR UPDATE SKIP LOCKED) so only one deletes at a time.
-- last_pruned_tx: the highest transaction id whose rows were deleted; a node whose snapshot xmin is not above it
-- may have missed a deleted row and flushes its caches.
CREATE TABLE ${schema}.prune_state (
  id             boolean     PRIMARY KEY DEFAULT true CHECK (id),
  last_pruned_tx xid8,
  pruned_rows    bigint      NOT NULL DEFAULT 0,
  pruned_at      timestamptz
);
INSERT INTO ${schema}.prune_state DEFAULT VALUES;

-- Snapshot horizons recorded by pruners: at recorded_at every transaction below horizon had finished. Pruning "older
-- than D" deletes the rows of transactions below the newest horizon recorded at least D ago, i.e. of transactions
-- finished for at least D, whatever their insert time.
CREATE TABLE ${schema}.prune_horizon (
  recorded_at timestamptz NOT NULL,
  horizon     xid8        NOT NULL
);
CREATE INDEX prune_horizon_recorded_at_idx ON ${schema}.prune_horizon (recorded_at);

-- Expands a tag template such as 'plans:{tenant_id}' with a row's columns, rendered as to_jsonb(row) ->> column
-- (text as is, numbers and uuids in their text form, booleans true/false, NULL as the empty string). A brace
-- without its partner is literal text. A placeholder naming a missing column is an error, never a wrong tag.
CREATE FUNCTION ${schema}.expand_tag(template text, row_data jsonb) RETURNS text
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  result   text := '';
  rest     text := template;
  open_at  int;
  close_at int;
  col      text;
BEGIN
  LOOP
    open_at := strpos(rest, '{');
    EXIT WHEN open_at = 0;
    close_at := strpos(substr(rest, open_at + 1), '}');
    EXIT WHEN close_at = 0;
    col := substr(rest, open_at + 1, close_at - 1);
    IF NOT row_data ? col THEN
      RAISE EXCEPTION 'tag template % names column "%", which the table does not have', template, col
        USING ERRCODE = 'undefined_column';
    END IF;
    result := result || substr(rest, 1, open_at - 1) || coalesce(row_data ->> col, '');
    rest := substr(rest, open_at + close_at + 1);
  END LOOP;
  RETURN result || rest;
END
$$;

-- Statement-level trigger function: writes one TAG invalidation per distinct expanded tag of the rows a statement
-- changed (old and new rows for an UPDATE, so a change of the tag's columns invalidates both), in the same
-- transaction as the change. TG_ARGV[0]: the tag template; TG_ARGV[1] (optional): the cache name, else every
-- cache. On TRUNCATE the rows are unknown: it writes an ALL invalidation (of that cache, or of every cache).
-- Attach with CacheSchema.attachTrigger, which creates the four triggers (INSERT, UPDATE, DELETE with their
-- transition tables, TRUNCATE). SECURITY DEFINER: any role that may change the table writes the log, without a
-- privilege on it; the function reads no tenant table and EXECUTE is revoked from PUBLIC (only the role that
-- attaches the triggers needs it; firing a trigger checks no privilege).
CREATE FUNCTION ${schema}.invalidate_tag_trigger() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- prefixed: the transition tables carry the user's column names, which must not shadow these
  _template text;
  _cache    text;
BEGIN
  IF TG_LEVEL <> 'STATEMENT' OR TG_WHEN <> 'AFTER' THEN
    RAISE EXCEPTION 'invalidate_tag_trigger on % must run AFTER ... FOR EACH STATEMENT; attach it with CacheSchema.attachTrigger',
      TG_TABLE_NAME;
  END IF;
  IF TG_NARGS < 1 OR TG_NARGS > 2 THEN
    RAISE EXCEPTION 'invalidate_tag_trigger takes a tag template and an optional cache name, but got % arguments',
      TG_NARGS;
  END IF;
  _template := TG_ARGV[0];
  _cache := CASE WHEN TG_NARGS = 2 THEN nullif(TG_ARGV[1], '') END;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ${schema}.invalidation_log (scope, cache_name, value)
    SELECT DISTINCT 'TAG', _cache, ${schema}.expand_tag(_template, to_jsonb(n)) FROM saaskit_new n;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO ${schema}.invalidation_log (scope, cache_name, value)
    SELECT DISTINCT 'TAG', _cache, ${schema}.expand_tag(_template, r.j)
    FROM (SELECT to_jsonb(o) AS j FROM saaskit_old o UNION ALL SELECT to_jsonb(n) FROM saaskit_new n) r;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO ${schema}.invalidation_log (scope, cache_name, value)
    SELECT DISTINCT 'TAG', _cache, ${schema}.expand_tag(_template, to_jsonb(o)) FROM saaskit_old o;
  ELSIF TG_OP = 'TRUNCATE' THEN
    INSERT INTO ${schema}.invalidation_log (scope, cache_name) VALUES ('ALL', _cache);
  END IF;
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION ${schema}.invalidate_tag_trigger() FROM PUBLIC;
