-- the application schema saaskit tenants onboard applies to a new dedicated database (TenantsCommandTest)
CREATE TABLE notes (
  tenant_id text NOT NULL DEFAULT current_setting('app.tenant_id', true),
  id bigint,
  body text,
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY t ON notes USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
