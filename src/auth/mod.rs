//! Accounts and credentials: argon2id passwords, login sessions (cookie), API keys (bearer),
//! login rate limiting, and the HS256 signing used for tokens.
//!
//! [`Accounts`] is the service the HTTP layer calls; it never sees HTTP types. Secrets are
//! stored only as hashes (argon2id for passwords, SHA-256 for high-entropy tokens).

pub mod hash_pool;
pub mod join_token;
pub mod jwt;
pub mod password;
pub mod ratelimit;
pub mod signing_key;
pub mod turn;

use crate::config::EmailVerification;
use crate::ids::{UserId, new_token, token_hash};
use crate::model::account::{AccountRole, ApiKeyInfo, User};
use crate::store::users::{LinkKind, NewUser, NewVerification};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use ratelimit::LoginLimiter;
use std::sync::{Arc, Mutex};

/// Errors of the accounts service.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("too many attempts; try again in {0} seconds")]
    RateLimited(u64),
    #[error("the server is busy; try again in a moment")]
    Busy,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("{0}")]
    Invalid(String),
    #[error("sign-up is disabled on this server")]
    SignupDisabled,
    #[error("the current password is not right")]
    WrongPassword,
    #[error("this account has been disabled; ask an administrator")]
    Disabled,
    #[error("{0}")]
    OwnAccount(&'static str),
    #[error("not signed in, or the session has expired")]
    Unauthenticated,
    #[error(
        "this password reset link is not valid: it was used, it expired, or it is mistyped; ask for a new one"
    )]
    InvalidResetToken,
    #[error(
        "this confirmation link is not valid: it was used, it expired, or it is mistyped; ask for a new one"
    )]
    InvalidVerificationToken,
    #[error(
        "confirm your email address first: follow the link we sent you (the log-in page can send a new one)"
    )]
    EmailUnverified,
    #[error("email verification is off on this server")]
    VerificationOff,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Store(e)
    }
}

/// How long a password reset link works.
pub const RESET_MINUTES: i64 = 30;

/// How long an email confirmation link works.
pub const VERIFY_HOURS: i64 = 24;

/// The least time between two links of one kind sent to one account (a reset or a
/// confirmation): asking again sooner answers alike and sends nothing, so nobody can flood a
/// mailbox through the form.
pub const LINK_COOLDOWN_SECS: i64 = 60;

/// Renders the outbox rows of an email carrying a link token, for an account.
pub type LinkMail<'a> = &'a (dyn Fn(&User, &str) -> Vec<crate::store::outbox::NewOutbox> + Sync);

/// Validated input for a new account.
pub struct Signup<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    pub time_zone: &'a str,
    pub role: AccountRole,
}

/// The accounts service.
pub struct Accounts {
    store: Store,
    limiter: Mutex<LoginLimiter>,
    hashes: hash_pool::HashPool,
    session_ttl: Duration,
    verification: EmailVerification,
}

/// What a sign-up did; the caller answers both the same way, so that sign-up does not tell
/// whether an email has an account.
#[derive(Debug)]
pub enum SignupOutcome {
    Created(User),
    /// The email already has an account: nothing was changed.
    EmailTaken,
}

impl Accounts {
    pub fn new(store: Store, cfg: &crate::config::AuthConfig) -> Self {
        Self {
            store,
            limiter: Mutex::new(LoginLimiter::new(ratelimit::Limits {
                window_secs: cfg.login_window_secs,
                failures_per_account_ip: cfg.login_max_failures_per_account_ip,
                failures_per_account: cfg.login_max_failures_per_account,
                failures_per_ip: cfg.login_max_failures_per_ip,
                signups_per_ip: cfg.signup_max_per_ip,
            })),
            hashes: hash_pool::HashPool::new(cfg.hash_concurrency, cfg.hash_queue),
            session_ttl: Duration::hours(i64::from(cfg.session_ttl_hours)),
            verification: cfg.email_verification,
        }
    }

    /// How long a login session lasts.
    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// Creates an account (the caller decides who may create which role); its address
    /// counts as confirmed (an admin or an operator vouches for it).
    pub async fn create_user(&self, s: &Signup<'_>, now: DateTime<Utc>) -> Result<User, AuthError> {
        self.insert_account(s, None, now).await
    }

