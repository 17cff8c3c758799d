-- The database and the three roles of a saaskit service, as in production.
-- Run once as a superuser (or a role with CREATEROLE and CREATEDB):
--   psql -h 127.0.0.1 -U postgres -f setup.sql
-- Then set real passwords: \password notes_owner (and notes_app, notes_worker), or use your secret store.
--
--   notes_owner   owns the database, the schema public and every table; runs the migrations (yours, and
--                 saaskit's jobs and cache schemas, which it creates: hence it owns the database)
--   notes_app     what the application's pool logs in as: no superuser, no BYPASSRLS, owns nothing, only the
--                 privileges below; Row-Level Security applies to it
--   notes_worker  what the job worker's pool logs in as: claims and finishes jobs of every tenant through the
--                 jobs schema's worker policy (granted by the migration), and nothing else

CREATE ROLE notes_owner LOGIN PASSWORD 'owner-change-me' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE notes_app LOGIN PASSWORD 'app-change-me' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE notes_worker LOGIN PASSWORD 'worker-change-me' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;

CREATE DATABASE notes OWNER notes_owner;
REVOKE ALL ON DATABASE notes FROM PUBLIC;
GRANT CONNECT ON DATABASE notes TO notes_app, notes_worker;

\connect notes

-- PostgreSQL 14 and older let every role create objects in public: take that away
ALTER SCHEMA public OWNER TO notes_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO notes_app;

-- every table and sequence the owner creates in public is usable (not alterable) by the app role
ALTER DEFAULT PRIVILEGES FOR ROLE notes_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO notes_app;
ALTER DEFAULT PRIVILEGES FOR ROLE notes_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO notes_app;
