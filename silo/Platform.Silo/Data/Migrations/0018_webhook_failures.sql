-- How the gateways' webhook requests went (Webhooks/WebhookStatusStore.cs), as gateways report it: per tenant, UTC
-- hour, event type (connect, messages) and outcome ('delivered' or a failure kind such as timeout or egress_refused).
-- No foreign key on the counts: they are pruned with the hours, like usage.
CREATE TABLE webhook_outcome_hours (
    tenant_id  uuid NOT NULL,
    hour       timestamptz NOT NULL,
    event      text NOT NULL,
    outcome    text NOT NULL,
    count      bigint NOT NULL CHECK (count > 0),
    PRIMARY KEY (tenant_id, hour, event, outcome)
);
CREATE INDEX webhook_outcome_hours_hour_idx ON webhook_outcome_hours (hour);

-- Per tenant: the newest failure any gateway reported, and the newest validation outcome with the URL (its SHA-256)
-- it was learnt for, so a state learnt for an older URL is not shown for the current one.
CREATE TABLE webhook_states (
    tenant_id            uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    failure_at           timestamptz,
    failure_event        text,
    failure_kind         text,
    failure_status       int,
    validation_at        timestamptz,
    validation_passed    boolean,
    validation_url_hash  text
);

-- Reports applied: a report re-sent after a lost answer carries the same id and is skipped. Kept for a day.
CREATE TABLE webhook_reports (
    report_id    uuid PRIMARY KEY,
    gateway_id   text NOT NULL,
    received_at  timestamptz NOT NULL
);
CREATE INDEX webhook_reports_received_idx ON webhook_reports (received_at);
