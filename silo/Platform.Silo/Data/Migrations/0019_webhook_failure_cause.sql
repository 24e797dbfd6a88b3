-- Why a tenant's newest webhook failure happened, beyond its kind (Webhooks/WebhookStatusStore.cs): for not_validated,
-- the failure of the validation handshake's OPTIONS request itself ('timeout' or 'connection_failed'); NULL when the
-- request was answered without the allowed origin, and for every other kind.
ALTER TABLE webhook_states ADD COLUMN failure_cause text;
