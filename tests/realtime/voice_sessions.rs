//! AI voice sessions end to end: a webrtc-rs caller (parlor's own client) starts a session
//! over HTTP, joins its room, holds the talk button and speaks tone bursts, and hears the
//! agent — the built-in echo agent, or the ElevenLabs test double over a real WebSocket.
//! Failures of the agent (unreachable, early drop, stall, contract error) reach the caller in
//! words, end the session cleanly and keep the transcript; history, transcripts, export and
//! erasure are checked through the API, including for the wrong user.

use crate::common;

use crate::common::fake_elevenlabs::{Failure, FakeConfig, FakeElevenLabs};
use common::sfu::{transport, wait_metrics};
use common::voice::{hear_anything, hear_tone, speak};
use common::{Backend, TestApp};
use parlor::client::voice::VoiceCaller;
use parlor::config::Config;
use parlor::signal::protocol::ServerMessage;
use serde_json::Value;
use std::time::Duration;

async fn voice_app(ports: &str, tweak: impl FnOnce(&mut Config) + Send + 'static) -> TestApp {
    let ports = ports.to_string();
    TestApp::start_with(Backend::Sqlite, move |c| {
        c.rtc.udp_ports = ports;
        tweak(c);
    })
    .await
}

async fn double_app(ports: &str, fake: &FakeElevenLabs, stall_secs: u32) -> TestApp {
    let base = fake.base_url();
    voice_app(ports, move |c| {
        c.voice.agent = parlor::config::AgentChoice::Elevenlabs;
        c.voice.elevenlabs.agent_id = "agent_test".into();
        c.voice.elevenlabs.base_url = base;
        c.voice.elevenlabs.stall_secs = stall_secs;
    })
    .await
}

