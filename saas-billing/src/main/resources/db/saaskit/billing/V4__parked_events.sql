-- saas-billing schema, version 4: events of a customer no tenant owns yet are parked, not failed.
-- Placeholders: ${schema}, ${tenant_setting}. No new grants (the application role already reads and updates events).
--
-- Until version 3, such an event failed and its delivery answered 500 until an operator acted; Stripe disables an
-- endpoint that keeps failing for days, and with it every billing update. Now the event is recorded as 'parked'
-- (answered 2xx) with the customer it waits for, and applied as soon as that customer is linked to a tenant. An
-- operator may also discard an event ('discarded': kept for the record, never applied).

ALTER TABLE ${schema}.events DROP CONSTRAINT IF EXISTS events_status_check;
ALTER TABLE ${schema}.events ADD CONSTRAINT events_status_check
  CHECK (status IN ('received', 'applied', 'failed', 'ignored', 'parked', 'discarded'));
ALTER TABLE ${schema}.events ADD COLUMN parked_customer text;
CREATE INDEX events_parked_idx ON ${schema}.events (parked_customer, created) WHERE status = 'parked';
COMMENT ON COLUMN ${schema}.events.parked_customer IS 'a parked event: the Stripe customer it waits for, linked to no tenant yet';
