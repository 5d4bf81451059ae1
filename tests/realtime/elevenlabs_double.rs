//! The ElevenLabs client against the ElevenLabs test double, over real sockets on 127.0.0.1:0:
//! session start, keep-alives, turns, barge-in, tool calls, private agents, and every way a
//! conversation can end.

use crate::common::fake_elevenlabs::{Failure, FakeConfig, FakeElevenLabs, Received};
use futures_util::{SinkExt, StreamExt};
use parlor::config::Secret;
use parlor::voice::agents::elevenlabs::protocol::ClientMessage;
use parlor::voice::agents::elevenlabs::{ElevenLabsAgent, ElevenLabsConfig};
use parlor::voice::core::events::{AgentCommand, AgentEvent, AudioFormat, EndReason};
use parlor::voice::core::vad::sine;
use parlor::voice::{AgentConnection, ConversationContext, VoiceAgent};
use std::time::Duration;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

async fn fake(config: FakeConfig) -> FakeElevenLabs {
    FakeElevenLabs::start_local(config)
        .await
        .expect("bind the double")
}

fn agent(base_url: String, tweak: impl FnOnce(&mut ElevenLabsConfig)) -> ElevenLabsAgent {
    let mut c = ElevenLabsConfig {
        agent_id: "agent_test".into(),
        base_url,
        ..Default::default()
    };
    tweak(&mut c);
    ElevenLabsAgent::new(c).expect("valid config")
}

fn context() -> ConversationContext {
    let mut ctx = ConversationContext {
        user_id: "u_42".into(),
        user_name: "Ana".into(),
        ..Default::default()
    };
    ctx.dynamic_variables
        .insert("open_commitments".into(), "walk daily; call mum".into());
    ctx.dynamic_variables
        .insert("recent_sessions".into(), "2026-11-02 career".into());
    ctx
}

async fn next(conn: &mut AgentConnection) -> AgentEvent {
    timeout(WAIT, conn.events.recv())
        .await
        .expect("an event in time")
        .expect("an event before the channel closes")
}

/// Events until `stop` matches (included).
async fn until(conn: &mut AgentConnection, stop: impl Fn(&AgentEvent) -> bool) -> Vec<AgentEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = next(conn).await;
        let done = stop(&ev);
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

async fn started(conn: &mut AgentConnection) -> (AudioFormat, AudioFormat) {
    match next(conn).await {
        AgentEvent::Started { input, output, .. } => (input, output),
        other => panic!("expected Started first, got {other:?}"),
    }
}

async fn ended(conn: &mut AgentConnection) -> EndReason {
    let evs = until(conn, |e| matches!(e, AgentEvent::Ended(_))).await;
    match evs.last() {
        Some(AgentEvent::Ended(r)) => r.clone(),
        _ => unreachable!(),
    }
}

/// 20 ms chunks: `tone_ms` of a 300 Hz tone then `silence_ms` of zeros.
fn speech(tone_ms: u32, silence_ms: u32) -> Vec<Vec<i16>> {
    let mut phase = 0;
    let mut v: Vec<Vec<i16>> = (0..tone_ms / 20)
        .map(|_| sine(16_000, 20, 300.0, 8000.0, &mut phase))
        .collect();
    v.extend((0..silence_ms / 20).map(|_| vec![0i16; 320]));
    v
}

/// Sends chunks every 20 ms in the background, like the bridge does.
fn stream_audio(conn: &AgentConnection, chunks: Vec<Vec<i16>>) -> tokio::task::JoinHandle<()> {
    let tx = conn.commands.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for c in chunks {
            tick.tick().await;
            if tx.send(AgentCommand::UserAudio(c)).await.is_err() {
                return;
            }
        }
    })
}

