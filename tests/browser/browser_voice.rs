//! The AI coach page `/voice` in real Chromium against the ElevenLabs test double: a logged-in
//! client starts a conversation, holds the talk button (pointer events, then the Space key)
//! while Chromium's fake microphone beeps, sees its own and the agent's transcript lines, hears
//! the agent (audio energy > 0 and a level on the meter), ends the session, and finds it in the
//! history with its transcript. A refused microphone is explained and starts no session.
//! A session started through the API is rejoined by opening its `join_url` (no second session
//! is started), and the same link after the end shows it from the history.
//! Skipped, loudly, when Chromium is absent outside CI.

use crate::common;

use crate::common::fake_elevenlabs::{FakeConfig, FakeElevenLabs};
use common::TestApp;
use common::browser::{Chromium, Launch};
use std::time::Duration;

const STATS: &str = "window.parlorVoiceStats()";

/// How long the person speaks while holding the button (an action, not a wait).
const SPEAK: Duration = Duration::from_millis(2500);

async fn login(browser: &mut Chromium, email: &str) {
    let status = browser
        .eval(&format!(
            "fetch('/api/auth/login', {{method: 'POST', headers: {{'content-type': 'application/json'}}, \
             body: JSON.stringify({{email: '{email}', password: 'correct horse battery'}})}}).then(r => r.status)"
        ))
        .await;
    assert_eq!(status, 200, "the browser logs in");
}

/// The talk button pressed (`pointerdown`) or released (`pointerup`), as a pointer does it.
fn pointer(t: &str) -> String {
    format!(
        "document.getElementById('talk').dispatchEvent(new PointerEvent('{t}', \
         {{bubbles: true, pointerId: 1, button: 0, isPrimary: true}})), true"
    )
}

