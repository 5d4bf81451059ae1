//! Account types: roles, users and the authenticated principal of a request.

use crate::ids::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
pub enum AccountRole {
    /// Sees and manages everything.
    Admin,
    /// Holds sessions; sees bookings with them.
    Coach,
    /// Books sessions; sees their own bookings.
    Client,
}

impl AccountRole {
    /// The stored/wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Admin => "admin",
            AccountRole::Coach => "coach",
            AccountRole::Client => "client",
        }
    }

    /// Parses the stored/wire name.
    pub fn parse(s: &str) -> Option<AccountRole> {
        match s {
            "admin" => Some(AccountRole::Admin),
            "coach" => Some(AccountRole::Coach),
            "client" => Some(AccountRole::Client),
            _ => None,
        }
    }
}

/// A user account (never carries the password hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: AccountRole,
    /// IANA time zone used to display times to this user.
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    /// Disabled by an admin: cannot sign in, sessions and API keys do not work.
    pub disabled: bool,
    /// Whether this person gets session reminders (confirmations, cancellations and password
    /// resets are always sent).
    pub email_reminders: bool,
    /// The person's mobile number in E.164, for SMS reminders.
    pub phone: Option<String>,
    /// Whether this person gets session reminders by SMS (needs `phone`).
    pub sms_reminders: bool,
    /// Whether the person confirmed their email address by the link sent to it (accounts made
    /// by an admin or on the command line count as confirmed).
    pub email_verified: bool,
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The session cookie of a browser login.
    Cookie,
    /// An `Authorization: Bearer` API key.
    ApiKey,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub method: AuthMethod,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.user.role == AccountRole::Admin
    }
}

/// An API key as listed to its owner (the key itself is shown only once, at creation).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyInfo {
    pub id: crate::ids::ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}