    /// Creates an account; with `verify`, its address is unconfirmed and a confirmation link
    /// (rendered by `verify`) is stored and sent with it.
    async fn insert_account(
        &self,
        s: &Signup<'_>,
        verify: Option<LinkMail<'_>>,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        let email = crate::validate::email(s.email).map_err(AuthError::Invalid)?;
        let name = crate::validate::name(s.name).map_err(AuthError::Invalid)?;
        crate::validate::time_zone(s.time_zone).map_err(AuthError::Invalid)?;
        password::check_policy(s.password).map_err(AuthError::Invalid)?;
        let pw = s.password.to_string();
        let hash = self
            .hashes
            .run(move || password::hash(&pw))
            .await
            .map_err(|_| AuthError::Busy)?;
        let verification = verify.map(|mail| {
            let token = new_token();
            let draft = User {
                id: UserId(String::new()),
                email: email.clone(),
                name: name.clone(),
                role: s.role,
                time_zone: s.time_zone.to_string(),
                created_at: now,
                disabled: false,
                email_reminders: true,
                phone: None,
                sms_reminders: false,
                email_verified: false,
            };
            NewVerification {
                rows: mail(&draft, &token),
                token_hash: token_hash(&token),
                expires_at: now + Duration::hours(VERIFY_HOURS),
            }
        });
        let new = NewUser {
            email: &email,
            name: &name,
            role: s.role,
            password_hash: &hash,
            time_zone: s.time_zone,
            email_verified: verification.is_none(),
            verification,
        };
        let user = match self.store.insert_user(&new, now).await {
            Err(StoreError::Conflict(_)) => return Err(AuthError::EmailTaken),
            other => other?,
        };
        self.store
            .audit(
                Some(user.id.as_str()),
                "account_created",
                None,
                Some(s.role.as_str()),
                now,
            )
            .await?;
        Ok(user)
    }

