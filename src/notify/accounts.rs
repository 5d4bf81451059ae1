//! The account emails: a password reset link, the link that confirms a new account's address,
//! and the warning that someone tried to sign up with an address that already has an
//! account. All are transactional (sent whatever the
//! person's reminder preference) and rendered here into outbox rows.

use super::messages::{self, Recipient};
use super::{email_row, kind};
use crate::config::Config;
use crate::model::account::User;
use crate::store::outbox::NewOutbox;
use chrono::{DateTime, Duration, Utc};

fn recipient(user: &User) -> Recipient {
    Recipient {
        name: user.name.clone(),
        email: user.email.clone(),
        zone: crate::validate::time_zone(&user.time_zone).unwrap_or(chrono_tz::UTC),
    }
}

/// The page that takes a reset token; the token travels in the fragment, which browsers do
/// not send to servers or in `Referer`.
pub fn reset_link(cfg: &Config, token: &str) -> String {
    format!("{}/reset-password#token={token}", cfg.public_origin())
}

/// The password reset email (empty when email is off).
pub fn password_reset(
    cfg: &Config,
    user: &User,
    token: &str,
    now: DateTime<Utc>,
) -> Vec<NewOutbox> {
    if !cfg.notify.smtp.enabled() {
        return Vec::new();
    }
    let mail = messages::password_reset(
        &recipient(user),
        reset_link(cfg, token),
        crate::auth::RESET_MINUTES,
        &cfg.notify.organisation,
    )
    .render();
    // A reset link is worthless once it has expired: stop retrying then.
    let give_up = now + Duration::minutes(crate::auth::RESET_MINUTES);
    vec![email_row(
        kind::PASSWORD_RESET,
        &mail,
        Some(user.id.as_str()),
        None,
        now,
        give_up,
    )]
}

/// The page that takes a confirmation token (in the fragment, like a reset token).
pub fn verify_link(cfg: &Config, token: &str) -> String {
    format!("{}/verify-email#token={token}", cfg.public_origin())
}

/// The email with a link that confirms `user`'s address (empty when email is off).
pub fn verify_email(cfg: &Config, user: &User, token: &str, now: DateTime<Utc>) -> Vec<NewOutbox> {
    if !cfg.notify.smtp.enabled() {
        return Vec::new();
    }
    let mail = messages::verify_email(
        &recipient(user),
        verify_link(cfg, token),
        crate::auth::VERIFY_HOURS,
        &cfg.notify.organisation,
    )
    .render();
    let give_up = now + Duration::hours(crate::auth::VERIFY_HOURS);
    vec![email_row(
        kind::VERIFY_EMAIL,
        &mail,
        Some(user.id.as_str()),
        None,
        now,
        give_up,
    )]
}

/// "Someone tried to sign up with your email" (empty when email is off).
pub fn signup_attempt(cfg: &Config, user: &User, now: DateTime<Utc>) -> Vec<NewOutbox> {
    if !cfg.notify.smtp.enabled() {
        return Vec::new();
    }
    let origin = cfg.public_origin();
    let mail = messages::signup_attempt(
        &recipient(user),
        format!("{origin}/login"),
        format!("{origin}/reset-password"),
        &cfg.notify.organisation,
    )
    .render();
    let give_up = now + Duration::hours(i64::from(cfg.notify.give_up_hours));
    vec![email_row(
        kind::SIGNUP_ATTEMPT,
        &mail,
        Some(user.id.as_str()),
        None,
        now,
        give_up,
    )]
}
