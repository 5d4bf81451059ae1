-- Endpoints that keep answering 410 Gone are turned off (`notify.webhooks.disable_after`
-- answers in a row): `gone_count` counts the run, `disabled_reason` says why an endpoint was
-- turned off by the server rather than by an admin.
ALTER TABLE webhook_endpoints ADD COLUMN gone_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_reason TEXT;
