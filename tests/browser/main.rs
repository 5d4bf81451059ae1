//! Browser tier: the web client in headless Chromium against a real server (skipped loudly
//! without Chromium outside CI). Every test path contains `browser`, so
//! `suite_at_times.sh` (`--skip browser`) leaves them out: Chromium cannot run on a fake clock.
//!
//! One binary per tier: each integration-test binary links the whole dependency tree, so
//! gathering the files here builds and links it once instead of once per file.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod browser_account;
mod browser_admin;
mod browser_booking;
mod browser_coaching;
mod browser_https;
mod browser_pages;
mod browser_push;
mod browser_rating;
mod browser_reset;
mod browser_restart;
mod browser_room;
mod browser_room_errors;
mod browser_voice;
