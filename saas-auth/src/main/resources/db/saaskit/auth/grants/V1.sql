-- Grants of V1 (users, memberships, invitations, permission-change log) to the application role ${role}.
-- No TRUNCATE anywhere, no DELETE on memberships (a removed membership keeps its row so its version only grows),
-- no UPDATE or DELETE on the permission-change log, nothing on the invitation route table.
GRANT SELECT, INSERT ON ${schema}.users TO ${role};
GRANT UPDATE (email) ON ${schema}.users TO ${role};
GRANT SELECT, INSERT, UPDATE ON ${schema}.memberships TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.invitations TO ${role};
GRANT SELECT, INSERT ON ${schema}.permission_changes TO ${role};
GRANT EXECUTE ON FUNCTION ${schema}.invitation_by_token_hash(bytea, timestamptz) TO ${role}
