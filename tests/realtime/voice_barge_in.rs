//! Barge-in end to end: a webrtc-rs caller hears the ElevenLabs test double's long reply (a
//! 660 Hz tone) through the server, speaks over it, and the reply stops at once — the double's
//! stale chunks after its `interruption` are never heard — and the agent's next reply is heard,
//! whether it reuses the interruption's event id (as the real service does) or takes a new one.

use crate::common;

use crate::common::fake_elevenlabs::{FakeConfig, FakeElevenLabs};
use common::voice::{hear_tone, speak};
use common::{Backend, TestApp};
use parlor::client::voice::{HeardFrame, VoiceCaller, tone_power};
use parlor::signal::protocol::ServerMessage;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const REPLY_HZ: f64 = 660.0;

fn frames_until(rx: &mut mpsc::UnboundedReceiver<HeardFrame>, out: &mut Vec<HeardFrame>) {
    while let Ok(f) = rx.try_recv() {
        out.push(f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaking_over_the_agent_stops_its_reply_at_once_and_the_next_reply_plays() {
    barge_in(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reply_after_a_barge_in_plays_with_a_new_id_too() {
    barge_in(false).await;
}

/// `reuse`: the double's reply after the interruption carries the interruption's id.
async fn barge_in(reuse: bool) {
    let fake = FakeElevenLabs::start_local(FakeConfig {
        think_time: Duration::from_millis(100),
        reply_ms: 6000,
        stale_chunks: 5,
        reuse_interruption_id: reuse,
        ..Default::default()
    })
    .await
    .unwrap();
    let base = fake.base_url();
    let app = TestApp::start_with(Backend::Sqlite, move |c| {
        c.rtc.udp_ports = crate::common::udp_ports(20);
        c.voice.agent = parlor::config::AgentChoice::Elevenlabs;
        c.voice.elevenlabs.agent_id = "agent_test".into();
        c.voice.elevenlabs.base_url = base;
    })
    .await;
    let (http, _) = app.client_user("barge@example.org").await;
    let started: serde_json::Value = http
        .post(app.url("/api/voice/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws = app.base.replace("http://", "ws://") + "/rtc";
    let transport = common::sfu::transport(40);
    let mut caller = VoiceCaller::join(&ws, started["token"].as_str().unwrap(), &transport)
        .await
        .expect("caller joins");
    caller
        .message(
            Duration::from_secs(10),
            |m| matches!(m, ServerMessage::Agent { state, .. } if state == "listening"),
        )
        .await
        .expect("the agent listens");

    // A first turn; the agent answers with six seconds of tone.
    speak(&mut caller, 300.0, 30, 40).await;
    let mut heard = caller
        .hear_agent(Duration::from_secs(10))
        .await
        .expect("agent track");
    let reply_start = hear_tone(&mut heard, REPLY_HZ, Duration::from_secs(8))
        .await
        .expect("the reply is heard");
    tokio::time::sleep_until((reply_start + Duration::from_millis(600)).into()).await;

    // Barge in: speak for 400 ms over the reply, then stay quiet.
    let barge = Instant::now();
    speak(&mut caller, 300.0, 20, 0).await;
    let spoken = Instant::now();
    let mut frames = Vec::new();
    // The double's VAD ends the barge-in turn after 600 ms of quiet and replies 100 ms
    // later: listen across that window and well into the next reply.
    let quiet = vec![0i16; 960];
    let listen_until = spoken + Duration::from_millis(2500);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while Instant::now() < listen_until {
        tick.tick().await;
        caller.mic.send_frame(&quiet).await.unwrap();
        frames_until(&mut heard, &mut frames);
    }
    let loud = |f: &HeardFrame| tone_power(&f.pcm, REPLY_HZ) > 0.005;
    let last_before_cut = frames
        .iter()
        .filter(|f| f.arrived < spoken + Duration::from_millis(500) && loud(f))
        .map(|f| f.arrived)
        .max();
    if let Some(t) = last_before_cut {
        let cut_after = t.duration_since(barge);
        assert!(
            cut_after < Duration::from_millis(450),
            "the reply went on {cut_after:?} after the user started speaking"
        );
    }
    // Nothing of the interrupted reply (its stale chunks included) in the gap before the
    // agent's next turn can start (600 ms end of speech + 100 ms think time).
    let gap = frames
        .iter()
        .filter(|f| {
            f.arrived > barge + Duration::from_millis(450)
                && f.arrived < spoken + Duration::from_millis(600)
        })
        .filter(|f| loud(f))
        .count();
    assert_eq!(gap, 0, "{gap} frames of the interrupted reply were played");
    // The next reply carries the interruption's id and must be played.
    let next = frames
        .iter()
        .filter(|f| f.arrived > spoken + Duration::from_millis(600) && loud(f))
        .count();
    assert!(
        next >= 20,
        "the reply after the barge-in was heard ({next} frames)"
    );
    let observed = fake.observed();
    let sent = &observed.conversations[0].sent;
    let stale = sent
        .iter()
        .skip_while(|(t, _)| t != "interruption")
        .filter(|(t, _)| t == "audio")
        .count();
    assert!(
        stale >= 5,
        "the double interrupted and sent stale chunks: {sent:?}"
    );
    // Which id the next reply carried, as the double logged it.
    let interruption = sent
        .iter()
        .find(|(t, _)| t == "interruption")
        .and_then(|(_, id)| *id)
        .unwrap();
    let next_reply = sent
        .iter()
        .skip_while(|(t, _)| t != "interruption")
        .find(|(t, _)| t == "agent_response")
        .and_then(|(_, id)| *id)
        .expect("a reply after the interruption");
    assert_eq!(next_reply == interruption, reuse, "{sent:?}");
    caller.client.close().await;
}
