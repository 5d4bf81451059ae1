//! The per-subscriber forwarding decision for one track: forward a packet (with which
//! sequence number) or drop it.
//!
//! Packets are forwarded unchanged except for the sequence number: while a subscriber has a
//! track paused its packets are dropped, and on resume the outgoing numbering continues from
//! the last packet it received, so the subscriber sees no gap and sends no NACK storm. A
//! resumed (or newly started) video track waits for a keyframe before forwarding, since the
//! decoder cannot use anything else. Timestamps pass through: a pause looks like silence or a
//! frozen frame, which receivers handle.

/// What to do with one packet for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it with this sequence number.
    Forward { seq: u16 },
    /// Do not send it.
    Drop,
}

/// Forwarding state of one down track.
#[derive(Debug, Clone)]
pub struct Forwarder {
    video: bool,
    paused: bool,
    /// Waiting for a keyframe before (re)starting.
    needs_keyframe: bool,
    /// Added to incoming sequence numbers (wrapping).
    offset: u16,
    /// Last sequence number sent, once anything was sent.
    last_out: Option<u16>,
    /// Last incoming sequence number seen while forwarding.
    last_in: Option<u16>,
    /// Set by resume: the next packet re-bases the offset.
    rebase: bool,
}

impl Forwarder {
    /// A new down track; video waits for its first keyframe.
    pub fn new(video: bool) -> Self {
        Self {
            video,
            paused: false,
            needs_keyframe: video,
            offset: 0,
            last_out: None,
            last_in: None,
            rebase: true,
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Stops forwarding until [`Forwarder::resume`].
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Resumes; a video down track then waits for a keyframe ([`Forwarder::needs_keyframe`]).
    /// Asking the publisher for one is the room's decision ([`crate::sfu::Action`]), not
    /// this forwarder's.
    pub fn resume(&mut self) {
        if !self.paused {
            return;
        }
        self.paused = false;
        self.rebase = true;
        self.needs_keyframe = self.video;
    }

    /// Pauses or resumes.
    pub fn set_paused(&mut self, paused: bool) {
        if paused { self.pause() } else { self.resume() }
    }

    /// Whether this down track is waiting for a keyframe.
    pub fn needs_keyframe(&self) -> bool {
        self.needs_keyframe
    }

    /// Decides for a packet with sequence number `seq`; `keyframe_start` is whether it begins a
    /// keyframe (see [`vp8_keyframe_start`]).
    pub fn decide(&mut self, seq: u16, keyframe_start: bool) -> Decision {
        if self.paused {
            return Decision::Drop;
        }
        if self.needs_keyframe {
            if !keyframe_start {
                return Decision::Drop;
            }
            self.needs_keyframe = false;
        }
        if self.rebase {
            let next_out = self.last_out.map_or(seq, |o| o.wrapping_add(1));
            self.offset = next_out.wrapping_sub(seq);
            self.rebase = false;
            self.last_in = Some(seq);
        } else if let Some(last) = self.last_in {
            // Within the window of recent packets: forward retransmitted/reordered ones with
            // the same mapping; far behind the current position means stale, so drop it.
            let ahead = seq.wrapping_sub(last);
            if ahead >= 0x8000 && last.wrapping_sub(seq) > 1000 {
                return Decision::Drop;
            }
            if ahead < 0x8000 {
                self.last_in = Some(seq);
            }
        }
        let out = seq.wrapping_add(self.offset);
        if self.last_out.is_none_or(|o| out.wrapping_sub(o) < 0x8000) {
            self.last_out = Some(out);
        }
        Decision::Forward { seq: out }
    }
}

/// Whether a VP8 RTP payload (RFC 7741) starts a keyframe: start of partition 0 with the
/// inverse key frame flag P = 0 in the VP8 payload header.
pub fn vp8_keyframe_start(payload: &[u8]) -> bool {
    let Some(&b0) = payload.first() else {
        return false;
    };
    let start = b0 & 0x10 != 0;
    let partition = b0 & 0x07;
    if !start || partition != 0 {
        return false;
    }
    let mut i = 1;
    if b0 & 0x80 != 0 {
        let Some(&x) = payload.get(i) else {
            return false;
        };
        i += 1;
        if x & 0x80 != 0 {
            // PictureID: 7 or 15 bits (M flag).
            let Some(&p) = payload.get(i) else {
                return false;
            };
            i += if p & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID/Y/KEYIDX
        }
    }
    payload.get(i).is_some_and(|h| h & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_forwards_unchanged_from_the_start() {
        let mut f = Forwarder::new(false);
        assert_eq!(f.decide(100, false), Decision::Forward { seq: 100 });
        assert_eq!(f.decide(101, false), Decision::Forward { seq: 101 });
    }

    #[test]
    fn video_waits_for_a_keyframe() {
        let mut f = Forwarder::new(true);
        assert_eq!(f.decide(5, false), Decision::Drop);
        assert_eq!(f.decide(6, true), Decision::Forward { seq: 6 });
        assert_eq!(f.decide(7, false), Decision::Forward { seq: 7 });
    }

    #[test]
    fn pause_and_resume_leave_no_sequence_gap() {
        let mut f = Forwarder::new(false);
        for s in 10..20 {
            f.decide(s, false);
        }
        f.pause();
        for s in 20..500 {
            assert_eq!(f.decide(s, false), Decision::Drop);
        }
        f.resume();
        assert!(!f.needs_keyframe(), "audio needs no keyframe");
        assert_eq!(f.decide(500, false), Decision::Forward { seq: 20 });
        assert_eq!(f.decide(501, false), Decision::Forward { seq: 21 });
    }

    #[test]
    fn resumed_video_restarts_at_a_keyframe_and_continues_numbering() {
        let mut f = Forwarder::new(true);
        f.decide(1, true);
        f.decide(2, false);
        f.pause();
        f.resume();
        assert!(f.needs_keyframe());
        assert_eq!(f.decide(50, false), Decision::Drop);
        assert_eq!(f.decide(51, true), Decision::Forward { seq: 3 });
        assert_eq!(f.decide(52, false), Decision::Forward { seq: 4 });
    }

    #[test]
    fn wraparound_and_reordering_keep_the_mapping() {
        let mut f = Forwarder::new(false);
        assert_eq!(f.decide(65534, false), Decision::Forward { seq: 65534 });
        assert_eq!(f.decide(65535, false), Decision::Forward { seq: 65535 });
        assert_eq!(f.decide(1, false), Decision::Forward { seq: 1 });
        assert_eq!(
            f.decide(0, false),
            Decision::Forward { seq: 0 },
            "late packet, same mapping"
        );
        assert_eq!(f.decide(2, false), Decision::Forward { seq: 2 });
        assert_eq!(
            f.decide(20000, false),
            Decision::Forward { seq: 20000 },
            "a big gap forward"
        );
        assert_eq!(f.decide(10000, false), Decision::Drop, "far behind: stale");
    }

    #[test]
    fn vp8_keyframe_detection() {
        // S=1, PID=0, no extension; VP8 header P=0 → keyframe.
        assert!(vp8_keyframe_start(&[0x10, 0x00]));
        // Interframe (P=1).
        assert!(!vp8_keyframe_start(&[0x10, 0x01]));
        // Not the start of a partition.
        assert!(!vp8_keyframe_start(&[0x00, 0x00]));
        // Extended: I with 15-bit PictureID, L, T → header at index 6.
        assert!(vp8_keyframe_start(&[
            0x90, 0xE0, 0x80, 0x01, 0x05, 0x20, 0x00
        ]));
        assert!(!vp8_keyframe_start(&[
            0x90, 0xE0, 0x80, 0x01, 0x05, 0x20, 0x01
        ]));
        // Truncated input never panics.
        for n in 0..6 {
            let _ = vp8_keyframe_start(&[0x90, 0xE0, 0x80, 0x01, 0x05, 0x20][..n]);
        }
    }
}
