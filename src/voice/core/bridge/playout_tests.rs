//! The agent's side of the bridge with a fake clock: exactly 50 frames a second, barge-in
//! within one call and the event-id rule, transcripts in order, how a session ends, talkspurts
//! and RTP timestamps.

use super::*;

/// Frames a cut reply ends with: the faded frame and the silent ones.
const TAIL_FRAMES: usize = 1 + OutboundChain::SILENT_TAIL_FRAMES;

#[test]
fn agent_audio_is_paced_at_exactly_50_frames_per_second() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.run_to(100);
    // A 3-second reply arrives in one burst; its talkspurt's ticks fall at 106 + 20 k ms. The
    // 51st, due at 1106 ms, may be served from 1104 ms (Pacer::EARLY).
    h.speech(7, 3000);
    let out = h.run_to(1103);
    let f = frames(&out);
    assert_eq!(f.len(), 50);
    for (i, (ts, marker)) in f.iter().enumerate() {
        // 48 RTP units per millisecond from the base, at 106 ms for the first frame.
        assert_eq!(*ts, 1000 + 48 * (106 + 20 * i as u32));
        assert_eq!(*marker, i == 0);
    }
    assert_eq!(h.bridge.stats().frames_sent, 50);
    assert_eq!(h.bridge.queued_playout(), Duration::from_millis(2000));
}

#[test]
fn interruption_flushes_within_the_same_call() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(3, 2000);
    // The talkspurt's grid: ticks at 6, 26, …, 86 ms (see `talkspurt_starts_just_after_its_audio`).
    assert_eq!(frames(&h.run_to(100)).len(), 5);
    // A frame was produced but the caller has not drained it yet when the interruption lands.
    h.bridge.on_tick(h.t0 + Duration::from_millis(120)).unwrap();
    h.bridge
        .on_agent_event(AgentEvent::Interruption { event_id: 3 }, h.now)
        .unwrap();
    assert_eq!(frames(&h.drain()), []);
    // All that is left is the fade-out of the cut reply (see `a_cut_reply_ends_with_its_fade`).
    assert_eq!(h.bridge.queued_playout(), TICK * TAIL_FRAMES as u32);
    // More of the interrupted reply is dropped; the next ticks send the fade, nothing stale.
    h.speech(3, 500);
    assert_eq!(frames(&h.tick_at(140)).len(), 1);
    assert_eq!(frames(&h.run_to(400)).len(), TAIL_FRAMES - 1);
    assert_eq!(h.bridge.stats().fade_frames, TAIL_FRAMES as u64);
    let stats = h.bridge.stats();
    assert_eq!((stats.flushes, stats.gate_dropped), (1, 1));
    // The next reply plays, starting with a marker after the silence.
    h.speech(4, 100);
    let f = frames(&h.run_to(500));
    assert_eq!(f.len(), 5);
    assert!(f[0].1 && !f[1].1);
}

#[test]
fn a_reply_with_the_interruptions_own_id_is_played() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(4, 1000);
    h.run_to(100);
    // The user interrupts reply 4 with event 5; the agent answers with id 5.
    h.event(AgentEvent::Interruption { event_id: 5 });
    h.speech(5, 200);
    // Reply 4's fade-out, then all of reply 5.
    assert_eq!(frames(&h.run_to(400)).len(), TAIL_FRAMES + 10);
    // Audio left over from reply 4 is stale.
    h.speech(4, 200);
    assert_eq!(frames(&h.run_to(700)), []);
    assert_eq!(h.bridge.stats().gate_dropped, 1);
}

#[test]
fn ids_below_the_interruption_are_dropped_and_later_ones_play() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(8, 100);
    h.event(AgentEvent::Interruption { event_id: 8 });
    for stale in [2, 7, 8] {
        h.speech(stale, 100);
    }
    assert_eq!(frames(&h.run_to(300)), []);
    h.speech(9, 100);
    assert_eq!(frames(&h.run_to(500)).len(), 5);
    assert_eq!(h.bridge.stats().gate_dropped, 3);
}