    /// Self sign-up of a client from `ip`: throttled per address before anything is done,
    /// then the same work (a password hash) whether or not the email is taken.
    pub async fn signup(
        &self,
        s: &Signup<'_>,
        ip: &str,
        now: DateTime<Utc>,
        verify: Option<LinkMail<'_>>,
    ) -> Result<SignupOutcome, AuthError> {
        let t = now.timestamp();
        let throttled = {
            let l = self.limiter.lock().expect("limiter lock");
            l.check(&s.email.trim().to_lowercase(), ip, t).err()
        };
        if let Some(wait) = throttled {
            return Err(AuthError::RateLimited(wait));
        }
        self.limiter
            .lock()
            .expect("limiter lock")
            .signup(ip, t)
            .map_err(AuthError::RateLimited)?;
        let verify = verify.filter(|_| self.verification != EmailVerification::Off);
        match self.insert_account(s, verify, now).await {
            Ok(u) => Ok(SignupOutcome::Created(u)),
            Err(AuthError::EmailTaken) => {
                self.store
                    .audit(None, "signup_existing_email", None, None, now)
                    .await?;
                Ok(SignupOutcome::EmailTaken)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks credentials (throttled per account and IP) and opens a session.
    /// Returns the user and the cookie value.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<(User, String), AuthError> {
        let account = email.trim().to_lowercase();
        let t = now.timestamp();
        let allowed = self
            .limiter
            .lock()
            .expect("limiter lock")
            .check(&account, ip, t);
        if let Err(wait) = allowed {
            self.store
                .audit(None, "login_rate_limited", None, None, now)
                .await?;
            return Err(AuthError::RateLimited(wait));
        }
        let found = match self.store.user_for_login(&account).await {
            Ok(found) => Some(found),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let pw = password.chars().take(password::MAX_LEN).collect::<String>();
        let stored = found.as_ref().and_then(|(_, h)| h.clone());
        let ok = self
            .hashes
            .run(move || match stored {
                Some(h) => password::verify(&pw, &h),
                None => {
                    password::verify_dummy(&pw);
                    false
                }
            })
            .await
            .map_err(|_| AuthError::Busy)?;
        let Some((user, _)) = found.filter(|_| ok) else {
            self.limiter
                .lock()
                .expect("limiter lock")
                .record_failure(&account, ip, t);
            self.store
                .audit(None, "login_failed", None, None, now)
                .await?;
            return Err(AuthError::InvalidCredentials);
        };
        self.limiter
            .lock()
            .expect("limiter lock")
            .record_success(&account, ip);
        if user.disabled {
            self.store
                .audit(Some(user.id.as_str()), "login_disabled", None, None, now)
                .await?;
            return Err(AuthError::Disabled);
        }
        // Only someone who knows the password learns that the address is unconfirmed.
        if self.verification == EmailVerification::Required && !user.email_verified {
            self.store
                .audit(Some(user.id.as_str()), "login_unverified", None, None, now)
                .await?;
            return Err(AuthError::EmailUnverified);
        }
        let token = new_token();
        self.store
            .insert_login_session(&token_hash(&token), &user.id, now, now + self.session_ttl)
            .await?;
        self.store
            .audit(Some(user.id.as_str()), "login", None, None, now)
            .await?;
        Ok((user, token))
    }

    /// Changes `user`'s password: the current one must be given (wrong guesses are throttled
    /// like logins from `ip`), the new one must meet the policy. Every other login session
    /// of the user ends (`keep_cookie`, the session making the change, stays), so the old
    /// password and whoever used it are out.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        ip: &str,
        keep_cookie: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let account = user.email.clone();
        let t = now.timestamp();
        let allowed = self
            .limiter
            .lock()
            .expect("limiter lock")
            .check(&account, ip, t);
        if let Err(wait) = allowed {
            return Err(AuthError::RateLimited(wait));
        }
        password::check_policy(new).map_err(AuthError::Invalid)?;
        let stored = match self.store.user_for_login(&account).await {
            Ok((_, h)) => h,
            Err(StoreError::NotFound) => return Err(AuthError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        let (cur, next) = (
            current.chars().take(password::MAX_LEN).collect::<String>(),
            new.to_string(),
        );
        let hashed = self
            .hashes
            .run(move || match stored {
                Some(h) if password::verify(&cur, &h) => Some(password::hash(&next)),
                _ => None,
            })
            .await
            .map_err(|_| AuthError::Busy)?;
        let Some(hash) = hashed else {
            self.limiter
                .lock()
                .expect("limiter lock")
                .record_failure(&account, ip, t);
            self.store
                .audit(
                    Some(user.id.as_str()),
                    "password_change_failed",
                    None,
                    None,
                    now,
                )
                .await?;
            return Err(AuthError::WrongPassword);
        };
        self.store.set_password_hash(&user.id, &hash).await?;
        let keep = keep_cookie.map(token_hash);
        self.store
            .delete_login_sessions_except(&user.id, keep.as_deref())
            .await?;
        self.store
            .audit(Some(user.id.as_str()), "password_changed", None, None, now)
            .await?;
        Ok(())
    }

    /// Sets a new password for the account of `email` without the old one (an operator's
    /// reset from the command line); every login session of the account ends.
    pub async fn reset_password(
        &self,
        email: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        password::check_policy(new).map_err(AuthError::Invalid)?;
        let account = crate::validate::email(email).map_err(AuthError::Invalid)?;
        let user = match self.store.user_for_login(&account).await {
            Ok((u, _)) => u,
            Err(StoreError::NotFound) => {
                return Err(AuthError::Invalid(format!(
                    "no account has the email {account}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let pw = new.to_string();
        let hash = self
            .hashes
            .run(move || password::hash(&pw))
            .await
            .map_err(|_| AuthError::Busy)?;
        self.store.set_password_hash(&user.id, &hash).await?;
        self.store
            .delete_login_sessions_except(&user.id, None)
            .await?;
        self.store
            .audit(Some(user.id.as_str()), "password_reset", None, None, now)
            .await?;
        Ok(user)
    }

    /// A password reset asked for by `email` from `ip`. The address is checked and the
    /// request counted against the sign-up allowance at once; the rest is done after the
    /// caller has answered ([`Self::after_answer`]): when the address has an active account
    /// and no link went to it in the last minute, a single-use token (stored hashed, valid
    /// for [`RESET_MINUTES`]) and the email carrying it (`mail` renders it from the account
    /// and the token) are written in one transaction. The caller answers alike, and as soon,
    /// whether or not the address has an account: the lookup and the writes that only a known
    /// address causes are not on the request's path, so the answer's timing does not tell.
    pub fn request_password_reset(
        self: &Arc<Self>,
        email: &str,
        ip: &str,
        now: DateTime<Utc>,
        mail: impl FnOnce(&User, &str) -> Vec<crate::store::outbox::NewOutbox> + Send + 'static,
    ) -> Result<(), AuthError> {
        let account = crate::validate::email(email).map_err(AuthError::Invalid)?;
        // The sign-up allowance per address also bounds reset requests: both send email.
        self.limiter
            .lock()
            .expect("limiter lock")
            .signup(ip, now.timestamp())
            .map_err(AuthError::RateLimited)?;
        let this = self.clone();
        Self::after_answer("password reset", async move {
            this.write_password_reset(&account, now, mail).await
        });
        Ok(())
    }

    async fn write_password_reset(
        &self,
        account: &str,
        now: DateTime<Utc>,
        mail: impl FnOnce(&User, &str) -> Vec<crate::store::outbox::NewOutbox>,
    ) -> Result<(), AuthError> {
        let user = match self.store.user_for_login(account).await {
            Ok((u, _)) if !u.disabled => u,
            Ok(_) | Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if self
            .cooling_down(&user, LinkKind::PasswordReset, now)
            .await?
        {
            return Ok(());
        }
        let token = new_token();
        let rows = mail(&user, &token);
        if rows.is_empty() {
            tracing::warn!("a password reset was asked for, but email is off (notify.smtp.host)");
            return Ok(());
        }
        let expires = now + Duration::minutes(RESET_MINUTES);
        self.store
            .insert_password_reset(&user.id, &token_hash(&token), expires, &rows, now)
            .await?;
        self.store
            .audit(
                Some(user.id.as_str()),
                "password_reset_requested",
                None,
                None,
                now,
            )
            .await?;
        Ok(())
    }

    /// Runs the part of a link request that depends on whether the address has an account
    /// after the request has been answered, so that the answer's timing does not tell. A
    /// failure is logged (without the address) and otherwise lost, as a mail server that is
    /// down would lose it: the person asks again.
    fn after_answer(
        what: &'static str,
        job: impl std::future::Future<Output = Result<(), AuthError>> + Send + 'static,
    ) {
        tokio::spawn(async move {
            if let Err(e) = job.await {
                tracing::warn!(error = %e, "{what}: the link was not written");
            }
        });
    }

    /// Whether a link of `kind` went to `user` less than [`LINK_COOLDOWN_SECS`] ago.
    async fn cooling_down(
        &self,
        user: &User,
        kind: LinkKind,
        now: DateTime<Utc>,
    ) -> Result<bool, AuthError> {
        let last = self.store.last_link_sent(&user.id, kind).await?;
        Ok(last.is_some_and(|t| now - t < Duration::seconds(LINK_COOLDOWN_SECS)))
    }

    /// A new confirmation link asked for by `email` from `ip` (throttled like sign-ups):
    /// sent when the address has an active, unconfirmed account and none was sent in the
    /// last minute. As with [`Self::request_password_reset`], only the checks that do not
    /// depend on the account happen before the caller answers; the caller answers alike in
    /// every case.
    pub fn resend_verification(
        self: &Arc<Self>,
        email: &str,
        ip: &str,
        now: DateTime<Utc>,
        mail: impl Fn(&User, &str) -> Vec<crate::store::outbox::NewOutbox> + Send + Sync + 'static,
    ) -> Result<(), AuthError> {
        if self.verification == EmailVerification::Off {
            return Err(AuthError::VerificationOff);
        }
        let account = crate::validate::email(email).map_err(AuthError::Invalid)?;
        self.limiter
            .lock()
            .expect("limiter lock")
            .signup(ip, now.timestamp())
            .map_err(AuthError::RateLimited)?;
        let this = self.clone();
        Self::after_answer("confirmation link", async move {
            this.write_verification(&account, now, &mail).await
        });
        Ok(())
    }

    async fn write_verification(
        &self,
        account: &str,
        now: DateTime<Utc>,
        mail: LinkMail<'_>,
    ) -> Result<(), AuthError> {
        let user = match self.store.user_for_login(account).await {
            Ok((u, _)) if !u.disabled && !u.email_verified => u,
            Ok(_) | Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if self
            .cooling_down(&user, LinkKind::Verification, now)
            .await?
        {
            return Ok(());
        }
        let token = new_token();
        let v = NewVerification {
            rows: mail(&user, &token),
            token_hash: token_hash(&token),
            expires_at: now + Duration::hours(VERIFY_HOURS),
        };
        self.store.insert_verification(&user.id, &v, now).await?;
        Ok(())
    }

    /// Confirms an address with the token of a confirmation link.
    pub async fn verify_email(&self, token: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
        if token.is_empty() || token.len() > 128 {
            return Err(AuthError::InvalidVerificationToken);
        }
        let user = match self.store.use_verification(&token_hash(token), now).await {
            Ok(u) => u,
            Err(StoreError::NotFound) => return Err(AuthError::InvalidVerificationToken),
            Err(e) => return Err(e.into()),
        };
        self.store
            .audit(Some(user.as_str()), "email_verified", None, None, now)
            .await?;
        Ok(())
    }

    /// Sets a new password with a reset token from an email. The token works once; every
    /// login session of the account ends.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        if token.is_empty() || token.len() > 128 {
            return Err(AuthError::InvalidResetToken);
        }
        password::check_policy(new).map_err(AuthError::Invalid)?;
        // The token is checked before the (expensive) hash, so made-up tokens cost a read only.
        let hashed_token = token_hash(token);
        match self.store.password_reset_user(&hashed_token, now).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => return Err(AuthError::InvalidResetToken),
            Err(e) => return Err(e.into()),
        }
        let pw = new.to_string();
        let hash = self
            .hashes
            .run(move || password::hash(&pw))
            .await
            .map_err(|_| AuthError::Busy)?;
        let user = match self
            .store
            .complete_password_reset(&hashed_token, &hash, now)
            .await
        {
            Ok(u) => u,
            Err(StoreError::NotFound) => return Err(AuthError::InvalidResetToken),
            Err(e) => return Err(e.into()),
        };
        self.store
            .audit(
                Some(user.as_str()),
                "password_reset_by_email",
                None,
                None,
                now,
            )
            .await?;
        Ok(())
    }

    /// Disables or re-enables an account (by an admin, never their own). Disabling ends its
    /// sessions; its API keys stop working while it is disabled.
    pub async fn set_disabled(
        &self,
        admin: &User,
        id: &UserId,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        if admin.id == *id {
            return Err(AuthError::OwnAccount("you cannot disable your own account"));
        }
        let user = self.store.set_disabled(id, disabled.then_some(now)).await?;
        let event = if disabled {
            "account_disabled"
        } else {
            "account_enabled"
        };
        self.store
            .audit(Some(admin.id.as_str()), event, Some(id.as_str()), None, now)
            .await?;
        Ok(user)
    }

    /// Changes an account's role (by an admin, never their own).
    pub async fn set_role(
        &self,
        admin: &User,
        id: &UserId,
        role: AccountRole,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        if admin.id == *id {
            return Err(AuthError::OwnAccount("you cannot change your own role"));
        }
        let user = self.store.set_role(id, role).await?;
        self.store
            .audit(
                Some(admin.id.as_str()),
                "role_changed",
                Some(id.as_str()),
                Some(role.as_str()),
                now,
            )
            .await?;
        Ok(user)
    }

    /// An admin's reset of someone's password: a generated one, returned once; every login
    /// session of the account ends.
    pub async fn admin_reset_password(
        &self,
        admin: &User,
        id: &UserId,
        now: DateTime<Utc>,
    ) -> Result<String, AuthError> {
        let user = self.store.user(id).await?;
        let generated = password::generate();
        self.reset_password(&user.email, &generated, now).await?;
        self.store
            .audit(
                Some(admin.id.as_str()),
                "password_reset_by_admin",
                Some(id.as_str()),
                None,
                now,
            )
            .await?;
        Ok(generated)
    }

    /// Revokes the session of a cookie value.
    pub async fn logout(&self, cookie: &str) -> Result<(), AuthError> {
        Ok(self.store.delete_login_session(&token_hash(cookie)).await?)
    }

    /// The user of a session cookie value.
    pub async fn user_by_cookie(
        &self,
        cookie: &str,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        match self.store.user_by_session(&token_hash(cookie), now).await {
            Err(StoreError::NotFound) => Err(AuthError::Unauthenticated),
            other => Ok(other?),
        }
    }

    /// The user of an API key.
    pub async fn user_by_api_key(&self, key: &str, now: DateTime<Utc>) -> Result<User, AuthError> {
        match self.store.user_by_api_key(&token_hash(key), now).await {
            Err(StoreError::NotFound) => Err(AuthError::Unauthenticated),
            other => Ok(other?),
        }
    }

    /// Creates an API key; the key itself is returned only here.
    pub async fn create_api_key(
        &self,
        user: &User,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(ApiKeyInfo, String), AuthError> {
        let name = crate::validate::name(name).map_err(AuthError::Invalid)?;
        let key = format!("plk_{}", new_token());
        let info = self
            .store
            .insert_api_key(&user.id, &name, &key[..10], &token_hash(&key), now)
            .await?;
        self.store
            .audit(
                Some(user.id.as_str()),
                "api_key_created",
                Some(info.id.as_str()),
                None,
                now,
            )
            .await?;
        Ok((info, key))
    }

    /// Issues a new private calendar feed token (the old one stops working).
    pub async fn rotate_feed_token(&self, user: &User) -> Result<String, AuthError> {
        let token = new_token();
        self.store
            .set_feed_token(&user.id, &token_hash(&token))
            .await?;
        Ok(token)
    }
}
