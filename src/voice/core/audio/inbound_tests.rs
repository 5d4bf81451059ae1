//! Reordering, concealment and framing of the browser → agent chain.

use super::*;
use crate::voice::core::audio::opus_codec::{MAX_PACKET_BYTES, OpusEncoder};
use crate::voice::core::audio::test_signal::*;

/// `n` 20 ms Opus packets of a 1 kHz tone (what the browser would send).
fn tone_packets(n: usize) -> Vec<Vec<u8>> {
    encode_packets(&sine(1000.0, 48_000, 8000.0, 0, 960 * n), None)
}

/// A signal that PLC cannot predict well: a tone sweeping 300 → 3000 Hz with a tremolo.
fn sweep(n: usize) -> Vec<i16> {
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / 48_000.0;
            phase += 2.0 * std::f64::consts::PI * (300.0 + 2700.0 * (t * 1.3).fract()) / 48_000.0;
            (9000.0 * (0.6 + 0.4 * (t * 23.0).sin()) * phase.sin()) as i16
        })
        .collect()
}

fn encode_packets(pcm: &[i16], fec_loss: Option<i32>) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new().unwrap();
    if let Some(loss) = fec_loss {
        enc = enc.with_fec(loss).unwrap();
    }
    let mut buf = vec![0u8; MAX_PACKET_BYTES];
    pcm.chunks(960)
        .map(|frame| {
            let n = enc.encode(frame, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect()
}

fn drain(chain: &mut InboundChain) -> Vec<i16> {
    let mut out = Vec::new();
    let mut chunk = vec![0; chain.chunk_samples()];
    while chain.pop_chunk(&mut chunk) {
        out.extend_from_slice(&chunk);
    }
    out
}

/// Feeds packets in the given arrival order, 20 ms apart, then lets every wait run out.
fn feed(chain: &mut InboundChain, packets: &[Vec<u8>], order: &[u16]) -> Vec<i16> {
    feed_spaced(chain, packets, order, 20)
}

fn feed_spaced(chain: &mut InboundChain, packets: &[Vec<u8>], order: &[u16], ms: u64) -> Vec<i16> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    for (i, &seq) in order.iter().enumerate() {
        let now = t0 + Duration::from_millis(ms * i as u64);
        chain.poll(now);
        chain.push_rtp(seq, u32::from(seq) * 960, &packets[usize::from(seq)], now);
        out.extend(drain(chain));
    }
    chain.poll(t0 + Duration::from_secs(3600));
    out.extend(drain(chain));
    out
}

#[test]
fn in_order_packets_come_out_at_once_as_exact_chunks() {
    let packets = tone_packets(10);
    let mut chain = InboundChain::new(16_000).unwrap();
    let t0 = Instant::now();
    let mut chunk = vec![0; 320];
    for (seq, p) in packets.iter().enumerate() {
        chain.push_rtp(seq as u16, 0, p, t0);
        assert!(
            chain.pop_chunk(&mut chunk),
            "packet {seq} gave no chunk at once"
        );
        assert!(!chain.pop_chunk(&mut chunk));
    }
    assert_eq!(chain.next_timeout(), None);
    assert_eq!(chain.stats().decoded, 10);
}

#[test]
fn swapped_packets_are_put_back_in_order() {
    let packets = tone_packets(12);
    let in_order: Vec<u16> = (0..12).collect();
    let swapped = [0, 1, 3, 2, 4, 6, 5, 7, 8, 10, 9, 11];
    let reference = feed(&mut InboundChain::new(16_000).unwrap(), &packets, &in_order);
    let mut chain = InboundChain::new(16_000).unwrap();
    let out = feed(&mut chain, &packets, &swapped);
    assert_eq!(out, reference);
    let s = chain.stats();
    assert_eq!((s.reordered, s.concealed, s.fec_recovered), (3, 0, 0));
}

#[test]
fn a_reordered_packet_waits_only_for_its_hole() {
    let packets = tone_packets(4);
    let mut chain = InboundChain::new(48_000).unwrap();
    let t0 = Instant::now();
    chain.push_rtp(0, 0, &packets[0], t0);
    chain.push_rtp(2, 0, &packets[2], t0);
    assert_eq!(chain.ready_samples(), 960);
    assert_eq!(chain.next_timeout(), Some(t0 + Duration::from_millis(40)));
    chain.push_rtp(1, 0, &packets[1], t0 + Duration::from_millis(5));
    assert_eq!(chain.ready_samples(), 3 * 960);
    assert_eq!(chain.next_timeout(), None);
}

#[test]
fn a_lost_packet_is_concealed_and_the_chunk_count_is_kept() {
    let packets = tone_packets(10);
    let order: Vec<u16> = (0..10).filter(|&s| s != 4).collect();
    let mut chain = InboundChain::new(16_000).unwrap();
    let out = feed(&mut chain, &packets, &order);
    assert_eq!(out.len(), 10 * 320);
    assert_eq!(chain.stats().concealed + chain.stats().fec_recovered, 1);
}

#[test]
fn the_hole_is_given_up_after_the_wait_even_without_more_packets() {
    let packets = tone_packets(3);
    let mut chain = InboundChain::new(48_000).unwrap();
    let t0 = Instant::now();
    chain.push_rtp(0, 0, &packets[0], t0);
    chain.push_rtp(2, 0, &packets[2], t0 + Duration::from_millis(40));
    chain.poll(t0 + Duration::from_millis(79));
    assert_eq!(chain.ready_samples(), 960);
    chain.poll(t0 + Duration::from_millis(80));
    assert_eq!(chain.ready_samples(), 3 * 960);
}

#[test]
fn duplicates_and_late_packets_are_dropped() {
    let packets = tone_packets(12);
    // 3 is duplicated while waiting; 1 is duplicated after being played; 5 arrives after
    // 6, 7, 8, 9 have pushed past its hole. Packets 10 ms apart: no wait runs out.
    let order = [0, 1, 1, 3, 3, 2, 4, 6, 7, 8, 9, 5, 10, 11];
    let mut chain = InboundChain::new(16_000).unwrap();
    let out = feed_spaced(&mut chain, &packets, &order, 10);
    assert_eq!(out.len(), 12 * 320);
    let s = chain.stats();
    assert_eq!(s.duplicates, 1);
    assert_eq!(s.too_late, 2);
    assert_eq!(s.concealed + s.fec_recovered, 1);
    assert_eq!(s.decoded, 11);
}

#[test]
fn fec_recovers_a_lost_frame_better_than_plc() {
    let pcm = sweep(960 * 30);
    let packets = encode_packets(&pcm, Some(20));
    let all: Vec<u16> = (0..30).collect();
    let reference = feed(&mut InboundChain::new(48_000).unwrap(), &packets, &all);
    let lost = 15usize;

    // FEC: 16 is already waiting when the hole at 15 is given up.
    let mut fec_chain = InboundChain::new(48_000).unwrap();
    let order: Vec<u16> = all.iter().copied().filter(|&s| s != lost as u16).collect();
    let with_fec = feed(&mut fec_chain, &packets, &order);
    assert_eq!(fec_chain.stats().fec_recovered, 1);
    assert_eq!(fec_chain.stats().concealed, 0);

    // PLC: the hole is given up before 16 arrives (17 waits, so 15 has no FEC source).
    let mut plc_chain = InboundChain::new(48_000).unwrap();
    let t0 = Instant::now();
    for seq in 0..30u16 {
        let now = t0 + Duration::from_millis(20 * u64::from(seq));
        if usize::from(seq) == lost {
            continue;
        }
        if usize::from(seq) == lost + 1 {
            plc_chain.push_rtp(seq + 1, 0, &packets[usize::from(seq) + 1], now);
            plc_chain.poll(now + Duration::from_millis(40));
        }
        plc_chain.push_rtp(seq, 0, &packets[usize::from(seq)], now);
    }
    let with_plc = drain(&mut plc_chain);
    // 15 was concealed by PLC (16 was not there); 16 then came from 17's FEC when 17's wait
    // ran out, which does not touch the samples of frame 15 compared below.
    assert_eq!(plc_chain.stats().concealed, 1);

    let span = lost * 960..(lost + 1) * 960;
    let err = |x: &[i16]| {
        let d: Vec<i16> = x[span.clone()]
            .iter()
            .zip(&reference[span.clone()])
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        rms(&d)
    };
    let (e_fec, e_plc) = (err(&with_fec), err(&with_plc));
    assert!(
        e_fec < e_plc,
        "FEC error {e_fec:.0} not below PLC error {e_plc:.0}"
    );
}

#[test]
fn stereo_packets_are_decoded_to_mono() {
    let mono = sine(1000.0, 48_000, 8000.0, 0, 960 * 5);
    let stereo: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
    let mut enc = super::super::opus_ffi::RawEncoder::new(
        48_000,
        2,
        super::super::opus_ffi::APPLICATION_VOIP,
    )
    .unwrap();
    let mut chain = InboundChain::new(48_000).unwrap();
    let mut buf = vec![0u8; MAX_PACKET_BYTES];
    for (seq, frame) in stereo.chunks(1920).enumerate() {
        let n = enc.encode(frame, &mut buf).unwrap();
        chain.push_rtp(seq as u16, 0, &buf[..n], Instant::now());
    }
    let out = drain(&mut chain);
    assert_eq!(out.len(), 5 * 960);
    let freq = tone_frequency(&out[960..], 48_000);
    assert!((freq - 1000.0).abs() < 10.0, "{freq}");
}

#[test]
fn a_sequence_jump_resynchronises_without_concealing() {
    let packets = tone_packets(4);
    let mut chain = InboundChain::new(16_000).unwrap();
    let t0 = Instant::now();
    chain.push_rtp(100, 0, &packets[0], t0);
    chain.push_rtp(101, 0, &packets[1], t0);
    chain.push_rtp(40_000, 0, &packets[2], t0);
    chain.push_rtp(40_001, 0, &packets[3], t0);
    assert_eq!(chain.ready_samples(), 4 * 320);
    let s = chain.stats();
    assert_eq!((s.resyncs, s.concealed, s.decoded), (1, 0, 4));
}

#[test]
fn sequence_numbers_wrap() {
    let packets = tone_packets(6);
    let mut chain = InboundChain::new(16_000).unwrap();
    let t0 = Instant::now();
    for (i, seq) in [65_533u16, 65_534, 0, 65_535, 1, 2].into_iter().enumerate() {
        chain.push_rtp(seq, 0, &packets[i], t0);
    }
    assert_eq!(chain.ready_samples(), 6 * 320);
    assert_eq!(chain.stats().reordered, 1);
    assert_eq!(chain.stats().resyncs, 0);
}

#[test]
fn garbage_is_concealed_not_fatal() {
    let packets = tone_packets(3);
    let mut chain = InboundChain::new(16_000).unwrap();
    let t0 = Instant::now();
    chain.push_rtp(0, 0, &packets[0], t0);
    chain.push_rtp(1, 0, &[0xff, 0xff, 0xff], t0);
    chain.push_rtp(2, 0, &packets[2], t0);
    assert_eq!(chain.ready_samples(), 3 * 320);
    assert_eq!(chain.stats().bad_packets, 1);
}
