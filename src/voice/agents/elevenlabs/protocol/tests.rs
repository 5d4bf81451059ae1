//! JSON samples for every message in both directions, including garbage.

use super::*;
use crate::voice::core::events::AgentEvent;
use serde_json::json;
use std::collections::BTreeMap;

const PCM: AudioFormat = AudioFormat::PCM_16000;

#[test]
fn metadata_parses_with_formats() {
    let m = ServerMessage::parse(
        r#"{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":
        {"conversation_id":"conv_1","agent_output_audio_format":"pcm_24000",
         "user_input_audio_format":"pcm_16000","extra":1}}"#,
    )
    .unwrap();
    let ServerMessage::Metadata(m) = m else {
        panic!("{m:?}")
    };
    assert_eq!(m.conversation_id, "conv_1");
    assert_eq!(m.agent_output_audio_format, "pcm_24000");
    assert_eq!(m.user_input_audio_format, "pcm_16000");
}

#[test]
fn audio_decodes_pcm16le_and_ulaw() {
    let b64 = B64.encode([0x01, 0x00, 0xff, 0x7f, 0x00, 0x80, 0x05]);
    let text = format!(
        r#"{{"type":"audio","audio_event":{{"audio_base_64":"{b64}","event_id":"7","alignment":{{"chars":["a"]}}}}}}"#
    );
    let m = ServerMessage::parse(&text).unwrap();
    let ev = m.to_agent_event(PCM).unwrap().unwrap();
    assert_eq!(
        ev,
        AgentEvent::Audio {
            event_id: 7,
            pcm: vec![1, i16::MAX, i16::MIN]
        }
    );
    let ulaw = AudioFormat::parse("ulaw_8000").unwrap();
    let AgentEvent::Audio { pcm, .. } = m.to_agent_event(ulaw).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(pcm.len(), 7);
    assert_eq!(pcm[0], ulaw::DECODE_TABLE[1]);
    let bad = r#"{"type":"audio","audio_event":{"audio_base_64":"%%%","event_id":1}}"#;
    assert!(
        ServerMessage::parse(bad)
            .unwrap()
            .to_agent_event(PCM)
            .unwrap()
            .is_err()
    );
    let missing = r#"{"type":"audio","audio_event":{"event_id":1}}"#;
    assert!(ServerMessage::parse(missing).is_err());
}

#[test]
fn audio_parses_the_same_in_any_field_order_and_only_for_its_own_type() {
    let want = ServerMessage::Audio(AudioEvent {
        audio_base_64: "AQA=".into(),
        event_id: 3,
        alignment: None,
    });
    for text in [
        r#"{"type":"audio","audio_event":{"audio_base_64":"AQA=","event_id":3}}"#,
        r#"{"audio_event":{"event_id":3,"audio_base_64":"AQA="},"type":"audio","x":[1]}"#,
        r#"{"type":"\u0061udio","audio_event":{"audio_base_64":"AQA=","event_id":"3"}}"#,
    ] {
        assert_eq!(ServerMessage::parse(text).unwrap(), want, "{text}");
    }
    // Another type that happens to carry an audio_event is that type.
    let ping = r#"{"type":"ping","audio_event":{"audio_base_64":"AQA=","event_id":3},
                   "ping_event":{"event_id":9}}"#;
    assert_eq!(
        ServerMessage::parse(ping).unwrap(),
        ServerMessage::Ping {
            event_id: 9,
            ping_ms: None
        }
    );
}