/// The double with `config`, a server using it, a client `email` logged in through the page,
/// and a conversation started on `/voice` whose agent listens.
async fn conversation(
    config: FakeConfig,
    email: &str,
) -> (FakeElevenLabs, TestApp, reqwest::Client, Chromium) {
    let fake = FakeElevenLabs::start_local(config).await.unwrap();
    let base = fake.base_url();
    let app = TestApp::for_browser(move |c| {
        c.rtc.udp_ports = crate::common::udp_ports(40);
        c.voice.agent = parlor::config::AgentChoice::Elevenlabs;
        c.voice.elevenlabs.agent_id = "agent_test".into();
        c.voice.elevenlabs.base_url = base;
    })
    .await;
    let (http, _) = app.client_user(email).await;
    let mut b = Chromium::open(&app.url("/login")).await;
    b.navigate(&app.url("/login")).await;
    login(&mut b, email).await;
    b.navigate(&app.url("/voice")).await;
    b.wait_until(
        "document.getElementById('voice-start').disabled === false",
        15,
        "the voice page to be ready",
    )
    .await;
    b.eval("document.getElementById('voice-start').click(), true")
        .await;
    b.wait_until(
        &format!("{STATS}.then(s => s.live && s.agentState === 'listening')"),
        20,
        "the agent to listen",
    )
    .await;
    (fake, app, http, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_page_talks_to_the_agent_and_keeps_the_history() {
    if crate::common::browser::skip_without_chromium(
        "voice_page_talks_to_the_agent_and_keeps_the_history",
    ) {
        return;
    }
    let (_fake, app, http, mut b) = conversation(
        FakeConfig {
            think_time: Duration::from_millis(100),
            ..Default::default()
        },
        "voice.browser@example.org",
    )
    .await;

    // Hold to talk with the pointer.
    b.eval(&pointer("pointerdown")).await;
    b.wait_until(
        &format!("{STATS}.then(s => s.talking)"),
        5,
        "the talk button to unmute",
    )
    .await;
    tokio::time::sleep(SPEAK).await;
    b.eval(&pointer("pointerup")).await;
    b.wait_until(
        &format!("{STATS}.then(s => !s.talking && s.userLines > 0 && s.agentLines > 0)"),
        20,
        "a user and an agent transcript line",
    )
    .await;
    b.wait_until(
        &format!("{STATS}.then(s => s.audioEnergy > 0 && s.agentLevelPeak > 0)"),
        15,
        "the agent's audio to play",
    )
    .await;
    // The server asked for no more than 16 kHz (the agent's rate), and Chromium's encoder
    // honours it: the microphone arrives coded wideband, never wider.
    let m = crate::common::sfu::metrics(&app).await;
    let band = |b: &str| {
        crate::common::sfu::metric(
            &m,
            &format!("parlor_voice_user_packets_total{{band=\"{b}\"}}"),
        )
    };
    assert!(band("wide") > 50, "{m}");
    assert_eq!((band("superwide"), band("full")), (0, 0), "{m}");
    b.screenshot("voice-live").await;
    let blue = b.blue_elements().await;
    assert!(blue.is_empty(), "blue on the voice page: {blue:?}");

    // Hold to talk with the Space key.
    let users = b.eval(STATS).await["userLines"].as_u64().unwrap();
    let key = |t: &str| {
        format!(
            "document.dispatchEvent(new KeyboardEvent('{t}', {{code: 'Space', key: ' ', bubbles: true}})), true"
        )
    };
    b.eval(&key("keydown")).await;
    b.wait_until(
        &format!("{STATS}.then(s => s.talking)"),
        5,
        "the Space key to unmute",
    )
    .await;
    tokio::time::sleep(SPEAK).await;
    b.eval(&key("keyup")).await;
    b.wait_until(
        &format!("{STATS}.then(s => !s.talking && s.userLines > {users})"),
        20,
        "a second user line after talking with the Space key",
    )
    .await;

    // End the session; the history lists it with its transcript.
    let id = b.eval(STATS).await["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    b.eval("document.getElementById('voice-end').click(), true")
        .await;
    b.wait_until(
        &format!("{STATS}.then(s => !s.live)"),
        10,
        "the session to end",
    )
    .await;
    b.wait_until(
        &format!("document.querySelector('#history [data-session=\"{id}\"] button') !== null"),
        10,
        "the ended session in the history",
    )
    .await;
    b.eval(&format!(
        "document.querySelector('#history [data-session=\"{id}\"] button').click(), true"
    ))
    .await;
    b.wait_until(
        &format!(
            "(() => {{ const l = [...document.querySelectorAll('#history [data-session=\"{id}\"] .transcript-line')]; \
             return l.some(x => x.dataset.speaker === 'user') && l.some(x => x.dataset.speaker === 'agent'); }})()"
        ),
        10,
        "the stored transcript in the history",
    )
    .await;
    b.set_viewport(360, 780).await;
    b.screenshot("voice-history").await;
    let ended: serde_json::Value =
        crate::common::get_json(&http, app.url(&format!("/api/voice/sessions/{id}"))).await;
    assert!(
        ended["ended_at"].is_string(),
        "the server recorded the end: {ended}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_microphone_is_explained_on_the_voice_page() {
    if crate::common::browser::skip_without_chromium(
        "a_refused_microphone_is_explained_on_the_voice_page",
    ) {
        return;
    }
    let app = TestApp::for_browser(|c| c.rtc.udp_ports = crate::common::udp_ports(20)).await;
    let (http, _) = app.client_user("voice.denied@example.org").await;
    let launch = Launch {
        deny_media: true,
        ..Launch::default()
    };
    let mut b = Chromium::open_with("about:blank", launch).await;
    b.navigate(&app.url("/login")).await;
    login(&mut b, "voice.denied@example.org").await;
    b.navigate(&app.url("/voice")).await;
    b.wait_until(
        "document.getElementById('voice-start').disabled === false",
        15,
        "the voice page to be ready",
    )
    .await;
    b.eval("document.getElementById('voice-start').click(), true")
        .await;
    b.wait_until(
        "document.getElementById('status').textContent.includes('blocked the microphone')",
        10,
        "the page to say the microphone is blocked",
    )
    .await;
    let sessions: serde_json::Value =
        crate::common::get_json(&http, app.url("/api/voice/sessions")).await;
    assert_eq!(
        sessions.as_array().map(Vec::len),
        Some(0),
        "no session is started without a microphone"
    );
}

/// The live transcript applies the protocol's corrections: a tentative user line is replaced
/// by the next line with its `event_id`, and a `corrected` agent line replaces the agent line
/// with its `event_id` (the agent was interrupted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_transcript_applies_corrections() {
    if crate::common::browser::skip_without_chromium("the_live_transcript_applies_corrections") {
        return;
    }
    let app = TestApp::for_browser(|c| c.rtc.udp_ports = crate::common::udp_ports(20)).await;
    let mut b = Chromium::open("about:blank").await;
    b.navigate(&app.url("/login")).await;
    let lines = b
        .eval(
            "import('/assets/pages/voice-transcript.js').then(({ LiveTranscript }) => { \
               const list = document.createElement('ol'); const empty = document.createElement('p'); \
               const t = new LiveTranscript(list, empty); \
               t.apply({speaker: 'user', text: 'helo', event_id: 1, tentative: true, corrected: false}); \
               t.apply({speaker: 'user', text: 'hello there', event_id: 1, tentative: false, corrected: false}); \
               t.apply({speaker: 'agent', text: 'Hi! Let me tell you a long story about', event_id: 2, tentative: false, corrected: false}); \
               t.apply({speaker: 'agent', text: 'Hi! Let me tell you', event_id: 2, tentative: false, corrected: true}); \
               t.apply({speaker: 'user', text: 'stop', event_id: 3, tentative: false, corrected: false}); \
               return [...list.children].map(li => li.dataset.speaker + ':' + li.querySelector('.transcript-text').textContent); })",
        )
        .await;
    assert_eq!(
        lines,
        serde_json::json!(["user:hello there", "agent:Hi! Let me tell you", "user:stop"]),
        "corrections replace lines in place"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_link_rejoins_it_while_live_and_shows_it_after() {
    if crate::common::browser::skip_without_chromium(
        "a_sessions_link_rejoins_it_while_live_and_shows_it_after",
    ) {
        return;
    }
    let app = TestApp::for_browser(|c| c.rtc.udp_ports = crate::common::udp_ports(40)).await;
    let (http, _) = app.client_user("voice.resume@example.org").await;
    let started: serde_json::Value = http
        .post(app.url("/api/voice/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["session"]["id"].as_str().unwrap().to_string();
    let join_url = started["join_url"].as_str().unwrap().to_string();
    assert!(
        join_url.starts_with(&app.url(&format!("/voice/{id}#token="))),
        "{join_url}"
    );
    let sessions = |http: reqwest::Client| {
        let url = app.url("/api/voice/sessions");
        async move {
            let list: serde_json::Value = crate::common::get_json(&http, url).await;
            list.as_array().unwrap().len()
        }
    };

    let mut b = Chromium::open(&app.url("/login")).await;
    b.navigate(&app.url("/login")).await;
    login(&mut b, "voice.resume@example.org").await;
    b.navigate(&join_url).await;
    b.wait_until(
        &format!(
            "{STATS}.then(s => s.live && s.sessionId === {id:?} && s.agentState === 'listening')"
        ),
        20,
        "the page to rejoin the linked session",
    )
    .await;
    assert_eq!(sessions(http.clone()).await, 1, "no second session");
    b.screenshot("voice-rejoined").await;

    b.eval("document.getElementById('voice-end').click(), true")
        .await;
    b.wait_until(
        &format!("{STATS}.then(s => !s.live)"),
        10,
        "the session to end",
    )
    .await;
    let ended = app.url(&format!("/api/voice/sessions/{id}"));
    let mut live = true;
    for _ in 0..50 {
        let v: serde_json::Value = crate::common::get_json(&http, &ended).await;
        live = v["live"].as_bool().unwrap();
        if !live {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!live, "the server ended the session");

    // The same link again: nothing to rejoin, so the page shows the session in the history.
    b.navigate(&app.url("/voice")).await;
    b.navigate(&join_url).await;
    b.wait_until(
        "document.body.dataset.ready === 'true'",
        15,
        "the voice page to be ready",
    )
    .await;
    b.wait_until(
        &format!(
            "document.querySelector('#history [data-session=\"{id}\"] .history-transcript')?.hidden === false"
        ),
        10,
        "the linked session's transcript opened in the history",
    )
    .await;
    let stats = b.eval(STATS).await;
    assert_eq!(
        stats["live"], false,
        "an ended session is not rejoined: {stats}"
    );
    let said = b
        .eval("document.getElementById('status').textContent")
        .await;
    assert!(
        said.as_str().unwrap().contains("has ended"),
        "the page says why: {said}"
    );
    assert_eq!(sessions(http).await, 1, "still no second session");
}

/// Pressing "Hold to talk" while the agent speaks silences it at once, by itself: the double
/// here never sends `interruption` (as a service that has already streamed the whole reply),
/// so only the press can stop the reply; the page shows the agent listening and hears no more
/// of the reply while the button is held, and the service is told the user is active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressing_talk_silences_the_agent_without_the_services_interruption() {
    if crate::common::browser::skip_without_chromium(
        "pressing_talk_silences_the_agent_without_the_services_interruption",
    ) {
        return;
    }
    let (fake, _app, _http, mut b) = conversation(
        FakeConfig {
            think_time: Duration::from_millis(100),
            reply_ms: 12_000,
            interrupts: false,
            ..Default::default()
        },
        "press.browser@example.org",
    )
    .await;
    // A question; the agent answers with twelve seconds of tone.
    b.eval(&pointer("pointerdown")).await;
    b.wait_until(&format!("{STATS}.then(s => s.talking)"), 5, "unmuted")
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.eval(&pointer("pointerup")).await;
    b.wait_until(
        &format!("{STATS}.then(s => s.agentState === 'speaking' && s.audioEnergy > 0)"),
        20,
        "the agent's reply to play",
    )
    .await;
    // Let a second of the reply play, then press while it goes on.
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.eval(&pointer("pointerdown")).await;
    b.wait_until(
        &format!("{STATS}.then(s => s.talking && s.agentHushed && s.agentState === 'listening')"),
        5,
        "the agent to stop speaking when the talk button is pressed (and the page to silence it)",
    )
    .await;
    // Held for two seconds more: the reply (ten more seconds of it) stays silent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = b.eval(STATS).await["audioEnergy"].as_f64().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = b.eval(STATS).await;
    let heard = after["audioEnergy"].as_f64().unwrap() - before;
    assert!(
        heard < 1e-4,
        "the agent stayed audible while the button was held (energy {heard})"
    );
    assert_eq!(after["agentState"], "listening");
    b.eval(&pointer("pointerup")).await;
    // The agent answers what was said while the button was held: its next reply is heard.
    b.wait_until(
        &format!("{STATS}.then(s => s.agentState === 'speaking' && !s.agentHushed)"),
        20,
        "the agent's next reply to be audible on the page again",
    )
    .await;
    let seen = fake.observed();
    let conv = &seen.conversations[0];
    assert!(
        !conv.sent.iter().any(|(t, _)| t == "interruption"),
        "the double never interrupted: {:?}",
        conv.sent
    );
    assert!(
        conv.received.iter().any(|r| matches!(
            r,
            common::fake_elevenlabs::Received::Message(
                parlor::voice::agents::elevenlabs::protocol::ClientMessage::UserActivity
            )
        )),
        "the service was told the user is active"
    );
}
