CREATE TABLE customers (tenant_id text NOT NULL, id bigint PRIMARY KEY);
CREATE TABLE this is not sql;