#[test]
fn transcripts_responses_and_corrections_become_agent_events() {
    let cases = [
        (
            r#"{"type":"user_transcript","user_transcription_event":{"user_transcript":" Hello ","event_id":3}}"#,
            AgentEvent::UserTranscript {
                event_id: 3,
                text: "Hello".into(),
                tentative: false,
            },
        ),
        (
            r#"{"type":"tentative_user_transcript","tentative_user_transcription_event":{"user_transcript":"Hel","event_id":3}}"#,
            AgentEvent::UserTranscript {
                event_id: 3,
                text: "Hel".into(),
                tentative: true,
            },
        ),
        (
            r#"{"type":"agent_response","agent_response_event":{"agent_response":"Hi there","event_id":4}}"#,
            AgentEvent::AgentResponse {
                event_id: 4,
                text: "Hi there".into(),
            },
        ),
        (
            r#"{"type":"agent_response_correction","agent_response_correction_event":{"original_agent_response":"Hi there, how","corrected_agent_response":"Hi there","event_id":4}}"#,
            AgentEvent::AgentResponseCorrection {
                event_id: 4,
                original: "Hi there, how".into(),
                corrected: "Hi there".into(),
            },
        ),
        (
            r#"{"type":"interruption","interruption_event":{"event_id":5}}"#,
            AgentEvent::Interruption { event_id: 5 },
        ),
    ];
    for (text, expected) in cases {
        let m = ServerMessage::parse(text).unwrap();
        assert_eq!(m.to_agent_event(PCM).unwrap().unwrap(), expected, "{text}");
        // The double writes what the client reads.
        assert_eq!(ServerMessage::parse(&m.to_json()).unwrap(), m);
    }
}

