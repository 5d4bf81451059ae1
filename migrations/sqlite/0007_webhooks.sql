-- Webhook endpoints configured by admins. Deliveries are outbox rows (channel 'webhook',
-- recipient = the endpoint's id), signed per the Standard Webhooks specification with the
-- endpoint's secret (`whsec_…`, which the server must keep to sign).
-- `events`: the event types it receives, comma-separated with a comma at each end
-- (`,booking.created,room.started,`), or `*` for all.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbox_recipient ON outbox (recipient);
