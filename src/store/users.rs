//! Users, login sessions and API keys.

use super::{Store, StoreError, StoreResult, instant, secs};
use crate::ids::{ApiKeyId, UserId};
use crate::model::account::{AccountRole, ApiKeyInfo, User};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

const USER_COLS: &str = "id, email, name, role, time_zone, created_at, disabled_at, \
     email_reminders, phone, sms_reminders, email_verified_at";

fn user_from_row(row: &AnyRow) -> StoreResult<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId(row.try_get("id")?),
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: AccountRole::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        time_zone: row.try_get("time_zone")?,
        created_at: instant(row.try_get("created_at")?)?,
        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        email_reminders: row.try_get::<i64, _>("email_reminders")? != 0,
        phone: row.try_get("phone")?,
        sms_reminders: row.try_get::<i64, _>("sms_reminders")? != 0,
        email_verified: row
            .try_get::<Option<i64>, _>("email_verified_at")?
            .is_some(),
    })
}

/// A new account to insert.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: AccountRole,
    pub password_hash: &'a str,
    pub time_zone: &'a str,
    /// Whether the address counts as confirmed (made by an admin or on the command line).
    pub email_verified: bool,
    /// A confirmation link to store and send with the account, in the same transaction.
    pub verification: Option<NewVerification>,
}

/// A confirmation link for a new account's address: the token's hash, when it expires, and
/// the outbox rows of the email that carries it (their `user_id` is set to the new account).
pub struct NewVerification {
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub rows: Vec<super::outbox::NewOutbox>,
}

/// Which single-use links a cooldown is about.
#[derive(Debug, Clone, Copy)]
pub enum LinkKind {
    Verification,
    PasswordReset,
}

async fn insert_verification(
    tx: &mut super::WriteTx,
    user: &UserId,
    v: &NewVerification,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO email_verifications (token_hash, user_id, expires_at, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&v.token_hash)
    .bind(user.as_str())
    .bind(secs(v.expires_at))
    .bind(secs(now))
    .execute(&mut *tx.tx)
    .await?;
    let rows: Vec<_> = v
        .rows
        .iter()
        .cloned()
        .map(|mut r| {
            r.user_id = Some(user.as_str().to_string());
            r
        })
        .collect();
    tx.enqueue(&rows, now).await
}

impl Store {
    /// Inserts a user, with its confirmation link and email if any, in one transaction; a
    /// taken email is `Conflict("users_email")`.
    pub async fn insert_user(&self, new: &NewUser<'_>, now: DateTime<Utc>) -> StoreResult<User> {
        let id = UserId::generate();
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO users (id, email, name, role, password_hash, time_zone, created_at, \
             email_verified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(new.email)
        .bind(new.name)
        .bind(new.role.as_str())
        .bind(new.password_hash)
        .bind(new.time_zone)
        .bind(secs(now))
        .bind(new.email_verified.then(|| secs(now)))
        .execute(&mut *tx.tx)
        .await;
        match res.map_err(StoreError::from) {
            Err(StoreError::Conflict(_)) => return Err(StoreError::Conflict("users_email".into())),
            other => other?,
        };
        if let Some(v) = &new.verification {
            insert_verification(&mut tx, &id, v, now).await?;
        }
        tx.commit().await?;
        self.user(&id).await
    }

    /// Stores another confirmation link for `user` and the email carrying it.
    pub async fn insert_verification(
        &self,
        user: &UserId,
        v: &NewVerification,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_verification(&mut tx, user, v, now).await?;
        tx.commit().await
    }

    /// When `user` was last sent a confirmation link or a password reset link (`table`),
    /// for the per-account cooldown.
    pub async fn last_link_sent(
        &self,
        user: &UserId,
        table: LinkKind,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let sql = match table {
            LinkKind::Verification => {
                "SELECT MAX(created_at) FROM email_verifications WHERE user_id = $1"
            }
            LinkKind::PasswordReset => {
                "SELECT MAX(created_at) FROM password_resets WHERE user_id = $1"
            }
        };
        let t: Option<i64> = sqlx::query_scalar(sql)
            .bind(user.as_str())
            .fetch_one(self.pool())
            .await?;
        t.map(instant).transpose()
    }

    /// Confirms the address of the account a confirmation token is for, if the token is
    /// known, unused and unexpired (`NotFound` otherwise); every link of the account is used
    /// up with it.
    pub async fn use_verification(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<UserId> {
        let mut tx = self.begin_write().await?;
        let user: Option<String> = sqlx::query_scalar(
            "UPDATE email_verifications SET used_at = $2 WHERE token_hash = $1 \
             AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
        )
        .bind(token_hash)
        .bind(secs(now))
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some(user) = user else {
            return Err(StoreError::NotFound);
        };
        sqlx::query(
            "UPDATE email_verifications SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(&user)
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        let r = sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) \
             WHERE id = $1 AND erased_at IS NULL",
        )
        .bind(&user)
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(UserId(user))
    }

    /// A user by id (erased users are still found, with blanked fields).
    pub async fn user(&self, id: &UserId) -> StoreResult<User> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_one(self.pool())
            .await?;
        user_from_row(&row)
    }

