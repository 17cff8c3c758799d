-- saas-billing schema, version 6: what each checkout session was asked for. Placeholders: ${schema}. No new grants
-- (the application role's table grants on checkout_sessions cover the new column).
--
-- BillingOperations.createCheckoutSession returns a tenant's open session again when the same checkout is asked for
-- twice (a double click, two tabs, a retried request) instead of creating a second payable session. A Stripe session
-- does not show its price and quantity without an extra request, so the call records a digest of what it sent:
-- price, quantity, trial days, success and cancel URLs, customer. NULL for sessions created before this version, by
-- allowAdditionalSubscription, or outside saaskit: those are never returned again. Webhooks and syncs leave it alone
-- (the mirror's upsert does not name the column).

ALTER TABLE ${schema}.checkout_sessions ADD COLUMN request_key text;
