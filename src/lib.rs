//! # parlor
//!
//! A self-hosted real-time media server for coaching organisations, in one binary: booking
//! (coaches, availability, slots, video or phone sessions, calendar invites), and — built on
//! the same foundation — WebRTC video rooms and AI voice sessions.
//!
//! ## Layout
//! | module | owns |
//! |---|---|
//! | [`config`] | the one typed configuration (defaults → `config/parlor.toml` → `PARLOR_*`) |
//! | [`http`] | the axum router, extractors, the JSON error shape, OpenAPI |
//! | [`auth`] | accounts (argon2id), sessions, API keys, rate limiting, HS256 tokens |
//! | [`booking`] | coaches, availability, slot computation, bookings, links, iCalendar |
//! | [`store`] | sqlx repositories over SQLite (default) and PostgreSQL |
//! | [`rtc`] | the only module importing webrtc-rs: peer connections, SDP fixes |
//! | [`sfu`] | rooms, participants, tracks, subscriptions, forwarding decisions (sans-IO) |
//! | [`telemetry`] | tracing setup and Prometheus metrics |
//! | [`server`], [`cli`] | start-up, graceful shutdown, the command line |
//!
//! ## Design rules
//! Pure cores (slot computation, calendar rendering, rate limiting, JWT) take time as a
//! parameter and do no IO; services apply rules and call the store; HTTP handlers only
//! translate. The database enforces what must never happen (double booking). Secrets come
//! only from the environment or a 0600 file under `data/`, and are never logged.

pub mod auth;
pub mod booking;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod ids;
pub mod rtc;
pub mod server;
pub mod sfu;
pub mod signal;
pub mod store;
pub mod telemetry;
pub mod timefmt;
pub mod validate;
pub mod voice;