/// Starts a voice session for a new client user; returns (http client, session json).
async fn start(app: &TestApp, email: &str) -> (reqwest::Client, Value) {
    let (http, _) = app.client_user(email).await;
    let r = http
        .post(app.url("/api/voice/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    (http, r.json().await.unwrap())
}

async fn call(app: &TestApp, started: &Value) -> VoiceCaller {
    let ws = app.base.replace("http://", "ws://") + "/rtc";
    let token = started["token"].as_str().unwrap();
    VoiceCaller::join(&ws, token, &transport(40))
        .await
        .expect("caller joins the voice room")
}

async fn agent_state(c: &mut VoiceCaller, state: &str, secs: u64) -> Option<String> {
    let m = c
        .message(
            Duration::from_secs(secs),
            |m| matches!(m, ServerMessage::Agent { state: s, .. } if s == state),
        )
        .await?;
    let ServerMessage::Agent { message, .. } = m else {
        unreachable!()
    };
    Some(message.unwrap_or_default())
}

async fn session_json(app: &TestApp, http: &reqwest::Client, id: &str) -> (u16, Value) {
    let r = http
        .get(app.url(&format!("/api/voice/sessions/{id}")))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Polls the session until it has ended; returns it.
async fn ended(app: &TestApp, http: &reqwest::Client, id: &str) -> Value {
    for _ in 0..100 {
        let (_, v) = session_json(app, http, id).await;
        if !v["ended_at"].is_null() && v["live"] == false {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("voice session {id} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_agent_plays_back_what_the_user_said() {
    let app = voice_app(&crate::common::udp_ports(20), |_| {}).await;
    let (http, started) = start(&app, "echo@example.org").await;
    let id = started["session"]["id"].as_str().unwrap().to_string();
    assert_eq!(started["session"]["agent"], "echo");
    assert!(started["join_url"].as_str().unwrap().contains("#token="));
    let mut caller = call(&app, &started).await;
    // The agent listens at 16 kHz, so the server asks the microphone for no more.
    assert_eq!(
        caller
            .client
            .publish_answer()
            .and_then(parlor::media::sdp::opus_max_playback_rate),
        Some(16_000)
    );
    assert!(agent_state(&mut caller, "listening", 10).await.is_some());

    speak(&mut caller, 440.0, 50, 60).await;
    let mut heard = caller
        .hear_agent(Duration::from_secs(10))
        .await
        .expect("agent track");
    assert!(
        hear_tone(&mut heard, 440.0, Duration::from_secs(8))
            .await
            .is_some(),
        "the echo agent plays the 440 Hz tone back"
    );
    let line = caller
        .message(
            Duration::from_secs(5),
            |m| matches!(m, ServerMessage::Transcript { speaker, .. } if speaker == "user"),
        )
        .await
        .expect("a transcript line for the user");
    let ServerMessage::Transcript { text, .. } = line else {
        unreachable!()
    };
    assert!(text.to_lowercase().contains("echo"), "{text}");

    // The wrong user sees nothing of it.
    let (other, _) = app.client_user("other@example.org").await;
    assert_eq!(session_json(&app, &other, &id).await.0, 404);
    let r = other
        .post(app.url(&format!("/api/voice/sessions/{id}/end")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let r = http
        .post(app.url(&format!("/api/voice/sessions/{id}/end")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let msg = agent_state(&mut caller, "ended", 5)
        .await
        .expect("told the session ended");
    assert!(!msg.is_empty());
    let v = ended(&app, &http, &id).await;
    assert_eq!(v["end_reason"], "hung up");
    assert!(!v["transcript"].as_array().unwrap().is_empty(), "{v}");
    let list: Value = crate::common::get_json(&http, app.url("/api/voice/sessions")).await;
    assert_eq!(list[0]["id"], id.as_str());
    caller.client.close().await;
    wait_metrics(
        &app,
        &[("parlor_voice_sessions", 0), ("parlor_rooms", 0)],
        "the voice session and its room are gone after the caller leaves",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elevenlabs_double_hears_the_user_and_answers_with_transcripts() {
    let fake = FakeElevenLabs::start_local(FakeConfig {
        think_time: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    let app = double_app(&crate::common::udp_ports(20), &fake, 20).await;
    let (http, started) = start(&app, "talker@example.org").await;
    let id = started["session"]["id"].as_str().unwrap().to_string();
    let mut caller = call(&app, &started).await;
    assert!(agent_state(&mut caller, "listening", 10).await.is_some());
    speak(&mut caller, 300.0, 40, 50).await;
    let mut heard = caller
        .hear_agent(Duration::from_secs(10))
        .await
        .expect("agent track");
    for speaker in ["user", "agent"] {
        caller
            .message(
                Duration::from_secs(8),
                |m| matches!(m, ServerMessage::Transcript { speaker: s, .. } if s == speaker),
            )
            .await
            .unwrap_or_else(|| panic!("a live {speaker} transcript line"));
    }
    assert!(
        hear_anything(&mut heard, Duration::from_secs(8)).await,
        "agent audio is heard"
    );
    // The agent was told who it talks to.
    let seen = fake.observed();
    let init = seen.conversations[0]
        .init
        .as_ref()
        .expect("initiation data");
    let vars = format!("{:?}", init);
    assert!(vars.contains("Client Person"), "{vars}");
    assert!(vars.contains("open_commitments"), "{vars}");
    http.post(app.url(&format!("/api/voice/sessions/{id}/end")))
        .send()
        .await
        .unwrap();
    let v = ended(&app, &http, &id).await;
    let speakers: Vec<&str> = v["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["speaker"].as_str())
        .collect();
    assert!(
        speakers.contains(&"user") && speakers.contains(&"agent"),
        "{v}"
    );
    assert!(v["conversation_id"].is_string(), "{v}");
    // Export carries it; erasure removes it.
    let export: Value = crate::common::get_json(&http, app.url("/api/me/export")).await;
    assert_eq!(export["voice_sessions"][0]["id"], id.as_str());
    assert!(
        !export["voice_sessions"][0]["transcript"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let uid = export["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        http.delete(app.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let left = app
        .state
        .store
        .voice_sessions(&parlor::ids::UserId(uid), 10)
        .await
        .unwrap();
    assert!(left.is_empty(), "erased");
    caller.client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_agent_is_explained_and_the_session_ends() {
    let fake = FakeElevenLabs::start_local(FakeConfig {
        failure: Failure::RefuseConnection,
        ..Default::default()
    })
    .await
    .unwrap();
    let app = double_app(&crate::common::udp_ports(20), &fake, 20).await;
    let (http, started) = start(&app, "nobody@example.org").await;
    let id = started["session"]["id"].as_str().unwrap().to_string();
    let mut caller = call(&app, &started).await;
    let msg = agent_state(&mut caller, "ended", 15)
        .await
        .expect("told in words");
    assert!(msg.contains("could not be reached"), "{msg}");
    let v = ended(&app, &http, &id).await;
    assert_eq!(v["end_reason"], "agent unreachable");
    caller.client.close().await;
    wait_metrics(
        &app,
        &[("parlor_voice_sessions", 0)],
        "no voice session after the caller leaves",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_drop_is_reconnected_once_then_the_session_ends() {
    let fake = FakeElevenLabs::start_local(FakeConfig {
        failure: Failure::DropAfter(Duration::from_millis(700)),
        ..Default::default()
    })
    .await
    .unwrap();
    let app = double_app(&crate::common::udp_ports(20), &fake, 20).await;
    let (http, started) = start(&app, "dropped@example.org").await;
    let id = started["session"]["id"].as_str().unwrap().to_string();
    let mut caller = call(&app, &started).await;
    let msg = agent_state(&mut caller, "ended", 15)
        .await
        .expect("told in words");
    assert!(msg.contains("problem"), "{msg}");
    assert_eq!(
        fake.observed().conversations.len(),
        2,
        "exactly one reconnect"
    );
    let v = ended(&app, &http, &id).await;
    assert!(
        v["end_reason"].as_str().unwrap().starts_with("agent error"),
        "{v}"
    );
    caller.client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_refusing_agent_ends_with_words_and_no_reconnect_for_1008() {
    let stall = FakeElevenLabs::start_local(FakeConfig {
        failure: Failure::StallAfter(Duration::from_millis(200)),
        ..Default::default()
    })
    .await
    .unwrap();
    let app = double_app(&crate::common::udp_ports(20), &stall, 1).await;
    let (_, started) = start(&app, "stall@example.org").await;
    let mut caller = call(&app, &started).await;
    let msg = agent_state(&mut caller, "ended", 20)
        .await
        .expect("told in words");
    assert!(msg.contains("stopped responding"), "{msg}");
    caller.client.close().await;

    let refuse = FakeElevenLabs::start_local(FakeConfig {
        failure: Failure::CloseAfter {
            code: 1008,
            after: Duration::from_millis(200),
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let app = double_app(&crate::common::udp_ports(20), &refuse, 20).await;
    let (_, started) = start(&app, "refused@example.org").await;
    let mut caller = call(&app, &started).await;
    let msg = agent_state(&mut caller, "ended", 15)
        .await
        .expect("told in words");
    assert!(msg.contains("refused"), "{msg}");
    assert_eq!(
        refuse.observed().conversations.len(),
        1,
        "a contract error is not retried"
    );
    caller.client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_api_refuses_strangers_and_unknown_ids() {
    let app = voice_app(&crate::common::udp_ports(20), |_| {}).await;
    let anon = app.client();
    assert_eq!(
        anon.post(app.url("/api/voice/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        anon.get(app.url("/api/voice/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let (http, _) = app.client_user("ids@example.org").await;
    for path in ["/api/voice/sessions/v_nope", "/api/voice/sessions/%00"] {
        let r = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = http
        .post(app.url("/api/voice/sessions/v_nope/end"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let list: Value = crate::common::get_json(&http, app.url("/api/voice/sessions")).await;
    assert_eq!(list, serde_json::json!([]));
}

/// The agent's `recent_sessions` are sessions that took place: not a cancelled one (past or
/// still to come), not a no-show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_is_told_only_of_sessions_that_took_place() {
    let fake = FakeElevenLabs::start_local(FakeConfig::default())
        .await
        .unwrap();
    let app = double_app(&crate::common::udp_ports(20), &fake, 20).await;
    let admin = app.admin().await;
    let (coach_api, coach) = app.coach(&admin, "coach@example.org").await;
    let (http, _) = app.client_user("talker@example.org").await;
    let mut booked = Vec::new();
    for days in [1, 2, 3, 7] {
        let at = app.free_slot(&coach, chrono::Duration::days(days)).await;
        let b: Value = crate::common::post_json(
            &http,
            app.url("/api/bookings"),
            &serde_json::json!({"coach_id": coach, "starts_at": at.to_rfc3339(), "session_type": "video"}),
        )
        .await;
        booked.push((at, b["id"].as_str().expect("booked").to_string()));
    }
    let [
        (held, _),
        (_, cancelled_past),
        (no_show_at, no_show),
        (_, cancelled_next),
    ] = booked.as_slice()
    else {
        unreachable!()
    };
    for id in [cancelled_past, cancelled_next] {
        let r = coach_api
            .post(app.url(&format!("/api/bookings/{id}/cancel")))
            .json(&serde_json::json!({"reason": "travel"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Five days on: the first three have ended; the coach records the no-show.
    app.clock.advance(chrono::Duration::days(5));
    let r = coach_api
        .put(app.url(&format!("/api/bookings/{no_show}/status")))
        .json(&serde_json::json!({"status": "no_show"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(app.url("/api/voice/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let started: Value = r.json().await.unwrap();
    let mut caller = call(&app, &started).await;
    assert!(agent_state(&mut caller, "listening", 10).await.is_some());
    let seen = fake.observed();
    let init = seen.conversations[0]
        .init
        .as_ref()
        .expect("initiation data");
    let recent = init.dynamic_variables["recent_sessions"]
        .as_str()
        .expect("a string")
        .to_string();
    assert_eq!(
        recent,
        format!("{} (video)", held.format("%Y-%m-%d")),
        "only the session that took place (not {no_show_at}, nor the cancelled ones)"
    );
    caller.client.close().await;
}

/// The agent's state follows its replies: `connecting` is said once at join, and a 2.5 s echo
/// reply (its audio arrives in chunks) is one `speaking` and one `listening`, not a flicker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_states_follow_replies_not_chunks() {
    let app = voice_app(&crate::common::udp_ports(20), |_| {}).await;
    let (_http, started) = start(&app, "states@example.org").await;
    let mut caller = call(&app, &started).await;
    assert!(agent_state(&mut caller, "listening", 10).await.is_some());
    // Unmatched messages stay queued: every `connecting` sent before `listening` is still there.
    assert!(agent_state(&mut caller, "connecting", 1).await.is_some());
    assert!(
        agent_state(&mut caller, "connecting", 0).await.is_none(),
        "`connecting` was said twice"
    );
    speak(&mut caller, 440.0, 125, 80).await;
    assert!(
        agent_state(&mut caller, "speaking", 10).await.is_some(),
        "the echo replies"
    );
    assert!(
        agent_state(&mut caller, "listening", 10).await.is_some(),
        "and falls silent after its reply"
    );
    assert!(
        agent_state(&mut caller, "speaking", 0).await.is_none(),
        "one `speaking` per reply"
    );
    assert!(
        agent_state(&mut caller, "listening", 0).await.is_none(),
        "one `listening` per reply"
    );
    caller.client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doubles_streaming_echo_plays_back_what_is_said_with_the_button_held() {
    // The voice_rtt benchmark's set-up: the double sends every chunk straight back, including
    // the silence sent while the button is up, so the agent is audible when the button is
    // pressed. The press cuts the reply being played, and only that one.
    let fake = FakeElevenLabs::start_local(FakeConfig {
        streaming_echo: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let app = double_app(&crate::common::udp_ports(20), &fake, 10).await;
    let (_http, started) = start(&app, "stream.echo@example.org").await;
    let mut caller = call(&app, &started).await;
    assert!(agent_state(&mut caller, "listening", 10).await.is_some());
    speak(&mut caller, 0.0, 0, 25).await;
    let mut heard = caller
        .hear_agent(Duration::from_secs(10))
        .await
        .expect("the echoed silence brings the agent's track");
    for freq in [660.0, 880.0] {
        speak(&mut caller, freq, 25, 10).await;
        assert!(
            hear_tone(&mut heard, freq, Duration::from_secs(5))
                .await
                .is_some(),
            "the {freq} Hz said with the button held comes back"
        );
    }
}
