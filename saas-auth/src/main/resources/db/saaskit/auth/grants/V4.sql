-- SAML service provider state: the application role records outstanding requests and accepted assertion ids,
-- consumes a request once, and prunes expired rows. No UPDATE (rows are never rewritten), no TRUNCATE.
-- SELECT is needed by DELETE ... WHERE and by INSERT ... ON CONFLICT.
GRANT SELECT, INSERT, DELETE ON ${schema}.saml_requests TO ${role};
GRANT SELECT, INSERT, DELETE ON ${schema}.saml_assertions TO ${role};
