//! The room page's bad paths in real Chromium, each of which must end in a sentence a person
//! understands in the status region: an expired link, a tampered link (refused by the
//! server), a camera the browser refuses, a full room (two webrtc-rs participants already in;
//! the visitor, not logged in, also gets the booking's Jitsi Meet fallback link from the join
//! token's `fallback` claim), and a server that has gone away. Skipped, loudly, when Chromium is absent outside CI.

use crate::common;

use common::TestApp;
use common::browser::{Chromium, Launch};
use common::sfu::{self, transport};
use parlor::auth::join_token::{self, RoomRole};
use serde_json::{Value, json};

const KEY: &[u8] = b"test-signing-secret-0123456789abcdef";

fn link(app: &TestApp, room: &str, issued: i64, ttl: i64) -> String {
    let t = join_token::mint(
        KEY,
        room,
        "u_guest",
        "Gil Guest",
        RoomRole::Guest,
        issued,
        ttl,
    );
    format!("{}/r/{room}#token={t}", app.base)
}

/// Waits for the status region to contain `words`.
async fn says(b: &mut Chromium, words: &str, secs: u64) {
    b.wait_until(
        &format!("(document.getElementById('status')?.textContent || '').includes({words:?})"),
        secs,
        &format!("the page to say {words:?}"),
    )
    .await;
}

async fn join_when_ready(b: &mut Chromium) {
    b.wait_until(
        "document.getElementById('join').disabled === false",
        20,
        "camera and microphone",
    )
    .await;
    b.eval("document.getElementById('join').click(), true")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_links_and_a_refused_camera_are_explained() {
    if crate::common::browser::skip_without_chromium("bad_links_and_a_refused_camera_are_explained")
    {
        return;
    }
    let app = TestApp::for_browser(|c| c.rtc.udp_ports = crate::common::udp_ports(40)).await;
    let now = chrono::Utc::now().timestamp();

    let mut b = Chromium::open(&link(&app, "errors-expired", now - 3600, 600)).await;
    says(&mut b, "This join link has expired", 10).await;
    b.set_viewport(360, 780).await;
    b.screenshot("room-error-expired").await;
    let blue = b.blue_elements().await;
    assert!(blue.is_empty(), "blue on the room error page: {blue:?}");
    drop(b);

    // A tampered signature passes the page's own checks; the server refuses it.
    let mut tampered = link(&app, "errors-tampered", now, 600);
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let mut b = Chromium::open(&tampered).await;
    join_when_ready(&mut b).await;
    says(&mut b, "This join link is not valid", 15).await;
    drop(b);

    let launch = Launch {
        deny_media: true,
        ..Launch::default()
    };
    let mut b = Chromium::open_with(&link(&app, "errors-denied", now, 600), launch).await;
    says(&mut b, "blocked the camera and microphone", 15).await;
    b.wait_until(
        "document.getElementById('join-without-media').hidden === false",
        5,
        "the offer to join without camera and microphone",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_is_explained_with_the_jitsi_fallback() {
    if crate::common::browser::skip_without_chromium(
        "a_full_room_is_explained_with_the_jitsi_fallback",
    ) {
        return;
    }
    let app = TestApp::for_browser(|c| {
        c.rtc.udp_ports = crate::common::udp_ports(40);
        c.rooms.max_participants = 2;
    })
    .await;
    let admin = app.admin().await;
    let (_, coach_id) = app.coach(&admin, "coach.full@example.org").await;
    let (client, _) = app.client_user("client.full@example.org").await;
    let at = app.free_slot(&coach_id, chrono::Duration::hours(1)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": at.to_rfc3339(), "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let booking: Value = r.json().await.unwrap();
    let fallback = booking["fallback_url"].as_str().expect("a fallback link");
    // Room tokens are minted from 15 minutes before the start: move the server's clock there.
    {
        let start: chrono::DateTime<chrono::Utc> =
            booking["starts_at"].as_str().unwrap().parse().unwrap();
        app.clock
            .advance(start - app.clock.now() - chrono::Duration::minutes(10));
    }

    let room = booking["join_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let token: Value = client
        .post(app.url(&format!("/api/rooms/{room}/token")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let _a = sfu::join(&app, &transport(10), &room, "u_a", "A").await;
    let _b = sfu::join(&app, &transport(10), &room, "u_b", "B").await;

    // Not logged in: the page can only know the fallback link from the token's claim.
    let mut b = Chromium::open(token["join_url"].as_str().unwrap()).await;
    let logged_in = b.eval("fetch('/api/me').then(r => r.status)").await;
    assert_eq!(logged_in, 401, "the browser is not logged in");
    join_when_ready(&mut b).await;
    says(&mut b, "This room is full", 15).await;
    b.wait_until(
        "document.getElementById('fallback-wrap').hidden === false",
        10,
        "the Jitsi Meet fallback link",
    )
    .await;
    let href = b.eval("document.getElementById('fallback').href").await;
    assert_eq!(href.as_str(), Some(fallback), "the booking's fallback link");
    let target = b.eval("document.getElementById('fallback').target").await;
    assert_eq!(target, "_blank", "the fallback opens in a new tab");
    b.screenshot("room-error-full").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_explained() {
    if crate::common::browser::skip_without_chromium("an_unreachable_server_is_explained") {
        return;
    }
    let app = TestApp::for_browser(|c| c.rtc.udp_ports = crate::common::udp_ports(40)).await;
    let now = chrono::Utc::now().timestamp();
    let mut b = Chromium::open(&link(&app, "errors-unreachable", now, 600)).await;
    b.wait_until(
        "document.getElementById('join').disabled === false",
        20,
        "camera and microphone",
    )
    .await;
    drop(app); // the server stops
    b.eval("document.getElementById('join').click(), true")
        .await;
    says(&mut b, "Cannot connect to the video server", 15).await;
}

/// Opened over plain http at an address that is not localhost, the room and voice pages say
/// that the browser allows camera and microphone only on secure pages, and how to fix it —
/// not "no camera was found" or "this browser cannot make calls".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_pages_explain_the_missing_secure_context() {
    if crate::common::browser::skip_without_chromium(
        "plain_http_pages_explain_the_missing_secure_context",
    ) {
        return;
    }
    let app = TestApp::for_browser(|c| c.rtc.udp_ports = crate::common::udp_ports(20)).await;
    let now = app.clock.now().timestamp();
    let insecure = |url: String| url.replace("127.0.0.1", "parlor.test");
    let launch = Launch {
        host_alias: Some("parlor.test"),
        ..Launch::default()
    };
    let room = insecure(link(&app, "insecure-room", now, 600));
    let mut b = Chromium::open_with(&room, launch).await;
    says(&mut b, "only on secure (https) pages", 15).await;
    says(&mut b, "https://parlor.test", 1).await;
    let text = b
        .eval("document.getElementById('status').textContent")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!text.contains("No camera or microphone"), "{text}");
    drop(b);

    let mut b = Chromium::open_with(&insecure(app.url("/voice")), launch).await;
    says(&mut b, "only on secure (https) pages", 15).await;
    let text = b
        .eval("document.getElementById('status').textContent")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!text.contains("cannot make voice calls"), "{text}");
}
