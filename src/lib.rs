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
//! | [`server`], [`cli`] | start-up, the connection watchdog, graceful shutdown, the command line |
//! | [`auth`] | accounts (argon2id), login sessions, API keys, rate limiting, join tokens |
//! | [`booking`] | coaches, availability, slots, bookings, links, iCalendar, room admission |
//! | [`notify`] | the durable outbox's delivery worker, email over SMTP, the words of every message |
//! | [`store`] | sqlx repositories over SQLite (default) and PostgreSQL |
//! | [`model`] | the domain's data (accounts, coaches, bookings, slot rules, voice sessions) |
//! | [`signal`] | the `/rtc` WebSocket protocol and one task per connected participant |
//! | [`rooms`] | the registry of live rooms; joining, room events, who receives what |
//! | [`sfu`] | the SFU core, sans-IO: participants, tracks, subscriptions, pauses, speakers |
//! | [`media`] | the only module importing webrtc-rs: peer connections, forwarding, down tracks |
//! | [`voice`] | AI voice sessions: session layer → [`voice::agents`] → [`voice::core`] |
//! | [`client`] | the project's own webrtc-rs clients (signalling, voice caller) for tests and benches |
//! | [`telemetry`] | tracing setup and Prometheus metrics |
//! | [`clock`], [`ids`], [`timefmt`], [`validate`] | the server's clock, ids, date formats, input rules |
//!
//! Arrows between top-level modules go one way (no cycle): `server` → `http` →
//! `booking`/`voice`/`signal` → `rooms` → `media` → `sfu`; the services use `auth` and
//! `store`, which use `model`; `config`, `clock`, `ids`, `validate` are used by all and use
//! nothing above them.
//!
//! ## Data flows
//! **A video room.** The browser joins `/rtc` with a token ([`signal::participant`]), which
//! enters the room with a plain [`rooms::JoinRequest`]. RTP from its publisher connection is
//! read once per track by a [`media::forward::Publication`], which asks each subscriber's
//! [`sfu::forwarder::Forwarder`] what to do and hands the packet to that subscriber's
//! [`media::down_track::DownTrack`]. Everything else (joins, mutes, pauses, chat, speakers)
//! goes through the room's [`sfu::room::Room`] core; [`rooms::LiveRoom`] carries out its
//! output and [`signal`] turns the room's events into wire messages.
//!
//! **A notification.** A booking change ([`booking::notices`]) or an account event renders its
//! messages and writes them as outbox rows in the same database transaction as the change
//! ([`store::outbox`]). The [`notify::worker::Worker`] claims due rows with a lease, sends
//! them ([`notify::smtp`]) and records each attempt: delivered, retried with back-off, or
//! failed for admins to see and retry.
//!
//! **An AI voice session.** `POST /api/voice/sessions` ([`voice::service`]) opens a room and
//! starts [`voice::room_agent`], a server-side participant that joins like the browser but
//! without a socket: it reads the user's microphone from an in-process down track, feeds the
//! [`voice::core::bridge::VoiceBridge`] (Opus decoded at the agent's rate, 20 ms chunks), streams the
//! chunks to the agent ([`voice::agents`], ElevenLabs or echo), and paces the agent's audio
//! back as Opus on its own in-process publication.

//! ## Design rules
//! Pure cores (slot computation, calendar rendering, rate limiting, JWT) take time as a
//! parameter and do no IO; services apply rules and call the store; HTTP handlers only
//! translate. The database enforces what must never happen (double booking). Secrets come
//! only from the environment or a 0600 file under `data/`, and are never logged.

/// `Display` and comparison with a string for enums of the wire vocabulary that have an
/// `as_str` (the string they serialise to), so callers and tests can write
/// `state == "listening"` and `{state}`.
macro_rules! wire_words {
    ($($t:ty),* $(,)?) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    )*};
}

pub mod auth;
pub mod booking;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod http;
pub mod ids;
pub mod media;
pub mod model;
pub mod notify;
pub mod rooms;
pub mod server;
pub mod sfu;
pub mod signal;
pub mod store;
pub mod telemetry;
pub mod timefmt;
pub mod validate;
pub mod voice;
