//! Protocol parsing: examples of every message, refusals, and a property test (the fuzz
//! target of the signalling parser): no input makes `parse_client` panic, and every message
//! survives a round trip.

use super::*;
use proptest::prelude::*;

#[test]
fn every_client_message_parses() {
    let cases = [
        r#"{"type":"join","token":"t"}"#,
        r#"{"type":"join","token":"t","name":"Gil"}"#,
        r#"{"type":"publish_offer","sdp":"v=0","tracks":[{"mid":"0","source":"microphone"},{"mid":"1","source":"screen"}]}"#,
        r#"{"type":"subscribe_answer","sdp":"v=0"}"#,
        r#"{"type":"candidate","target":"publisher","candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdp_mid":"0","sdp_m_line_index":0}"#,
        r#"{"type":"unpublish","track":3}"#,
        r#"{"type":"mute","track":3,"muted":true}"#,
        r#"{"type":"pause","track":3,"paused":false}"#,
        r#"{"type":"keyframe","track":3}"#,
        r#"{"type":"chat","text":"hi"}"#,
        r#"{"type":"reaction","emoji":"👍"}"#,
        r#"{"type":"hand","raised":true}"#,
        r#"{"type":"ice_restart"}"#,
        r#"{"type":"ping"}"#,
        r#"{"type":"leave"}"#,
    ];
    for c in cases {
        parse_client(c).unwrap_or_else(|e| panic!("{c}: {e}"));
    }
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    assert_eq!(
        parse_client(r#"{"type":"dance"}"#),
        Err(ProtocolError::UnknownType("dance".into()))
    );
    assert!(matches!(
        parse_client("{"),
        Err(ProtocolError::Malformed(_))
    ));
    assert!(matches!(
        parse_client("[1,2]"),
        Err(ProtocolError::Malformed(_))
    ));
    assert!(matches!(
        parse_client(r#"{"type":5}"#),
        Err(ProtocolError::Malformed(_))
    ));
    assert!(matches!(
        parse_client(r#"{"type":"mute","track":"x","muted":true}"#),
        Err(ProtocolError::Malformed(_))
    ));
    assert!(matches!(
        parse_client(r#"{"type":"publish_offer","sdp":"x","tracks":[{"mid":"0","source":"tv"}]}"#),
        Err(ProtocolError::Malformed(_))
    ));
    let big = format!(
        r#"{{"type":"chat","text":"{}"}}"#,
        "x".repeat(MAX_MESSAGE_BYTES)
    );
    assert_eq!(parse_client(&big), Err(ProtocolError::TooLarge));
}

#[test]
fn server_messages_have_the_documented_shape() {
    let m = ServerMessage::ActiveSpeaker {
        participant_id: None,
    };
    assert_eq!(
        to_text(&m),
        r#"{"type":"active_speaker","participant_id":null}"#
    );
    let e = ServerMessage::Error {
        code: ErrorCode::RoomFull,
        message: "full".into(),
    };
    assert_eq!(
        to_text(&e),
        r#"{"type":"error","code":"room_full","message":"full"}"#
    );
}

#[test]
fn a_join_carries_an_optional_name() {
    assert_eq!(
        parse_client(r#"{"type":"join","token":"t","name":" Gil "}"#),
        Ok(ClientMessage::Join {
            token: "t".into(),
            name: Some(" Gil ".into())
        })
    );
    assert_eq!(
        parse_client(r#"{"type":"join","token":"t"}"#),
        Ok(ClientMessage::Join {
            token: "t".into(),
            name: None
        })
    );
}

#[test]
fn guest_names_are_trimmed_blank_ones_ignored_and_bad_ones_refused() {
    assert_eq!(guest_name(None), Ok(None));
    assert_eq!(guest_name(Some("   ")), Ok(None));
    assert_eq!(guest_name(Some("  Gil  ")), Ok(Some("Gil".into())));
    let longest = "é".repeat(MAX_GUEST_NAME_CHARS);
    assert_eq!(guest_name(Some(&longest)), Ok(Some(longest.clone())));
    let too_long = "é".repeat(MAX_GUEST_NAME_CHARS + 1);
    assert!(guest_name(Some(&too_long)).is_err());
    assert!(guest_name(Some("Gil\u{7}")).is_err());
}

fn arb_client_message() -> impl Strategy<Value = ClientMessage> {
    let s = ".{0,40}";
    prop_oneof![
        (s, prop::option::of(s)).prop_map(|(token, name)| ClientMessage::Join { token, name }),
        s.prop_map(|sdp| ClientMessage::SubscribeAnswer { sdp }),
        (any::<u64>(), any::<bool>()).prop_map(|(t, m)| ClientMessage::Mute {
            track: TrackId(t),
            muted: m
        }),
        (any::<u64>(), any::<bool>()).prop_map(|(t, p)| ClientMessage::Pause {
            track: TrackId(t),
            paused: p
        }),
        s.prop_map(|text| ClientMessage::Chat { text }),
        (s, prop::option::of(s), prop::option::of(any::<u16>())).prop_map(|(c, mid, idx)| {
            ClientMessage::Candidate {
                target: Target::Subscriber,
                candidate: Candidate {
                    candidate: c,
                    sdp_mid: mid,
                    sdp_m_line_index: idx,
                },
            }
        }),
        Just(ClientMessage::Leave),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,300}") {
        let _ = parse_client(&s);
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(kind in "[a-z_]{0,16}", field in "[a-z_]{1,12}", v in any::<i64>(), t in ".{0,20}") {
        let _ = parse_client(&format!(r#"{{"type":"{kind}","{field}":{v},"track":{v},"text":{t:?}}}"#));
    }

    #[test]
    fn client_messages_round_trip(m in arb_client_message()) {
        let text = serde_json::to_string(&m).unwrap();
        prop_assert_eq!(parse_client(&text).unwrap(), m);
    }
}
