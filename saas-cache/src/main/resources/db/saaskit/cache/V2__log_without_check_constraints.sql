-- saas-cache schema, version 2: the log loses its CHECK constraints, which cost more than the rest of the insert.
-- Placeholder replaced by CacheSchema.migrate: ${schema} (default saaskit_cache), as a quoted identifier.
--
-- Why: PostgreSQL rebuilds a table's CHECK expressions at every execution of an INSERT (ExecRelCheck parses each
-- constraint's stored node tree and plans it again for every statement, prepared or not; only multi-row statements
-- share the work). With the five constraints of version 1, that was about 25 of the ~55 microseconds of server CPU
-- that publish(connection, ...) adds to a business transaction (PostgreSQL 15, measured with pgbench: 94 vs 69 us
-- per transaction, against 38 for the transaction without the invalidation; docs/cache-invalidation.md).
--
-- The constraints guarded nothing the readers rely on: the application role may insert only scope, cache_name,
-- tenant and value (CacheSchema.grantApp), the library writes only values that Invalidation has checked, and a
-- reader that meets a row it cannot decode (a wrong scope, a missing part, a text too long) treats it as a lost
-- invalidation and flushes its subscribers. The one writer whose values are not checked in Java is the tag
-- trigger: expand_tag now refuses an expanded tag that is empty or longer than 1024 characters itself, so a
-- change whose tag cannot be encoded still fails in its own transaction, as it did with the constraint.

ALTER TABLE ${schema}.invalidation_log
  DROP CONSTRAINT invalidation_log_parts_fit_scope,
  DROP CONSTRAINT invalidation_log_scope_check,
  DROP CONSTRAINT invalidation_log_cache_name_check,
  DROP CONSTRAINT invalidation_log_tenant_check,
  DROP CONSTRAINT invalidation_log_value_check;

CREATE OR REPLACE FUNCTION ${schema}.expand_tag(template text, row_data jsonb) RETURNS text
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
  result := result || rest;
  IF length(result) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'tag template % expands to a tag of % characters; a tag must have 1 to 1024', template,
      length(result) USING ERRCODE = 'check_violation';
  END IF;
  RETURN result;
END
$$;
