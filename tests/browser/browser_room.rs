//! Two headless Chromium instances open the same room link: each decodes the other's video
//! and receives its audio through the SFU, and leaving updates the other side. Runs in CI
//! (`.ci/run` installs chromium); elsewhere it is skipped, loudly, when Chromium is absent.
//!
//! Three calls in fresh rooms must all succeed: this guards a fixed bug where one side, in
//! roughly one call in ten, received the other's video but decoded no frame, because the
//! publisher leg's MID header extension was forwarded unchanged and Chromium routed the
//! packets to the wrong transceiver.
//!
//! The first call also exercises the rest of the call page: the coach shares a screen
//! (`getDisplayMedia`, which `--use-fake-ui-for-media-stream` answers with a fake screen) and
//! the client decodes it in a new tile; a chat message, a raised hand and a reaction cross
//! over; an ICE restart (what the page does after a network change) keeps sound and pictures
//! flowing; the client's signalling socket is dropped and the page rejoins by itself with the
//! same token, after which the coach sees exactly one client tile (no ghost) whose video
//! flows again and whose hand is still up; stopping the share removes its tile. Screenshots
//! at 1280 and 360 px wide, and no blue.

use crate::common;

use common::TestApp;
use common::browser::Chromium;
use parlor::auth::join_token::{self, RoomRole};

const KEY: &[u8] = b"test-signing-secret-0123456789abcdef";

fn click(id: &str) -> String {
    format!("document.getElementById('{id}').click(), true")
}

/// The rest of the call page, between the coach and the client of a running call.
async fn call_features(coach: &mut Chromium, client: &mut Chromium) -> Result<(), String> {
    coach.eval(&click("screen")).await;
    client
        .try_wait(
            "window.parlorStats().then(s => s.screenWidth > 0 && document.querySelectorAll('.tile.screen').length === 1)",
            20,
            "the client to decode the coach's screen share in its own tile",
        )
        .await?;
    client.eval(&click("chat-toggle")).await;
    client
        .eval("document.getElementById('chat-input').value = 'hello from the client', true")
        .await;
    client.eval(&click("chat-send")).await;
    coach
        .try_wait(
            "[...document.querySelectorAll('#chat-log .chat-line')].some(l => l.textContent.includes('hello from the client'))",
            10,
            "the client's chat message on the coach's page",
        )
        .await?;
    client.eval(&click("hand")).await;
    let hand_up = "[...document.querySelectorAll('.tile:not(.self) .hand')].some(h => !h.hidden)";
    coach
        .try_wait(hand_up, 10, "the client's raised hand on the coach's page")
        .await?;
    client
        .eval("document.getElementById('react').click(); document.querySelector('.reaction-button').click(); true")
        .await;
    coach
        .try_wait(
            "document.querySelectorAll('.tile:not(.self) .reaction').length > 0",
            10,
            "the client's reaction on the coach's page",
        )
        .await?;
    coach.set_viewport(1280, 800).await;
    coach.screenshot("room-call").await;
    coach.set_viewport(360, 780).await;
    coach.screenshot("room-call").await;
    let blue = coach.blue_elements().await;
    if !blue.is_empty() {
        return Err(format!("blue on the room page: {blue:?}"));
    }
    coach.set_viewport(1280, 800).await;

    // A network change: ICE restarts on both connections; sound and pictures keep coming.
    let before = client.eval("window.parlorStats()").await;
    client.eval("window.parlorDebug.restartIce(), true").await;
    client
        .try_wait(
            &format!(
                "window.parlorStats().then(s => s.state === 'joined' && s.rejoins === 0 && s.remoteTracks === {} \
                 && s.framesDecoded > {} + 10 && s.audioEnergy > {})",
                before["remoteTracks"], before["framesDecoded"], before["audioEnergy"]
            ),
            20,
            "media to keep flowing after an ICE restart",
        )
        .await?;

    // The client's socket drops: the page rejoins with the same token by itself.
    let before = coach.eval("window.parlorStats()").await;
    client.eval("window.parlorDebug.rejoin(), true").await;
    client
        .try_wait(
            "window.parlorStats().then(s => s.rejoins === 1 && s.state === 'joined' && s.framesDecoded > 0 && s.videoWidth > 0)",
            30,
            "the client to rejoin and decode video again",
        )
        .await?;
    let frames = before["framesDecoded"].as_u64().unwrap_or(0);
    coach
        .try_wait(
            &format!("window.parlorStats().then(s => s.framesDecoded > {frames} + 10) && document.querySelectorAll('.tile:not(.self):not(.screen)').length === 1"),
            20,
            "the coach to see one client tile (no ghost) with video again after the rejoin",
        )
        .await?;
    coach
        .try_wait(hand_up, 10, "the client's hand to stay up after the rejoin")
        .await?;
    client
        .try_wait(
            "window.parlorStats().then(s => s.screenWidth > 0)",
            20,
            "the client to see the screen share again after its rejoin",
        )
        .await?;
    coach.eval(&click("screen")).await;
    client
        .try_wait(
            "document.querySelectorAll('.tile.screen').length === 0",
            10,
            "the screen share tile to go when the coach stops sharing",
        )
        .await?;
    // The coach's own page has settled too, so its next status line is about the leave.
    coach
        .try_wait(
            "document.getElementById('status').textContent.includes('stopped sharing')",
            10,
            "the coach's page to confirm the share stopped",
        )
        .await
}

async fn call(app: &TestApp, room: &str, full: bool) -> Result<(), String> {
    let now = chrono::Utc::now().timestamp();
    let link = |who: &str, role| {
        let t = join_token::mint(KEY, room, who, who, role, now, 600);
        format!("{}/r/{room}#token={t}", app.base)
    };
    let mut coach = Chromium::open(&link("Coach", RoomRole::Coach)).await;
    let mut client = Chromium::open(&link("Client", RoomRole::Client)).await;
    for b in [&mut coach, &mut client] {
        b.try_wait(
            "document.getElementById('join').disabled === false",
            20,
            "camera and microphone",
        )
        .await?;
        b.eval(&click("join")).await;
    }
    let done = "window.parlorStats().then(s => s.framesDecoded > 0 && s.videoWidth > 0 && s.audioEnergy > 0)";
    coach
        .try_wait(
            done,
            20,
            "the coach to decode the client's video and hear their audio",
        )
        .await?;
    client
        .try_wait(
            done,
            20,
            "the client to decode the coach's video and hear their audio",
        )
        .await?;
    let stats = client.eval("window.parlorStats()").await;
    eprintln!("client receives: {stats}");
    if full {
        call_features(&mut coach, &mut client).await?;
    }
    client.eval(&click("leave")).await;
    coach
        .try_wait(
            "document.querySelectorAll('.tile:not(.self)').length === 0 && document.getElementById('status').textContent.includes('left')",
            10,
            "the coach to see the client leave",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chromium_browsers_see_and_hear_each_other() {
    if crate::common::browser::skip_without_chromium(
        "two_chromium_browsers_see_and_hear_each_other",
    ) {
        return;
    }
    let app = TestApp::for_browser(|c| c.rtc.udp_ports = crate::common::udp_ports(200)).await;
    for i in 1..=3 {
        if let Err(e) = call(&app, &format!("browser-room-{i}"), i == 1).await {
            panic!("call {i} of 3: {e}");
        }
    }
}