#[test]
fn transcripts_surface_in_order() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    let mut out = Vec::new();
    out.extend(h.event(AgentEvent::UserTranscript {
        event_id: 1,
        text: "hel".into(),
        tentative: true,
    }));
    out.extend(h.event(AgentEvent::UserTranscript {
        event_id: 1,
        text: "hello".into(),
        tentative: false,
    }));
    out.extend(h.event(AgentEvent::AgentResponse {
        event_id: 2,
        text: "Hi there, how".into(),
    }));
    out.extend(h.event(AgentEvent::AgentResponseCorrection {
        event_id: 2,
        original: "Hi there, how".into(),
        corrected: "Hi there".into(),
    }));
    let line = |speaker, event_id, text: &str, kind| {
        Out::Text(Transcript {
            speaker,
            event_id,
            text: text.into(),
            kind,
        })
    };
    assert_eq!(
        out,
        [
            line(Speaker::User, 1, "hel", TranscriptKind::Tentative),
            line(Speaker::User, 1, "hello", TranscriptKind::Final),
            line(Speaker::Agent, 2, "Hi there, how", TranscriptKind::Final),
            line(
                Speaker::Agent,
                2,
                "Hi there",
                TranscriptKind::Correction {
                    original: "Hi there, how".into()
                }
            ),
        ]
    );
}

#[test]
fn the_last_sentence_is_played_before_ended() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 210);
    assert_eq!(h.event(AgentEvent::Ended(EndReason::Completed)), []);
    assert!(!h.bridge.is_ended());
    // No more chunks to the agent; the 210 ms reply plays out as 11 frames (the last padded).
    let out = h.run_to(1000);
    assert_eq!(chunks(&out).len(), 0);
    assert_eq!(frames(&out).len(), 11);
    assert_eq!(out.last(), Some(&Out::End(EndReason::Completed)));
    assert!(h.bridge.is_ended());
    assert_eq!(h.rtp(), []);
}

#[test]
fn hang_up_closes_the_agent_and_ends_at_once() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 1000);
    h.run_to(100);
    h.bridge.hang_up();
    assert_eq!(
        h.drain(),
        [Out::Agent(AgentCommand::Close), Out::End(EndReason::Hangup)]
    );
    assert_eq!(h.run_to(300), []);
}

#[test]
fn ended_with_nothing_queued_is_reported_at_once_and_a_second_start_is_refused() {
    let mut h = Harness::new();
    h.start(16_000, 24_000);
    let err = h.bridge.on_agent_event(
        AgentEvent::Started {
            conversation_id: "c2".into(),
            input: AudioFormat::PCM_16000,
            output: AudioFormat::PCM_16000,
        },
        h.now,
    );
    assert!(matches!(err, Err(VoiceMediaError::AlreadyStarted)));
    let reason = EndReason::AgentError {
        code: 1002,
        reason: "llm_timeout".into(),
    };
    assert_eq!(
        h.event(AgentEvent::Ended(reason.clone())),
        [Out::End(reason)]
    );
}

#[test]
fn talkspurt_starts_just_after_its_audio() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.run_to(37);
    // The old grid's next tick is due at 40 ms; audio at 37 ms plays from 43 ms (served from
    // 41 ms): TALKSPURT_LEAD + Pacer::EARLY after its arrival, whatever the old phase.
    h.speech(1, 40);
    assert_eq!(frames(&h.run_to(40)), []);
    assert_eq!(frames(&h.run_to(41)), [(1000 + 48 * 43, true)]);
    // Continuous audio keeps the grid: no new talkspurt while frames flow.
    h.speech(1, 40);
    assert_eq!(
        frames(&h.run_to(81)),
        [(1000 + 48 * 63, false), (1000 + 48 * 83, false)]
    );
    assert_eq!(h.bridge.stats().talkspurts, 1);
}

#[test]
fn rtp_timestamps_follow_the_wall_clock_through_silence() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 40);
    let first = frames(&h.run_to(40));
    h.run_to(210);
    h.speech(2, 40);
    let second = frames(&h.run_to(240));
    // Sent at 6 and 26 ms, then (after nine silent ticks) at 216 and 236 ms: each timestamp is
    // the base plus 48 units per millisecond of its deadline.
    assert_eq!(first, [(1000 + 48 * 6, true), (1000 + 48 * 26, false)]);
    assert_eq!(second, [(1000 + 48 * 216, true), (1000 + 48 * 236, false)]);
    assert_eq!(h.bridge.stats().talkspurts, 2);
}

