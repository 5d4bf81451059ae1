//! Calls across a server restart. The real binary with real webrtc-rs peers: SIGTERM tells
//! everyone in words, refuses new joins (and `/readyz`) while the call goes on for
//! `shutdown.drain_secs`, closes every socket with 1001, exits; started again on the same data
//! directory it admits the same join tokens. A room that empties ends the drain early. In
//! process: a voice session ends with a stored `server restart` and the user is told why.

use crate::common;

use common::process::Server;
use common::sfu::{self, KEY};
use common::{Backend, TestApp};
use parlor::auth::join_token::{self, RoomRole};
use parlor::client::signal::{Client, ClientError, ClientEvent};
use parlor::client::voice::VoiceCaller;
use parlor::media::track::TrackKind;
use parlor::signal::protocol::{ErrorCode, ServerMessage};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// The signing secret, as [`KEY`] is to the test.
const SECRET: &str = "test-signing-secret-0123456789abcdef";

/// `parlor serve` in `dir` with its own media ports and a drain time of `drain_secs`.
fn env(dir: &Path, ports: &str, drain_secs: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "PARLOR_DATABASE__URL",
            format!("sqlite://{}/parlor.db", dir.display()),
        ),
        ("PARLOR_DATA_DIR", dir.display().to_string()),
        ("PARLOR_AUTH__SIGNING_SECRET", SECRET.to_string()),
        ("PARLOR_RTC__UDP_PORTS", ports.to_string()),
        ("PARLOR_SHUTDOWN__DRAIN_SECS", drain_secs.to_string()),
    ]
}

