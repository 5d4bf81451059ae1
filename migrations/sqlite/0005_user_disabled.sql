-- When an admin disabled the account (NULL: active). A disabled account cannot sign in,
-- and its sessions and API keys stop working; re-enabling it restores sign-in.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
