//! A call in two headless Chromium pages across a server restart: the server is stopped as
//! SIGTERM stops it (a short `shutdown.drain_secs`), both pages say in words that it is
//! restarting, the server comes back on the same address and data, and both pages rejoin by
//! themselves with their tokens and decode each other's video again.

use crate::common;

use common::TestApp;
use common::browser::Chromium;
use parlor::auth::join_token::{self, RoomRole};
use std::time::Duration;

const KEY: &[u8] = b"test-signing-secret-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_browsers_are_told_of_a_restart_and_rejoin_when_the_server_is_back() {
    if common::browser::skip_without_chromium(
        "both_browsers_are_told_of_a_restart_and_rejoin_when_the_server_is_back",
    ) {
        return;
    }
    let mut app = TestApp::for_browser(|c| {
        c.rtc.udp_ports = common::udp_ports(100);
        c.shutdown.drain_secs = 2;
    })
    .await;
    let room = "browser-restart";
    let now = chrono::Utc::now().timestamp();
    let link = |who: &str, role| {
        let t = join_token::mint(KEY, room, who, who, role, now, 600);
        format!("{}/r/{room}#token={t}", app.base)
    };
    let mut coach = Chromium::open(&link("Coach", RoomRole::Coach)).await;
    let mut client = Chromium::open(&link("Client", RoomRole::Client)).await;
    for b in [&mut coach, &mut client] {
        b.wait_until(
            "document.getElementById('join').disabled === false",
            20,
            "camera and microphone",
        )
        .await;
        b.eval("document.getElementById('join').click(), true")
            .await;
    }
    let decoding = |rejoins: &str| {
        format!(
            "window.parlorStats().then(s => s.state === 'joined' && s.rejoins {rejoins} \
             && s.framesDecoded > 0 && s.videoWidth > 0)"
        )
    };
    for b in [&mut coach, &mut client] {
        b.wait_until(&decoding("=== 0"), 20, "each decodes the other's video")
            .await;
    }

    app.begin_stop();
    for b in [&mut coach, &mut client] {
        b.wait_until(
            "document.body.innerText.includes('The server is restarting')",
            10,
            "the page to say the server is restarting",
        )
        .await;
    }
    assert!(
        app.wait_stopped(Duration::from_secs(15)).await,
        "the server stops after its drain time"
    );
    for b in [&mut coach, &mut client] {
        b.wait_until(
            "window.parlorStats().then(s => s.state === 'reconnecting')",
            10,
            "the page to wait for the server",
        )
        .await;
    }
    app.start_again().await;
    for b in [&mut coach, &mut client] {
        b.wait_until(
            &decoding(">= 1"),
            40,
            "the page to rejoin by itself and decode video again",
        )
        .await;
    }
    assert!(coach.page_errors().await.is_empty());
    assert!(client.page_errors().await.is_empty());
}
