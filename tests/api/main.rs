//! HTTP and database tier: the API, accounts, booking, privacy, the CLI and the edges of the
//! HTTP server, each against a real server on a real SQLite or PostgreSQL database.
//!
//! One binary per tier: each integration-test binary links the whole dependency tree, so
//! gathering the files here builds and links it once instead of once per file.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod abuse_edges;
mod access_control;
mod admin_console;
mod auth_sessions;
mod bad_input;
mod booking_lifecycle;
mod booking_rules;
mod cli_and_config;
mod cli_token;
mod commitments;
mod email_verification;
mod http_edges;
mod https_acme;
mod https_files;
mod lifecycle_edges;
mod metrics_access;
mod module_graph;
mod notify_email;
mod notify_outbox;
mod notify_push;
mod notify_sms;
mod privacy_erasure;
mod room_token_fallback;
mod slots_api;
mod web_assets;
mod webhooks;