#[test]
fn frames_carry_when_their_audio_arrived_for_latency_measurement() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.run_to(95);
    h.speech(1, 40);
    h.now = h.t0 + Duration::from_millis(100);
    h.bridge.on_tick(h.now).unwrap();
    let mut sent = 0;
    while let Some(output) = h.bridge.poll_output() {
        if let BridgeOutput::Frame { queued_at, .. } = output {
            // Pushed at 95 ms, sent on the 100 ms tick: 5 ms added by the server's pacing.
            assert_eq!(queued_at, Some(h.t0 + Duration::from_millis(95)));
            sent += 1;
        }
    }
    assert_eq!(sent, 1);
}

#[test]
fn an_interruption_while_draining_ends_after_the_fade() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 1000);
    h.event(AgentEvent::Ended(EndReason::Completed));
    assert_eq!(frames(&h.run_to(40)).len(), 2);
    // The rest of the reply is dropped at once; its fade is the last thing played.
    assert_eq!(h.event(AgentEvent::Interruption { event_id: 1 }), []);
    let out = h.run_to(200);
    assert_eq!(frames(&out).len(), TAIL_FRAMES);
    assert_eq!(out.last(), Some(&Out::End(EndReason::Completed)));
    assert!(h.bridge.is_ended());
}

#[test]
fn an_interruption_while_draining_in_silence_ends_at_once() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 100);
    h.run_to(1000);
    h.speech(1, 1000);
    h.event(AgentEvent::Ended(EndReason::Completed));
    // Queued but not yet audible: nothing to fade.
    assert_eq!(
        h.event(AgentEvent::Interruption { event_id: 2 }),
        [Out::End(EndReason::Completed)]
    );
    assert!(h.bridge.is_ended());
}

#[test]
fn hang_up_keeps_the_counters() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(1, 100);
    h.run_to(100);
    let before = h.bridge.stats();
    assert_eq!(before.outbound.frames, 5);
    h.bridge.hang_up();
    let after = h.bridge.stats();
    assert_eq!(after.outbound.frames, 5);
    assert_eq!(after.frames_sent, 5);
    assert_eq!(after.chunks_to_agent, before.chunks_to_agent);
}

/// A long reply streamed in chunks that arrive unevenly (bursts, then a few ticks short of
/// audio) is one talkspurt for the listener: one `speaking` and one `listening`, the latter a
/// hang-over after the last frame. A second reply is a second pair; a barge-in ends one at
/// once.
#[test]
fn speaking_follows_talkspurts_with_a_hang_over() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.run_to(100);
    // 3 s of reply in 150 ms chunks; every third chunk comes 120 ms late, so the queue runs
    // dry for several ticks at a time (each dry spell of three ticks or more is a new
    // talkspurt for the pacer), yet never for the 300 ms hang-over.
    let mut t = 100;
    for i in 0..20 {
        t += if i % 3 == 2 { 270 } else { 120 };
        h.run_to(t);
        h.speech(7, 150);
    }
    h.run_to(t + 2_000);
    let frames_sent = h.bridge.stats().frames_sent;
    assert!(
        frames_sent >= 150,
        "the whole reply was played: {frames_sent} frames"
    );
    let changes: Vec<bool> = h.speaking.iter().map(|(_, on)| *on).collect();
    assert_eq!(
        changes,
        [true, false],
        "one pair per reply: {:?}",
        h.speaking
    );
    let spurts = h.bridge.stats().talkspurts;
    assert!(
        spurts > 1,
        "the reply did run dry in places ({spurts} talkspurts)"
    );
    // The hang-over: `listening` comes 300 ms (15 ticks) after the last frame, not before.
    let (first_on, _) = h.speaking[0];
    let (off_at, _) = h.speaking[1];
    assert!(off_at > first_on + 2_900, "{:?}", h.speaking);

    // A second reply: a second pair.
    h.speech(8, 500);
    h.run_to(t + 3_500);
    let changes: Vec<bool> = h.speaking.iter().map(|(_, on)| *on).collect();
    assert_eq!(changes, [true, false, true, false], "{:?}", h.speaking);

    // A barge-in ends a reply at once, without waiting for the hang-over.
    h.speech(9, 2_000);
    h.run_to(t + 3_700);
    h.event(AgentEvent::Interruption { event_id: 9 });
    let changes: Vec<bool> = h.speaking.iter().map(|(_, on)| *on).collect();
    assert_eq!(
        changes,
        [true, false, true, false, true, false],
        "{:?}",
        h.speaking
    );
    assert_eq!(h.speaking.last().unwrap().0, t + 3_700, "in the same call");
}