    /// What became of the account `id` names ([`Standing::Unknown`] for an identity that is
    /// no account at all, such as one an operator put in a `parlor token` link).
    pub async fn user_standing(&self, id: &str) -> StoreResult<Standing> {
        let row = sqlx::query("SELECT erased_at, disabled_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else {
            return Ok(Standing::Unknown);
        };
        Ok(if r.try_get::<Option<i64>, _>("erased_at")?.is_some() {
            Standing::Erased
        } else if r.try_get::<Option<i64>, _>("disabled_at")?.is_some() {
            Standing::Disabled
        } else {
            Standing::Active
        })
    }

    /// A user and their password hash by (lower-cased) email, for login.
    pub async fn user_for_login(&self, email: &str) -> StoreResult<(User, Option<String>)> {
        let sql = format!(
            "SELECT {USER_COLS}, password_hash FROM users WHERE email = $1 AND erased_at IS NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_one(self.pool())
            .await?;
        Ok((user_from_row(&row)?, row.try_get("password_hash")?))
    }

    /// Updates name and/or time zone.
    pub async fn update_profile(
        &self,
        id: &UserId,
        name: Option<&str>,
        time_zone: Option<&str>,
    ) -> StoreResult<User> {
        sqlx::query(
            "UPDATE users SET name = COALESCE($2, name), time_zone = COALESCE($3, time_zone) \
             WHERE id = $1 AND erased_at IS NULL",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(time_zone)
        .execute(self.pool())
        .await?;
        self.user(id).await
    }

    /// Stores the hash of a new calendar feed token (replacing the old one).
    pub async fn set_feed_token(&self, id: &UserId, token_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET feed_token_hash = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The owner of a calendar feed token hash.
    pub async fn user_by_feed_token(&self, token_hash: &str) -> StoreResult<User> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users WHERE feed_token_hash = $1 AND erased_at IS NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_one(self.pool())
            .await?;
        user_from_row(&row)
    }

    /// Records a login session by the hash of its cookie value.
    pub async fn insert_login_session(
        &self,
        token_hash: &str,
        user: &UserId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO login_sessions (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.as_str())
        .bind(secs(now))
        .bind(secs(expires))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The user of an unexpired login session.
    pub async fn user_by_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<User> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.name, u.role, u.time_zone, u.created_at, u.disabled_at, \
             u.email_reminders, u.phone, u.sms_reminders, u.email_verified_at \
             FROM login_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.erased_at IS NULL \
             AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(secs(now))
        .fetch_one(self.pool())
        .await?;
        user_from_row(&row)
    }

    /// Every account that is not erased, oldest first.
    pub async fn users(&self) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users WHERE erased_at IS NULL ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Accounts (not erased) whose email or name contains `q` (any case), oldest first, at
    /// most `limit`.
    pub async fn users_matching(&self, q: &str, limit: i64) -> StoreResult<Vec<User>> {
        let pattern = format!(
            "%{}%",
            q.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let sql = format!(
            "SELECT {USER_COLS} FROM users WHERE erased_at IS NULL \
             AND (LOWER(email) LIKE $1 ESCAPE '\\' OR LOWER(name) LIKE $1 ESCAPE '\\') \
             ORDER BY created_at, id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(pattern)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Disables (`Some(now)`) or re-enables (`None`) an account; disabling ends its login
    /// sessions.
    pub async fn set_disabled(&self, id: &UserId, at: Option<DateTime<Utc>>) -> StoreResult<User> {
        let r =
            sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1 AND erased_at IS NULL")
                .bind(id.as_str())
                .bind(at.map(secs))
                .execute(self.pool())
                .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if at.is_some() {
            self.delete_login_sessions_except(id, None).await?;
        }
        self.user(id).await
    }

    /// Changes an account's role.
    pub async fn set_role(&self, id: &UserId, role: AccountRole) -> StoreResult<User> {
        let r = sqlx::query("UPDATE users SET role = $2 WHERE id = $1 AND erased_at IS NULL")
            .bind(id.as_str())
            .bind(role.as_str())
            .execute(self.pool())
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.user(id).await
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(&self, user: &UserId, hash: &str) -> StoreResult<()> {
        let r =
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1 AND erased_at IS NULL")
                .bind(user.as_str())
                .bind(hash)
                .execute(self.pool())
                .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Revokes every login session of `user` except the one with `keep` (its token hash).
    pub async fn delete_login_sessions_except(
        &self,
        user: &UserId,
        keep: Option<&str>,
    ) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM login_sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user.as_str())
            .bind(keep.unwrap_or(""))
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    /// Stores a password reset token (by hash) for `user`, and the email that carries it, in
    /// one transaction.
    pub async fn insert_password_reset(
        &self,
        user: &UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        email: &[super::outbox::NewOutbox],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.as_str())
        .bind(secs(expires_at))
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        tx.enqueue(email, now).await?;
        tx.commit().await
    }

    /// The account a password reset token is for, if it exists, is unused and has not
    /// expired (`NotFound` otherwise). Reads only: the token is used by
    /// [`Store::complete_password_reset`].
    pub async fn password_reset_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<UserId> {
        let user: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL \
             AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(secs(now))
        .fetch_optional(self.pool())
        .await?;
        user.map(UserId).ok_or(StoreError::NotFound)
    }

    /// Uses a password reset token and sets the new password hash in one transaction: the
    /// token (and every other of the account) stops working, and every login session of
    /// the account ends. `NotFound` if the token is unknown, used or expired.
    pub async fn complete_password_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<UserId> {
        let mut tx = self.begin_write().await?;
        let user: Option<String> = sqlx::query_scalar(
            "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
             AND expires_at > $2 RETURNING user_id",
        )
        .bind(token_hash)
        .bind(secs(now))
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some(user) = user else {
            return Err(StoreError::NotFound);
        };
        sqlx::query(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(&user)
        .bind(secs(now))
        .execute(&mut *tx.tx)
        .await?;
        sqlx::query("DELETE FROM login_sessions WHERE user_id = $1")
            .bind(&user)
            .execute(&mut *tx.tx)
            .await?;
        let r =
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1 AND erased_at IS NULL")
                .bind(&user)
                .bind(password_hash)
                .execute(&mut *tx.tx)
                .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(UserId(user))
    }

    /// Revokes one login session (logout).
    pub async fn delete_login_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM login_sessions WHERE expires_at <= $1")
            .bind(secs(now))
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    /// Stores a new API key by hash.
    pub async fn insert_api_key(
        &self,
        user: &UserId,
        name: &str,
        prefix: &str,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<ApiKeyInfo> {
        let id = ApiKeyId::generate();
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(name)
        .bind(prefix)
        .bind(key_hash)
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        Ok(ApiKeyInfo {
            id,
            name: name.into(),
            prefix: prefix.into(),
            created_at: now,
            last_used_at: None,
        })
    }

    /// The owner of an unrevoked API key; marks it used.
    pub async fn user_by_api_key(&self, key_hash: &str, now: DateTime<Utc>) -> StoreResult<User> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.name, u.role, u.time_zone, u.created_at, u.disabled_at, \
             u.email_reminders, u.phone, u.sms_reminders, u.email_verified_at \
             FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.erased_at IS NULL \
             AND u.disabled_at IS NULL",
        )
        .bind(key_hash)
        .fetch_one(self.pool())
        .await?;
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE key_hash = $1")
            .bind(key_hash)
            .bind(secs(now))
            .execute(self.pool())
            .await?;
        user_from_row(&row)
    }

    /// The caller's unrevoked keys.
    pub async fn api_keys(&self, user: &UserId) -> StoreResult<Vec<ApiKeyInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, prefix, created_at, last_used_at FROM api_keys \
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let used: Option<i64> = r.try_get("last_used_at")?;
                Ok(ApiKeyInfo {
                    id: ApiKeyId(r.try_get("id")?),
                    name: r.try_get("name")?,
                    prefix: r.try_get("prefix")?,
                    created_at: instant(r.try_get("created_at")?)?,
                    last_used_at: used.map(instant).transpose()?,
                })
            })
            .collect()
    }

    /// Revokes a key of `user`; `NotFound` when it is not theirs or already revoked.
    pub async fn revoke_api_key(
        &self,
        user: &UserId,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(secs(now))
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// Where an account stands, for checks made after its credentials were issued (join tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No account has this id.
    Unknown,
    Active,
    /// Disabled by an admin: it cannot log in or join rooms until re-enabled.
    Disabled,
    Erased,
}