async fn start(dir: &Path, port: Option<u16>, env: &[(&'static str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match port {
        Some(p) => Server::start_on(dir, p, &env).await,
        None => Server::start(dir, &env).await,
    }
}

/// A join token for `who` in `room`, on this machine's clock (the child runs on it too, also
/// under libfaketime: `process::parlor` passes its variables on).
fn token(room: &str, who: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    join_token::mint(KEY, room, who, who, RoomRole::Client, now, 600)
}

fn ws(s: &Server) -> String {
    s.base.replace("http://", "ws://") + "/rtc"
}

/// The close frame the server ends `c`'s socket with, within `limit`.
async fn closed(c: &mut Client, limit: Duration) -> Option<(Option<u16>, String)> {
    match c
        .wait_for(limit, |e| matches!(e, ClientEvent::Closed { .. }))
        .await
    {
        Some(ClientEvent::Closed { code, reason }) => Some((code, reason)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_warns_the_call_lets_it_run_closes_it_with_1001_and_the_same_tokens_rejoin() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), &common::udp_ports(12), "3");
    let mut server = start(dir.path(), None, &env).await;
    let url = ws(&server);
    let mut alice = Client::join(&url, &token("drain", "alice"), &sfu::transport(6))
        .await
        .expect("alice joins");
    let mut bob = Client::join(&url, &token("drain", "bob"), &sfu::transport(6))
        .await
        .expect("bob joins");
    let (tracks, _) = sfu::publish_av(&mut alice, 0xD1, 0xD2).await;
    let _sender = sfu::spawn_sender(tracks, 60);
    let remote = sfu::tracks_from(&mut bob, 2).await;
    let mut audio = None;
    for (_, r) in remote {
        if r.kind().await == TrackKind::Audio {
            audio = Some(r);
        }
    }
    let audio = audio.expect("alice's microphone reaches bob");
    let mut packets = sfu::pump(audio);
    assert!(
        sfu::pumped_intact(&mut packets, 10, TrackKind::Audio).await >= 10,
        "media flows before the restart"
    );

    let sigterm = Instant::now();
    server.send_term();
    for (who, c) in [("alice", &mut alice), ("bob", &mut bob)] {
        let m = sfu::wait_msg(c, &format!("{who} is told"), |m| {
            matches!(m, ServerMessage::Restarting { .. })
        })
        .await;
        let ServerMessage::Restarting { message, within_ms } = m else {
            unreachable!()
        };
        assert_eq!(within_ms, 3000, "{who}");
        assert!(
            message.contains("restarting") && message.contains("3 seconds"),
            "{who} is told in words: {message}"
        );
    }
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503, "a balancer sees the server is going");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["error"]["code"], "restarting", "{body}");
    match Client::join(&url, &token("drain", "carol"), &sfu::transport(6)).await {
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, ErrorCode::Restarting),
        Err(e) => panic!("a new join is refused with `restarting`, not {e}"),
        Ok(_) => panic!("a new join is refused while the server drains"),
    }
    sfu::drain(&mut packets);
    assert!(
        sfu::pumped_intact(&mut packets, 10, TrackKind::Audio).await >= 10,
        "the call goes on during the drain"
    );

    for (who, c) in [("alice", &mut alice), ("bob", &mut bob)] {
        let frame = closed(c, Duration::from_secs(10)).await;
        assert_eq!(
            frame,
            Some((Some(1001), "server restarting".to_string())),
            "{who}'s socket closes as going away: {}",
            server.logs()
        );
    }
    let ran = sigterm.elapsed();
    assert!(
        ran >= Duration::from_millis(2800),
        "the rooms ran for the drain time, not {ran:?}"
    );
    let exit = server.wait_exit(Duration::from_secs(8)).await;
    let exit = exit.unwrap_or_else(|| panic!("no exit within drain + 8 s: {}", server.logs()));
    assert!(exit.success(), "{exit}: {}", server.logs());
    assert!(
        sigterm.elapsed() < Duration::from_secs(3 + 6),
        "exited {:?} after SIGTERM",
        sigterm.elapsed()
    );

    // Back on the same port and data directory: the tokens from before the restart work.
    let server = start(dir.path(), Some(server.port), &env).await;
    let mut again = Client::join(&ws(&server), &token("drain", "alice"), &sfu::transport(6))
        .await
        .unwrap_or_else(|e| panic!("alice rejoins after the restart: {e}: {}", server.logs()));
    let _ = sfu::publish_av(&mut again, 0xD3, 0xD4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_that_empties_ends_the_drain_early_and_an_idle_server_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), &common::udp_ports(6), "30");
    let mut server = start(dir.path(), None, &env).await;
    let mut c = Client::join(&ws(&server), &token("short", "dana"), &sfu::transport(6))
        .await
        .expect("dana joins");
    let sigterm = Instant::now();
    server.send_term();
    sfu::wait_msg(&mut c, "dana is told", |m| {
        matches!(
            m,
            ServerMessage::Restarting {
                within_ms: 30_000,
                ..
            }
        )
    })
    .await;
    // The participant hangs up on hearing it: nothing is left to wait for.
    c.close().await;
    let exit = server.wait_exit(Duration::from_secs(8)).await;
    let exit = exit.unwrap_or_else(|| panic!("no exit after the room emptied: {}", server.logs()));
    assert!(exit.success(), "{}", server.logs());
    assert!(
        sigterm.elapsed() < Duration::from_secs(8),
        "not the whole 30 s: {:?}",
        sigterm.elapsed()
    );

    let mut idle = start(dir.path(), Some(server.port), &env).await;
    let t = Instant::now();
    let exit = idle.terminate(Duration::from_secs(5)).await;
    assert!(
        exit.is_some_and(|e| e.success()),
        "an idle server stops at once: {}",
        idle.logs()
    );
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_session_ends_as_a_server_restart_and_the_user_is_told_why() {
    let ports = common::udp_ports(40);
    let mut app = TestApp::start_with(Backend::Sqlite, move |c| {
        c.rtc.udp_ports = ports;
        c.shutdown.drain_secs = 1;
    })
    .await;
    let (http, _) = app.client_user("voice-drain@example.org").await;
    let r = http
        .post(app.url("/api/voice/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let started: Value = r.json().await.unwrap();
    let id = started["session"]["id"].as_str().unwrap().to_string();
    let url = app.base.replace("http://", "ws://") + "/rtc";
    let mut caller = VoiceCaller::join(
        &url,
        started["token"].as_str().unwrap(),
        &sfu::transport(40),
    )
    .await
    .expect("the caller joins the voice room");
    caller
        .message(
            Duration::from_secs(10),
            |m| matches!(m, ServerMessage::Agent { state, .. } if state.as_str() == "listening"),
        )
        .await
        .expect("the agent listens");

    app.begin_stop();
    let told = caller
        .message(Duration::from_secs(5), |m| {
            matches!(m, ServerMessage::Restarting { .. })
        })
        .await
        .expect("the user is told the server restarts");
    let ServerMessage::Restarting { message, .. } = told else {
        unreachable!()
    };
    assert!(message.contains("voice session ends"), "{message}");
    let r = http
        .post(app.url("/api/voice/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "no new voice session while draining");
    let ended = caller
        .message(
            Duration::from_secs(8),
            |m| matches!(m, ServerMessage::Agent { state, .. } if state.as_str() == "ended"),
        )
        .await
        .expect("the agent ends the session");
    let ServerMessage::Agent { message, .. } = ended else {
        unreachable!()
    };
    assert!(
        message.as_deref().is_some_and(|m| m.contains("restarting")),
        "in words: {message:?}"
    );
    assert!(
        app.wait_stopped(Duration::from_secs(10)).await,
        "the server stops"
    );

    app.start_again().await;
    let r = http
        .get(app.url(&format!("/api/voice/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let record: Value = r.json().await.unwrap();
    assert_eq!(record["end_reason"], "server restart", "{record}");
    assert_eq!(record["live"], false, "{record}");
}