fn audio_ids(evs: &[AgentEvent]) -> Vec<u64> {
    evs.iter()
        .filter_map(|e| match e {
            AgentEvent::Audio { event_id, .. } => Some(*event_id),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_comes_first_and_init_carries_dynamic_variables_and_user_id() {
    let fake = fake(FakeConfig::default()).await;
    let mut ctx = context();
    ctx.prompt_override = Some("Be brief".into());
    let a = agent(fake.base_url(), |_| {});
    let mut conn = a.start(ctx).await.unwrap();
    assert_eq!(
        started(&mut conn).await,
        (AudioFormat::PCM_16000, AudioFormat::PCM_16000)
    );
    let seen = fake.observed();
    let c = &seen.conversations[0];
    assert_eq!(c.sent[0].0, "conversation_initiation_metadata");
    let init = c.init.as_ref().expect("init received first");
    assert_eq!(init.user_id.as_deref(), Some("u_42"));
    assert_eq!(init.dynamic_variables["user_name"], "Ana");
    assert_eq!(
        init.dynamic_variables["open_commitments"],
        "walk daily; call mum"
    );
    assert!(
        !init.has_overrides(),
        "overrides are sent only when allowed"
    );
    assert_eq!(c.query, "agent_id=agent_test");
    conn.commands.send(AgentCommand::Close).await.unwrap();
    assert_eq!(ended(&mut conn).await, EndReason::Hangup);
    let seen = fake.wait_for(WAIT, |o| o.conversations[0].finished).await;
    assert_eq!(seen.conversations[0].closed_by_client, Some(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_within_a_few_ms_even_while_audio_streams() {
    let fake = fake(FakeConfig {
        ping_interval: Duration::from_millis(40),
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    started(&mut conn).await;
    let _audio = stream_audio(&conn, speech(0, 2000));
    let seen = fake
        .wait_for(WAIT, |o| o.conversations[0].pongs.len() >= 20)
        .await;
    let mut rtts: Vec<Duration> = seen.conversations[0].pongs.iter().map(|p| p.1).collect();
    assert!(rtts.len() >= 20, "only {} pongs", rtts.len());
    rtts.sort();
    let median = rtts[rtts.len() / 2];
    assert!(median < Duration::from_millis(15), "median pong {median:?}");
    assert!(
        rtts[rtts.len() - 1] < Duration::from_millis(200),
        "worst pong {rtts:?}"
    );
    let received = &seen.conversations[0].received;
    assert!(
        received
            .iter()
            .any(|r| matches!(r, Received::Audio { bytes: 640 }))
    );
    // Pings never reach the bridge.
    conn.commands.send(AgentCommand::Close).await.unwrap();
    let evs = until(&mut conn, |e| matches!(e, AgentEvent::Ended(_))).await;
    assert_eq!(evs, vec![AgentEvent::Ended(EndReason::Hangup)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_tone_burst_yields_transcript_response_and_bursty_agent_audio() {
    let fake = fake(FakeConfig {
        think_time: Duration::from_millis(100),
        reply_ms: 1000,
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    started(&mut conn).await;
    let t0 = tokio::time::Instant::now();
    let _audio = stream_audio(&conn, speech(800, 3000));
    let evs = until(&mut conn, |e| matches!(e, AgentEvent::AgentResponse { .. })).await;
    let Some(AgentEvent::UserTranscript {
        event_id: id,
        text,
        tentative: false,
    }) = evs.first()
    else {
        panic!("transcript first: {evs:?}")
    };
    assert!(text.contains("0.80 s"), "{text}");
    assert!(matches!(&evs[1], AgentEvent::AgentResponse { event_id, .. } if event_id == id));
    let mut sizes = Vec::new();
    while sizes.iter().sum::<usize>() < 16_000 {
        match next(&mut conn).await {
            AgentEvent::Audio { event_id, pcm } => {
                assert_eq!(event_id, *id, "all chunks of a reply share its id");
                sizes.push(pcm.len());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sizes.iter().sum::<usize>(), 16_000, "1 s at 16 kHz");
    sizes.dedup();
    assert!(sizes.len() > 3, "chunk sizes vary: {sizes:?}");
    // 0.8 s speech + 0.6 s silence + 0.1 s think + 1 s reply sent 4x faster than real time.
    assert!(
        t0.elapsed() < Duration::from_millis(2300),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barge_in_yields_interruption_stale_chunks_then_a_reply_reusing_the_interruption_id() {
    let fake = fake(FakeConfig {
        think_time: Duration::from_millis(50),
        reply_ms: 4000,
        send_speedup: 2.0,
        stale_chunks: 3,
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    started(&mut conn).await;
    let first = stream_audio(&conn, speech(400, 700));
    let before = until(&mut conn, |e| matches!(e, AgentEvent::Audio { .. })).await;
    let reply_id = audio_ids(&before)[0];
    first.await.unwrap();
    // Barge in while the 4 s reply is still playing.
    let _second = stream_audio(&conn, speech(400, 2000));
    let evs = until(&mut conn, |e| matches!(e, AgentEvent::Interruption { .. })).await;
    let Some(&AgentEvent::Interruption { event_id: x }) = evs.last() else {
        unreachable!()
    };
    assert!(x > reply_id, "interruption id {x} after reply {reply_id}");
    let evs = until(&mut conn, |e| {
        matches!(e, AgentEvent::UserTranscript { .. })
    })
    .await;
    let ids = audio_ids(&evs);
    assert!(
        ids.len() >= 3 && ids.iter().all(|&i| i == reply_id),
        "stale chunks {ids:?}"
    );
    assert!(
        matches!(evs.last(), Some(AgentEvent::UserTranscript { event_id, .. }) if *event_id == x)
    );
    let evs = until(&mut conn, |e| matches!(e, AgentEvent::Audio { .. })).await;
    assert_eq!(
        audio_ids(&evs),
        vec![x],
        "the next reply reuses the interruption's id"
    );
    let sent = &fake.observed().conversations[0].sent;
    let pos = sent.iter().position(|s| s.0 == "interruption").unwrap();
    assert_eq!(sent[pos + 1], ("audio".to_string(), Some(reply_id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tool_calls_are_answered_as_unsupported_errors() {
    let fake = fake(FakeConfig {
        tool_call: Some(("book_session".into(), Duration::from_millis(50))),
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    started(&mut conn).await;
    let seen = fake
        .wait_for(WAIT, |o| {
            o.conversations[0]
                .received
                .iter()
                .any(|r| matches!(r, Received::Message(ClientMessage::ClientToolResult { .. })))
        })
        .await;
    let result = seen.conversations[0]
        .received
        .iter()
        .find_map(|r| match r {
            Received::Message(ClientMessage::ClientToolResult {
                tool_call_id,
                result,
                is_error,
            }) => Some((tool_call_id.clone(), result.clone(), *is_error)),
            _ => None,
        })
        .expect("a tool result");
    assert_eq!(result.0, "tool_call_1");
    assert!(result.2, "is_error");
    let text = result.1.as_str().unwrap();
    assert!(
        text.contains("unsupported tool") && text.contains("book_session"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_agent_connects_through_a_signed_url_and_the_key_stays_in_the_header() {
    let key = "sk_test_private_0123456789";
    let fake = fake(FakeConfig {
        api_key: Some(key.into()),
        agent_id: Some("agent_test".into()),
        ..Default::default()
    })
    .await;
    let a = agent(fake.base_url(), |c| c.api_key = Secret::new(key));
    assert!(!format!("{a:?}").contains(key), "Debug redacts the key");
    let mut conn = a.start(context()).await.unwrap();
    started(&mut conn).await;
    let seen = fake.observed();
    assert_eq!(seen.signed_url_requests, vec![(true, true)]);
    let c = &seen.conversations[0];
    assert!(!c.api_key_header, "no key header on the WebSocket");
    assert!(
        c.query.contains("conversation_signature=sig_"),
        "{}",
        c.query
    );
    assert!(
        seen.request_targets.iter().all(|t| !t.contains(key)),
        "{:?}",
        seen.request_targets
    );

    // Without a valid key: unreachable, and the message does not echo the key.
    let wrong = agent(fake.base_url(), |c| c.api_key = Secret::new("sk_wrong_key"));
    let mut conn = wrong.start(context()).await.unwrap();
    let EndReason::Unreachable(why) = ended(&mut conn).await else {
        panic!("a refused signed URL is unreachable")
    };
    assert!(
        why.contains("401") && !why.contains("sk_wrong_key"),
        "{why}"
    );
    // Without a key at all the double refuses the unsigned socket.
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    assert!(matches!(ended(&mut conn).await, EndReason::Unreachable(w) if w.contains("403")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_double_closes_1008_on_a_bad_first_message_and_invalid_json() {
    let fake = fake(FakeConfig::default()).await;
    let url = format!("{}/v1/convai/conversation?agent_id=a", fake.base_url());
    for first in [
        r#"{"user_audio_chunk":"AAAA"}"#,
        "{not json",
        r#"{"type":"pong","event_id":1}"#,
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        ws.send(Message::text(first)).await.unwrap();
        let close = loop {
            match timeout(WAIT, ws.next()).await.unwrap() {
                Some(Ok(Message::Close(f))) => break f.expect("a close frame"),
                Some(Ok(_)) => continue,
                other => panic!("{first}: {other:?}"),
            }
        };
        assert_eq!(u16::from(close.code), 1008, "{first}");
        assert!(close.reason.contains("invalid_message"), "{}", close.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_the_agent_does_not_allow_end_as_agent_error_1008() {
    let fake = fake(FakeConfig::default()).await;
    let mut ctx = context();
    ctx.first_message_override = Some("Hello Ana".into());
    let a = agent(fake.base_url(), |c| c.allow_overrides = true);
    let mut conn = a.start(ctx).await.unwrap();
    match ended(&mut conn).await {
        EndReason::AgentError { code: 1008, reason } => {
            assert!(reason.contains("override_error"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let seen = fake.observed();
    assert_eq!(
        seen.conversations[0].closed_by_double.as_ref().unwrap().0,
        1008
    );

    // The same override is accepted by an agent that allows it.
    let open = self::fake(FakeConfig {
        allow_overrides: true,
        ..Default::default()
    })
    .await;
    let mut ctx = context();
    ctx.first_message_override = Some("Hello Ana".into());
    let mut conn = agent(open.base_url(), |c| c.allow_overrides = true)
        .start(ctx)
        .await
        .unwrap();
    started(&mut conn).await;
    let init = open.observed().conversations[0].init.clone().unwrap();
    assert_eq!(
        init.conversation_config_override.unwrap()["agent"]["first_message"],
        "Hello Ana"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_codes_map_to_end_reasons() {
    for (code, expected) in [
        (1000, EndReason::Completed),
        (
            1002,
            EndReason::AgentError {
                code: 1002,
                reason: "llm_timeout".into(),
            },
        ),
        (
            1011,
            EndReason::AgentError {
                code: 1011,
                reason: "internal_error".into(),
            },
        ),
    ] {
        let fake = fake(FakeConfig {
            failure: Failure::CloseAfter {
                code,
                after: Duration::from_millis(100),
            },
            ..Default::default()
        })
        .await;
        let mut conn = agent(fake.base_url(), |_| {})
            .start(context())
            .await
            .unwrap();
        started(&mut conn).await;
        assert_eq!(ended(&mut conn).await, expected, "close {code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_from_the_agent_ends_the_conversation_as_stalled() {
    let fake = fake(FakeConfig {
        ping_interval: Duration::from_millis(50),
        failure: Failure::StallAfter(Duration::from_millis(200)),
        ..Default::default()
    })
    .await;
    let a = agent(fake.base_url(), |_| {}).with_stall_timeout(Duration::from_millis(400));
    let mut conn = a.start(context()).await.unwrap();
    started(&mut conn).await;
    let _audio = stream_audio(&conn, speech(0, 3000));
    let t0 = tokio::time::Instant::now();
    assert_eq!(ended(&mut conn).await, EndReason::Stalled);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_ends_as_abnormal_closure() {
    let fake = fake(FakeConfig {
        failure: Failure::DropAfter(Duration::from_millis(150)),
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    started(&mut conn).await;
    assert!(matches!(
        ended(&mut conn).await,
        EndReason::AgentError { code: 1006, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_closed_ports_are_unreachable() {
    let fake = fake(FakeConfig {
        failure: Failure::RefuseConnection,
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    assert!(matches!(ended(&mut conn).await, EndReason::Unreachable(w) if w.contains("503")));

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut conn = agent(format!("ws://127.0.0.1:{port}"), |_| {})
        .start(context())
        .await
        .unwrap();
    assert!(matches!(ended(&mut conn).await, EndReason::Unreachable(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_audio_format_ends_with_a_clear_error() {
    let fake = fake(FakeConfig {
        output_format: "mp3_44100".into(),
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    match next(&mut conn).await {
        AgentEvent::Ended(EndReason::AgentError { code: 1003, reason }) => {
            assert!(reason.contains("mp3_44100"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_echo_sends_every_chunk_straight_back() {
    let fake = fake(FakeConfig {
        streaming_echo: true,
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    started(&mut conn).await;
    let chunks = speech(200, 0);
    for c in &chunks {
        conn.send_audio(c.clone()).unwrap();
    }
    for c in &chunks {
        match next(&mut conn).await {
            AgentEvent::Audio { pcm, .. } => assert_eq!(&pcm, c),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ulaw_formats_are_encoded_and_decoded_on_the_wire() {
    let fake = fake(FakeConfig {
        input_format: "ulaw_8000".into(),
        output_format: "ulaw_8000".into(),
        streaming_echo: true,
        ..Default::default()
    })
    .await;
    let mut conn = agent(fake.base_url(), |_| {})
        .start(context())
        .await
        .unwrap();
    let (input, _) = started(&mut conn).await;
    assert_eq!(input.samples_per_20ms(), 160);
    let mut phase = 0;
    let chunk = sine(8_000, 20, 300.0, 8000.0, &mut phase);
    conn.send_audio(chunk.clone()).unwrap();
    let AgentEvent::Audio { pcm, .. } = next(&mut conn).await else {
        panic!()
    };
    assert_eq!(pcm.len(), 160);
    let worst = pcm
        .iter()
        .zip(&chunk)
        .map(|(a, b)| (a - b).abs())
        .max()
        .unwrap();
    assert!(worst < 600, "µ-law round trip error {worst}");
    assert!(
        fake.observed().conversations[0]
            .received
            .contains(&Received::Audio { bytes: 160 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parlor_dev_fake_elevenlabs_serves_the_double_until_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args([
            "dev",
            "fake-elevenlabs",
            "--listen",
            "127.0.0.1:0",
            "--agent-id",
            "agent_test",
        ])
        .current_dir(dir.path())
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line.strip_prefix("listening on ").expect(&line).to_string();
    let mut conn = agent(base, |_| {}).start(context()).await.unwrap();
    started(&mut conn).await;
    conn.commands.send(AgentCommand::Close).await.unwrap();
    assert_eq!(ended(&mut conn).await, EndReason::Hangup);
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = timeout(WAIT, child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
}

/// A hand-rolled agent for what the double does not do: it accepts one conversation, answers
/// the first message with the metadata (PCM 16 kHz both ways), sends `messages`, then keeps
/// the socket open and silent. Returns its `ws://` base URL and its task.
async fn scripted_agent(messages: Vec<String>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _init = ws.next().await;
        let metadata = r#"{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{"conversation_id":"c1","agent_output_audio_format":"pcm_16000","user_input_audio_format":"pcm_16000"}}"#;
        ws.send(Message::text(metadata)).await.unwrap();
        for m in messages {
            ws.send(Message::text(m)).await.unwrap();
        }
        while let Some(Ok(_)) = ws.next().await {}
    });
    (base, server)
}

/// An `error` message that no close frame follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_message_without_a_close_ends_as_agent_error_1011() {
    let error =
        r#"{"type":"error","error_event":{"error_type":"asr","message":"ASR provider failed"}}"#;
    let (base, server) = scripted_agent(vec![error.into()]).await;
    let mut conn = agent(base, |_| {}).start(context()).await.unwrap();
    started(&mut conn).await;
    let t0 = tokio::time::Instant::now();
    assert_eq!(
        ended(&mut conn).await,
        EndReason::AgentError {
            code: 1011,
            reason: "ASR provider failed".into()
        }
    );
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    server.abort();
}

/// An agent message far larger than the socket's read buffer (two seconds of audio in one
/// `audio` event, ~85 KB of base64) arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audio_message_larger_than_the_read_buffer_arrives_whole() {
    use base64::Engine;
    let pcm: Vec<i16> = sine(16_000, 2_000, 440.0, 9000.0, &mut 0);
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert!(b64.len() > 4 * parlor::voice::agents::elevenlabs::connect::READ_BUFFER);
    let audio =
        format!(r#"{{"type":"audio","audio_event":{{"audio_base_64":"{b64}","event_id":3}}}}"#);
    let (base, server) = scripted_agent(vec![audio]).await;
    let mut conn = agent(base, |_| {}).start(context()).await.unwrap();
    started(&mut conn).await;
    let got = until(&mut conn, |e| matches!(e, AgentEvent::Audio { .. })).await;
    match got.last() {
        Some(AgentEvent::Audio {
            event_id,
            pcm: heard,
        }) => {
            assert_eq!(*event_id, 3);
            assert_eq!(heard, &pcm);
        }
        other => panic!("expected audio, got {other:?}"),
    }
    server.abort();
}
