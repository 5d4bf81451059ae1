-- Email verification at sign-up (`auth.email_verification`): when the person confirmed their
-- address by the link sent to it. Accounts that existed before count as confirmed; accounts
-- made by an admin or on the command line are confirmed when made.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = created_at;

-- Confirmation links: only the SHA-256 of the token is stored; any one of a person's links
-- confirms the address and uses them all.
CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);
