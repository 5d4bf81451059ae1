-- parlor schema v1 (SQLite). Keep in step with migrations/postgres/0001_init.sql.
-- Accounts. Email is stored lower-cased. Erasure blanks personal columns and sets erased_at.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'coach', 'client')),
    password_hash TEXT,
    time_zone TEXT NOT NULL DEFAULT 'UTC',
    feed_token_hash TEXT,
    created_at BIGINT NOT NULL,
    erased_at BIGINT
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE UNIQUE INDEX users_feed_token ON users (feed_token_hash);

-- Login sessions: only the SHA-256 of the cookie value is stored.
CREATE TABLE login_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

-- Integration keys: only the SHA-256 of the key is stored; `prefix` identifies it to humans.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);

-- Coach profiles, policy and availability (rules as JSON in the coach's zone).
-- booking_lock is bumped first in every booking transaction: it serialises bookers per coach.
CREATE TABLE coaches (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users (id),
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    specialties TEXT NOT NULL,
    experience_years BIGINT NOT NULL,
    bio TEXT NOT NULL,
    photo_url TEXT,
    phone TEXT,
    time_zone TEXT NOT NULL,
    session_minutes BIGINT NOT NULL,
    buffer_minutes BIGINT NOT NULL,
    slot_step_minutes BIGINT NOT NULL,
    min_notice_minutes BIGINT NOT NULL,
    booking_window_days BIGINT NOT NULL,
    cancel_notice_minutes BIGINT NOT NULL,
    reschedule_notice_minutes BIGINT NOT NULL,
    weekly_rules TEXT NOT NULL,
    date_overrides TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    booking_lock BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX coaches_user ON coaches (user_id);

-- Bookings. client_id is kept after erasure (an opaque id) while personal text is removed.
CREATE TABLE bookings (
    id TEXT PRIMARY KEY,
    coach_id TEXT NOT NULL REFERENCES coaches (id),
    client_id TEXT NOT NULL REFERENCES users (id),
    session_type TEXT NOT NULL CHECK (session_type IN ('video', 'phone')),
    focus_area TEXT,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    time_zone TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'completed', 'cancelled', 'no_show')),
    room TEXT,
    calendar_uid TEXT NOT NULL,
    sequence BIGINT NOT NULL DEFAULT 0,
    cancel_reason TEXT,
    cancelled_at BIGINT,
    rating BIGINT CHECK (rating IS NULL OR (rating >= 1 AND rating <= 5)),
    rating_comment TEXT,
    coach_notes TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The database, not application code, makes double booking impossible.
CREATE UNIQUE INDEX bookings_active_slot ON bookings (coach_id, starts_at) WHERE status <> 'cancelled';
CREATE UNIQUE INDEX bookings_room ON bookings (room);
CREATE INDEX bookings_client ON bookings (client_id, starts_at);
CREATE INDEX bookings_coach ON bookings (coach_id, starts_at);
CREATE INDEX bookings_coach_status ON bookings (coach_id, status);

-- Idempotency-Key memory for POST /api/bookings.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id),
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    booking_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);

-- Coaching commitments of a client (AI coaching context).
CREATE TABLE commitments (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    text TEXT NOT NULL,
    due_date TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'done')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX commitments_user ON commitments (user_id);

-- Append-only security audit log: no personal data, only opaque ids.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor_id TEXT,
    event TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
