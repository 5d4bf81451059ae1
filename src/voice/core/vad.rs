//! Energy-based turn detection, shared by the echo agent and the ElevenLabs test double.
//!
//! Sans-IO: feed chunks of PCM with their sample rate, get "speech started" and "speech ended"
//! decisions back. A chunk is loud when its RMS exceeds a threshold; speech starts after
//! `min_speech_ms` of consecutive loud audio and ends after `end_silence_ms` of quiet. Time is
//! counted in samples, so any chunk size works (20 ms from parlor, 250 ms from the SDKs).
//! Nothing here knows about sockets, clocks or agents.

/// A turn decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// The user started speaking (after `min_speech_ms` of loud audio).
    Started,
    /// The user stopped: `speech_ms` from the first loud chunk to the last one.
    Ended { speech_ms: u32 },
}

/// Tuning of [`EnergyVad`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// RMS (on the i16 scale) above which a chunk counts as speech; 500 ≈ −36 dBFS.
    pub threshold_rms: f64,
    /// Loud audio needed before a turn starts (rejects clicks).
    pub min_speech_ms: u32,
    /// Quiet audio that ends a turn.
    pub end_silence_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold_rms: 500.0,
            min_speech_ms: 40,
            end_silence_ms: 600,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No turn; `loud_ms` of consecutive loud audio so far.
    Quiet { loud_ms: u32 },
    /// In a turn: `speech_ms` up to the last loud chunk, then `silence_ms` of quiet.
    Speech { speech_ms: u32, silence_ms: u32 },
}

/// The detector.
#[derive(Debug, Clone)]
pub struct EnergyVad {
    config: VadConfig,
    state: State,
}

/// Root mean square of a chunk (0 for an empty one).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

impl EnergyVad {
    pub fn new(config: VadConfig) -> Self {
        Self {
            config,
            state: State::Quiet { loud_ms: 0 },
        }
    }

    /// Whether a turn is in progress.
    pub fn in_speech(&self) -> bool {
        matches!(self.state, State::Speech { .. })
    }

    /// Whether loud audio is accumulating (a turn may be starting or is in progress).
    pub fn is_capturing(&self) -> bool {
        !matches!(self.state, State::Quiet { loud_ms: 0 })
    }

    /// Feeds one chunk; returns a decision when the turn state changes.
    pub fn push(&mut self, samples: &[i16], sample_rate: u32) -> Option<VadEvent> {
        if samples.is_empty() || sample_rate == 0 {
            return None;
        }
        let ms = (samples.len() as u64 * 1000 / u64::from(sample_rate)) as u32;
        let loud = rms(samples) > self.config.threshold_rms;
        match (self.state, loud) {
            (State::Quiet { loud_ms }, true) => {
                let loud_ms = loud_ms + ms;
                if loud_ms >= self.config.min_speech_ms {
                    self.state = State::Speech {
                        speech_ms: loud_ms,
                        silence_ms: 0,
                    };
                    return Some(VadEvent::Started);
                }
                self.state = State::Quiet { loud_ms };
            }
            (State::Quiet { .. }, false) => self.state = State::Quiet { loud_ms: 0 },
            (
                State::Speech {
                    speech_ms,
                    silence_ms,
                },
                true,
            ) => {
                self.state = State::Speech {
                    speech_ms: speech_ms + silence_ms + ms,
                    silence_ms: 0,
                };
            }
            (
                State::Speech {
                    speech_ms,
                    silence_ms,
                },
                false,
            ) => {
                let silence_ms = silence_ms + ms;
                if silence_ms >= self.config.end_silence_ms {
                    self.state = State::Quiet { loud_ms: 0 };
                    return Some(VadEvent::Ended { speech_ms });
                }
                self.state = State::Speech {
                    speech_ms,
                    silence_ms,
                };
            }
        }
        None
    }
}

/// `ms` milliseconds of a sine tone at `freq` Hz and amplitude `amp` (test signals, the double's
/// synthetic replies). `phase` carries the position between calls so chunks join without clicks.
pub fn sine(sample_rate: u32, ms: u32, freq: f64, amp: f64, phase: &mut u64) -> Vec<i16> {
    let n = (u64::from(sample_rate) * u64::from(ms) / 1000) as usize;
    (0..n)
        .map(|_| {
            let t = *phase as f64 / f64::from(sample_rate);
            *phase += 1;
            (amp * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(vad: &mut EnergyVad, chunk: &[i16], times: usize) -> Vec<VadEvent> {
        (0..times).filter_map(|_| vad.push(chunk, 16_000)).collect()
    }

    #[test]
    fn a_tone_burst_starts_and_ends_one_turn() {
        let mut vad = EnergyVad::new(VadConfig::default());
        let mut phase = 0;
        let tone = sine(16_000, 20, 440.0, 8000.0, &mut phase);
        let silence = vec![0i16; 320];
        assert!(feed(&mut vad, &silence, 10).is_empty());
        assert_eq!(feed(&mut vad, &tone, 50), vec![VadEvent::Started]);
        assert!(vad.in_speech());
        // 29 chunks of silence (580 ms) keep the turn open, the 30th (600 ms) ends it.
        assert!(feed(&mut vad, &silence, 29).is_empty());
        assert_eq!(
            feed(&mut vad, &silence, 1),
            vec![VadEvent::Ended { speech_ms: 1000 }]
        );
        assert!(!vad.in_speech());
    }

    #[test]
    fn a_single_click_is_not_speech_and_short_pauses_do_not_end_a_turn() {
        let mut vad = EnergyVad::new(VadConfig::default());
        let loud = vec![9000i16; 320];
        let silence = vec![0i16; 320];
        assert_eq!(vad.push(&loud, 16_000), None);
        assert_eq!(vad.push(&silence, 16_000), None);
        assert!(!vad.is_capturing());
        assert_eq!(feed(&mut vad, &loud, 2), vec![VadEvent::Started]);
        assert!(feed(&mut vad, &silence, 10).is_empty());
        assert!(feed(&mut vad, &loud, 5).is_empty());
        let ended = feed(&mut vad, &silence, 30);
        assert_eq!(ended, vec![VadEvent::Ended { speech_ms: 340 }]);
    }

    #[test]
    fn large_chunks_and_other_rates_count_time_in_samples() {
        let mut vad = EnergyVad::new(VadConfig::default());
        let loud = vec![9000i16; 2000]; // 250 ms at 8 kHz
        assert_eq!(vad.push(&loud, 8_000), Some(VadEvent::Started));
        assert_eq!(vad.push(&vec![0; 2000], 8_000), None);
        assert_eq!(
            vad.push(&vec![0; 4000], 8_000),
            Some(VadEvent::Ended { speech_ms: 250 })
        );
        assert_eq!(vad.push(&[], 8_000), None);
        assert_eq!(rms(&[]), 0.0);
    }
}