#[test]
fn a_cut_reply_ends_with_its_fade_and_the_agent_stops_speaking_at_once() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(3, 3000);
    assert_eq!(frames(&h.run_to(200)).len(), 10);
    assert_eq!(h.speaking.last().map(|s| s.1), Some(true));
    h.event(AgentEvent::Interruption { event_id: 4 });
    assert_eq!(
        h.speaking.last().map(|s| s.1),
        Some(false),
        "silent at once"
    );
    let after = frames(&h.run_to(1000));
    assert_eq!(after.len(), TAIL_FRAMES, "the fade, then nothing");
    // The fade continues the talkspurt on the grid (no marker), and does not count as speech.
    assert!(after.iter().all(|(_, marker)| !marker));
    assert_eq!(
        h.speaking.iter().filter(|s| s.1).count(),
        1,
        "{:?}",
        h.speaking
    );
    let stats = h.bridge.stats();
    assert_eq!(stats.fade_frames, TAIL_FRAMES as u64);
    assert_eq!(stats.outbound.fades, 1);
}

#[test]
fn an_interruption_while_the_agent_is_silent_sends_no_fade() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(3, 100);
    h.run_to(1000);
    h.event(AgentEvent::Interruption { event_id: 4 });
    assert_eq!(frames(&h.run_to(1500)), []);
    assert_eq!(h.bridge.stats().fade_frames, 0);
}

#[test]
fn pressing_the_talk_button_cuts_an_audible_reply_without_waiting_for_the_service() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    // The service sent the whole reply at once, faster than real time.
    h.speech(3, 4000);
    assert_eq!(frames(&h.run_to(200)).len(), 10);
    h.bridge.set_talking(true);
    let out = h.drain();
    assert!(
        out.contains(&Out::Agent(AgentCommand::UserActivity)),
        "{out:?}"
    );
    assert_eq!(h.speaking.last().map(|s| s.1), Some(false));
    // Only the fade follows; the rest of the queued reply is gone.
    assert_eq!(frames(&h.run_to(1200)).len(), TAIL_FRAMES);
    // More of the reply that was playing is ignored; the next reply plays.
    h.speech(3, 400);
    assert_eq!(frames(&h.run_to(1800)), []);
    h.speech(4, 200);
    assert_eq!(frames(&h.run_to(2300)).len(), 10);
    let stats = h.bridge.stats();
    assert_eq!((stats.press_barge_ins, stats.gate_dropped), (1, 1));
}

#[test]
fn pressing_before_a_queued_reply_is_heard_drops_it() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.run_to(100);
    // A reply arrives; the press comes before its first tick.
    h.speech(3, 1000);
    h.bridge.set_talking(true);
    h.drain();
    assert_eq!(h.bridge.queued_playout(), Duration::ZERO);
    assert_eq!(
        frames(&h.run_to(1500)),
        [],
        "nothing of it, not even a fade"
    );
}

#[test]
fn pressing_while_the_agent_is_silent_only_says_the_user_is_active() {
    let mut h = Harness::new();
    h.start(16_000, 16_000);
    h.speech(3, 100);
    h.run_to(1000);
    h.bridge.set_talking(true);
    assert_eq!(h.drain(), vec![Out::Agent(AgentCommand::UserActivity)]);
    h.bridge.set_talking(false);
    // The reply still plays after a press that cut nothing.
    h.speech(3, 100);
    assert_eq!(frames(&h.run_to(1500)).len(), 5);
    assert_eq!(h.bridge.stats().press_barge_ins, 0);
}
