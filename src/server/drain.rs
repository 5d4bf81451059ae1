//! Stopping without cutting calls off mid-word. After SIGTERM the server stops admitting
//! (`/readyz` fails so a balancer moves traffic, joins and new voice sessions are refused with
//! `restarting`), tells everyone in a room in words that it is restarting, and lets the rooms
//! go on until they empty or `shutdown.drain_secs` is over. Then voice sessions end (the user
//! is told why, the record says `server restart`), every signalling socket closes with 1001
//! (going away) — the browser rejoins with the same token once the server is back — and
//! what the voice sessions left to record is written before the store closes.

use crate::http::AppState;
use crate::rooms::CloseReason;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How long ending voice sessions and closing sockets may take after the drain time.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// Drains the rooms of `state`. `hurry` (a second SIGTERM) cuts the wait short.
pub async fn run(state: &AppState, hurry: impl Future<Output = ()>) {
    let within = Duration::from_secs(state.config.shutdown.drain_secs);
    let rooms = &state.rooms;
    rooms.begin_drain(within);
    let open = rooms.room_count();
    if open > 0 {
        tracing::info!(
            rooms = open,
            drain_secs = within.as_secs(),
            "draining: no new calls; the rooms go on until they end or the drain time is over \
             (send SIGTERM again to stop at once)"
        );
        let emptied = until(within, || rooms.room_count() == 0);
        tokio::select! {
            () = emptied => {},
            () = hurry => tracing::info!("second stop signal: closing the rooms now"),
        }
    }
    state.voice.end_all_for_restart(CLOSE_LIMIT).await;
    rooms.close_everyone(CloseReason::Restart);
    until(CLOSE_LIMIT, || rooms.room_count() == 0).await;
    let left = rooms.room_count();
    if left > 0 {
        tracing::warn!(
            rooms = left,
            "rooms still open after closing them; stopping anyway"
        );
    }
    state.voice.flush().await;
}

/// Waits until `done` holds or `limit` has passed (checked every 20 ms).
async fn until(limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
