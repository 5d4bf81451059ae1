-- AI voice sessions and their transcripts.
CREATE TABLE voice_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    agent TEXT NOT NULL,
    room TEXT NOT NULL UNIQUE,
    conversation_id TEXT,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    end_reason TEXT
);
CREATE INDEX voice_sessions_by_user ON voice_sessions (user_id, started_at);
CREATE INDEX voice_sessions_by_start ON voice_sessions (started_at);

-- One line of a transcript: what the user said or what the agent answered (corrected text
-- replaces the agent's line when an interruption cut it short).
CREATE TABLE voice_turns (
    session_id TEXT NOT NULL REFERENCES voice_sessions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'agent')),
    text TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    event_id BIGINT,
    PRIMARY KEY (session_id, seq)
);
