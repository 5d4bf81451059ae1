-- The durable outbox: every email, SMS, push message and webhook is a row written in the same
-- transaction as the change that causes it, then delivered by a worker (src/notify).
-- `status`: queued (waiting or being delivered), delivered, failed (gave up or refused for
-- good), dropped (no longer wanted: a reminder of a cancelled or moved session, a recipient
-- who turned reminders off). A worker claims a due row by setting `lease_owner` and
-- `lease_until`; a row whose lease ran out (its worker died) is claimed again.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'webhook')),
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    user_id TEXT,
    booking_id TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'failed', 'dropped')),
    attempts BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    give_up_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, not_before);
CREATE INDEX outbox_booking ON outbox (booking_id);
CREATE INDEX outbox_user ON outbox (user_id);

-- Every delivery attempt of an outbox row.
CREATE TABLE outbox_attempts (
    outbox_id TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed', 'dropped')),
    error TEXT,
    PRIMARY KEY (outbox_id, attempt)
);

-- Password reset links: only the SHA-256 of the token is stored; single use.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- 1: the person gets session reminders (email); 0: they turned them off.
ALTER TABLE users ADD COLUMN email_reminders BIGINT NOT NULL DEFAULT 1;