#[test]
fn ping_ms_may_be_an_int_null_or_absent() {
    for (text, ms) in [
        (
            r#"{"type":"ping","ping_event":{"event_id":17,"ping_ms":42}}"#,
            Some(42),
        ),
        (
            r#"{"type":"ping","ping_event":{"event_id":17,"ping_ms":null}}"#,
            None,
        ),
        (r#"{"type":"ping","ping_event":{"event_id":17}}"#, None),
    ] {
        assert_eq!(
            ServerMessage::parse(text).unwrap(),
            ServerMessage::Ping {
                event_id: 17,
                ping_ms: ms
            }
        );
    }
    let m = ServerMessage::parse(r#"{"type":"ping","ping_event":{"event_id":1}}"#).unwrap();
    assert!(
        m.to_agent_event(PCM).is_none(),
        "pings never reach the bridge"
    );
}

#[test]
fn tool_calls_vad_scores_and_errors_parse() {
    let m = ServerMessage::parse(
        r#"{"type":"client_tool_call","client_tool_call":{"tool_name":"open_door","tool_call_id":"t1","parameters":{"x":1},"event_id":9}}"#,
    )
    .unwrap();
    let ServerMessage::ClientToolCall(t) = &m else {
        panic!()
    };
    assert_eq!(
        (t.tool_name.as_str(), t.tool_call_id.as_str()),
        ("open_door", "t1")
    );
    assert_eq!(t.event_id, Some(9));
    assert_eq!(
        ServerMessage::parse(r#"{"type":"vad_score","vad_score_event":{"vad_score":0.5}}"#)
            .unwrap(),
        ServerMessage::VadScore { score: 0.5 }
    );
    for (text, msg) in [
        (
            r#"{"type":"error","error_event":{"message":"llm timeout","code":1002}}"#,
            "llm timeout",
        ),
        (r#"{"type":"error","message":"bad"}"#, "bad"),
    ] {
        assert_eq!(
            ServerMessage::parse(text).unwrap(),
            ServerMessage::Error {
                message: msg.into()
            }
        );
    }
}

#[test]
fn unknown_types_are_values_not_errors_and_garbage_is_an_error() {
    for kind in [
        "internal_tentative_agent_response",
        "agent_chat_response_part",
        "mcp_tool_call",
    ] {
        let text = format!(r#"{{"type":"{kind}","whatever":{{"a":[1,2]}}}}"#);
        assert_eq!(
            ServerMessage::parse(&text).unwrap(),
            ServerMessage::Unknown(kind.into())
        );
    }
    for garbage in [
        "",
        "not json",
        "[1,2]",
        "{}",
        r#"{"type":7}"#,
        r#"{"type":"ping"}"#,
        r#"{"type":"ping","ping_event":{"event_id":-1}}"#,
        r#"{"type":"interruption","interruption_event":"x"}"#,
    ] {
        assert!(ServerMessage::parse(garbage).is_err(), "{garbage:?}");
    }
}

#[test]
fn client_messages_have_the_documented_shapes() {
    let mut vars = BTreeMap::new();
    vars.insert("user_name".to_string(), Value::from("Ana"));
    let init = ClientMessage::ConversationInitiationClientData(InitiationData {
        dynamic_variables: vars,
        user_id: Some("u_42".into()),
        ..Default::default()
    });
    let v: Value = serde_json::from_str(&init.to_json()).unwrap();
    assert_eq!(
        v,
        json!({"type":"conversation_initiation_client_data",
                      "dynamic_variables":{"user_name":"Ana"},"user_id":"u_42"})
    );
    let pong: Value =
        serde_json::from_str(&ClientMessage::Pong { event_id: 17 }.to_json()).unwrap();
    assert_eq!(pong, json!({"type":"pong","event_id":17}));
    let tool: Value = serde_json::from_str(
        &ClientMessage::ClientToolResult {
            tool_call_id: "t1".into(),
            result: Value::from("unsupported tool"),
            is_error: true,
        }
        .to_json(),
    )
    .unwrap();
    assert_eq!(
        tool,
        json!({"type":"client_tool_result","tool_call_id":"t1","result":"unsupported tool","is_error":true})
    );
    assert_eq!(
        ClientMessage::UserActivity.to_json(),
        r#"{"type":"user_activity"}"#
    );
    let audio: Value = serde_json::from_str(&audio_chunk_json(PCM, &[1, -1])).unwrap();
    assert_eq!(audio, json!({"user_audio_chunk":"AQD//w=="}));
}

#[test]
fn the_double_parses_client_frames_tolerantly() {
    assert_eq!(
        parse_client(r#"{"user_audio_chunk":"AQD//w=="}"#).unwrap(),
        ClientFrame::Audio(vec![1, 0, 0xff, 0xff])
    );
    // The Python SDK's init message, verbatim in shape.
    let sdk = r#"{"type":"conversation_initiation_client_data","custom_llm_extra_body":{},
        "conversation_config_override":{},"dynamic_variables":{"n":3,"ok":true},
        "source_info":{"source":"python_sdk","version":"2.78.0"},"user_id":"u1"}"#;
    let ClientFrame::Message(ClientMessage::ConversationInitiationClientData(d)) =
        parse_client(sdk).unwrap()
    else {
        panic!()
    };
    assert!(!d.has_overrides());
    assert_eq!(d.user_id.as_deref(), Some("u1"));
    assert_eq!(d.dynamic_variables["n"], json!(3));
    let with = r#"{"type":"conversation_initiation_client_data",
        "conversation_config_override":{"agent":{"prompt":{"prompt":"Be brief"}}}}"#;
    let ClientFrame::Message(ClientMessage::ConversationInitiationClientData(d)) =
        parse_client(with).unwrap()
    else {
        panic!()
    };
    assert!(d.has_overrides());
    assert_eq!(
        parse_client(r#"{"type":"pong","event_id":"3"}"#).unwrap(),
        ClientFrame::Message(ClientMessage::Pong { event_id: 3 })
    );
    assert_eq!(
        parse_client(r#"{"type":"feedback","score":"like"}"#).unwrap(),
        ClientFrame::Unknown("feedback".into())
    );
    for garbage in [
        "nope",
        "[]",
        r#"{"user_audio_chunk":5}"#,
        r#"{"user_audio_chunk":"%%"}"#,
        r#"{"type":"pong"}"#,
        r#"{"no_type":1}"#,
    ] {
        assert!(parse_client(garbage).is_err(), "{garbage:?}");
    }
}
