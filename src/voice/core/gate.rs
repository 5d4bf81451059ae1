//! The barge-in gate: which agent audio may still be played after an `interruption`.
//!
//! All audio chunks of one agent reply share one `event_id`, and ids grow per turn. The official
//! Python/Node SDKs drop audio with `event_id <= last interruption id`, which silences a whole
//! valid reply when the agent answers with the interruption's own id. This gate implements the
//! rule from `ELEVENLABS.md` instead: remember the id of the reply being played; on
//! `interruption(X)` ignore further audio of X only if X was the reply being played, and always
//! ignore ids below X. The gate only decides; flushing the playout queue is the bridge's job.
//! It owns no audio and never reads a clock.

/// Decides, chunk by chunk, whether agent audio is still wanted.
#[derive(Debug, Clone, Default)]
pub struct EventGate {
    /// Id of the reply whose audio was accepted last since the last interruption ("being played").
    playing: Option<u64>,
    /// Audio with an id below this is stale (raised by every interruption).
    floor: u64,
    /// The reply that was being played when it was interrupted; its remaining audio is dropped.
    cut: Option<u64>,
}

/// What the gate decided for one audio chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateDecision {
    /// Play it.
    Accept,
    /// Drop it: its id is below the last interruption's id.
    Stale,
    /// Drop it: it is the rest of the reply that was interrupted while playing.
    Interrupted,
}

impl EventGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides for one audio chunk with `event_id`, and remembers it as the reply being played
    /// when accepted.
    pub fn on_audio(&mut self, event_id: u64) -> GateDecision {
        if event_id < self.floor {
            return GateDecision::Stale;
        }
        if self.cut == Some(event_id) {
            return GateDecision::Interrupted;
        }
        self.playing = Some(event_id);
        GateDecision::Accept
    }

    /// Applies `interruption(event_id)`. The caller flushes its playout queue in the same step.
    pub fn on_interruption(&mut self, event_id: u64) {
        if self.playing == Some(event_id) {
            self.cut = Some(event_id);
        }
        self.floor = self.floor.max(event_id);
        // Nothing is being played after the flush.
        self.playing = None;
    }

    /// Push-to-talk pressed while a reply plays: an explicit barge-in, before (or without) the
    /// service's `interruption`. The rest of the reply being played is dropped; replies with
    /// other ids still play, and the floor stays where the service's last interruption put it.
    pub fn barge_in(&mut self) {
        if let Some(id) = self.playing.take() {
            self.cut = Some(id);
        }
    }

    /// Id of the reply being played, if any audio was accepted since the last interruption.
    pub fn playing(&self) -> Option<u64> {
        self.playing
    }
}

#[cfg(test)]
mod tests {
    use super::GateDecision::*;
    use super::*;

    #[test]
    fn accepts_everything_before_any_interruption() {
        let mut gate = EventGate::new();
        assert_eq!(gate.on_audio(0), Accept);
        assert_eq!(gate.on_audio(3), Accept);
        assert_eq!(gate.playing(), Some(3));
    }

    #[test]
    fn interrupted_reply_being_played_is_dropped_from_then_on() {
        let mut gate = EventGate::new();
        assert_eq!(gate.on_audio(5), Accept);
        gate.on_interruption(5);
        assert_eq!(gate.on_audio(5), Interrupted);
        assert_eq!(gate.on_audio(5), Interrupted);
        assert_eq!(gate.playing(), None);
    }

    #[test]
    fn reply_carrying_the_interruptions_own_id_is_played_when_it_was_not_playing() {
        // The SDK `<=` bug: reply 4 is playing, the user interrupts with id 5, the agent answers
        // with id 5. That answer must be heard.
        let mut gate = EventGate::new();
        assert_eq!(gate.on_audio(4), Accept);
        gate.on_interruption(5);
        assert_eq!(gate.on_audio(5), Accept);
        assert_eq!(gate.playing(), Some(5));
    }

    #[test]
    fn interruption_while_silent_accepts_its_own_id() {
        let mut gate = EventGate::new();
        gate.on_interruption(2);
        assert_eq!(gate.on_audio(2), Accept);
    }

    #[test]
    fn ids_below_the_interruption_are_always_stale() {
        let mut gate = EventGate::new();
        assert_eq!(gate.on_audio(4), Accept);
        gate.on_interruption(6);
        assert_eq!(gate.on_audio(4), Stale);
        assert_eq!(gate.on_audio(5), Stale);
        assert_eq!(gate.on_audio(0), Stale);
        assert_eq!(gate.on_audio(6), Accept);
        assert_eq!(gate.on_audio(7), Accept);
    }

    #[test]
    fn later_replies_play_after_an_interrupted_one() {
        let mut gate = EventGate::new();
        assert_eq!(gate.on_audio(5), Accept);
        gate.on_interruption(5);
        assert_eq!(gate.on_audio(5), Interrupted);
        assert_eq!(gate.on_audio(6), Accept);
        // A second interruption of the new reply cuts it too, and the old cut stays stale.
        gate.on_interruption(6);
        assert_eq!(gate.on_audio(6), Interrupted);
        assert_eq!(gate.on_audio(5), Stale);
        assert_eq!(gate.on_audio(7), Accept);
    }

    #[test]
    fn a_press_cuts_the_reply_being_played_and_nothing_else() {
        let mut gate = EventGate::new();
        assert_eq!(gate.on_audio(4), Accept);
        gate.barge_in();
        assert_eq!(gate.on_audio(4), Interrupted, "the rest of the reply");
        assert_eq!(gate.playing(), None);
        assert_eq!(gate.on_audio(5), Accept, "the next reply plays");
        // The service's interruption that follows, with a new id: the next reply reuses it.
        gate.on_interruption(6);
        assert_eq!(gate.on_audio(4), Stale);
        assert_eq!(gate.on_audio(6), Accept);
    }

    #[test]
    fn a_press_while_nothing_plays_changes_nothing() {
        let mut gate = EventGate::new();
        gate.barge_in();
        assert_eq!(gate.on_audio(0), Accept);
    }

    #[test]
    fn repeated_interruption_keeps_the_cut() {
        let mut gate = EventGate::new();
        assert_eq!(gate.on_audio(3), Accept);
        gate.on_interruption(3);
        gate.on_interruption(3);
        assert_eq!(gate.on_audio(3), Interrupted);
    }

    #[test]
    fn interruption_with_a_lower_id_does_not_lower_the_floor() {
        let mut gate = EventGate::new();
        gate.on_interruption(8);
        gate.on_interruption(2);
        assert_eq!(gate.on_audio(7), Stale);
        assert_eq!(gate.on_audio(8), Accept);
    }
}
