//! The offer/answer state of a subscriber connection, sans-IO: the server makes one offer at
//! a time; a change made while an offer is out (a new subscription, a removed one, an ICE
//! restart) is folded into the next offer, sent once the answer is in. A subscription is
//! activated only after an answer that carried it, and only once the connection is up.

use crate::sfu::TrackId;

/// Where the subscriber connection's negotiation stands.
#[derive(Debug, Default)]
pub(super) struct Negotiation {
    /// An offer is out and waits for its answer.
    awaiting_answer: bool,
    /// Something changed while the offer was out: offer again after the answer.
    dirty: bool,
    /// The next offer restarts ICE.
    restart_ice: bool,
    /// Pending subscriptions carried by the offer that is out.
    in_flight: Vec<TrackId>,
    /// Answered subscriptions waiting for the connection to be up.
    answered: Vec<TrackId>,
}

/// What to do about a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Make an offer now (restarting ICE if `restart_ice`).
    Offer { restart_ice: bool },
    /// Nothing now: an offer is out, the change goes into the next one.
    Wait,
}

impl Negotiation {
    pub(super) fn awaiting_answer(&self) -> bool {
        self.awaiting_answer
    }

    /// The client asked for an ICE restart: the next offer carries it.
    pub(super) fn restart_ice(&mut self) {
        self.restart_ice = true;
    }

    /// Something to negotiate changed; `has_media` is false while the connection has never
    /// carried a down track (then there is nothing to offer, and a restart is moot).
    pub(super) fn changed(&mut self, has_media: bool) -> Option<Next> {
        if self.awaiting_answer {
            self.dirty = true;
            return Some(Next::Wait);
        }
        if !has_media {
            self.restart_ice = false;
            return None;
        }
        self.dirty = false;
        Some(Next::Offer {
            restart_ice: std::mem::take(&mut self.restart_ice),
        })
    }

    /// The offer asked for by [`Negotiation::changed`] is out, carrying `pending`.
    pub(super) fn offered(&mut self, pending: Vec<TrackId>) {
        self.in_flight = pending;
        self.awaiting_answer = true;
    }

    /// The answer was applied: what the offer carried is answered (subscriptions added
    /// while it was out are not: they are negotiated next). Returns whether to offer again.
    pub(super) fn answered(&mut self) -> bool {
        self.awaiting_answer = false;
        for t in std::mem::take(&mut self.in_flight) {
            if !self.answered.contains(&t) {
                self.answered.push(t);
            }
        }
        self.dirty
    }

    /// The answered subscriptions to activate, once the connection is up (none before).
    pub(super) fn take_answered(&mut self, connected: bool) -> Vec<TrackId> {
        if connected {
            std::mem::take(&mut self.answered)
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_offered_on_a_connection_that_never_carried_media() {
        let mut n = Negotiation::default();
        n.restart_ice();
        assert_eq!(n.changed(false), None);
        assert_eq!(
            n.changed(true),
            Some(Next::Offer { restart_ice: false }),
            "the restart asked for before any media was dropped"
        );
    }

    #[test]
    fn changes_while_an_offer_is_out_are_folded_into_the_next() {
        let mut n = Negotiation::default();
        assert_eq!(n.changed(true), Some(Next::Offer { restart_ice: false }));
        n.offered(vec![TrackId(1)]);
        assert!(n.awaiting_answer());
        n.restart_ice();
        assert_eq!(n.changed(true), Some(Next::Wait));
        assert_eq!(n.changed(true), Some(Next::Wait));
        assert!(n.answered(), "another offer is due");
        assert!(!n.awaiting_answer());
        assert_eq!(n.changed(true), Some(Next::Offer { restart_ice: true }));
        n.offered(vec![TrackId(2)]);
        assert!(!n.answered(), "nothing changed meanwhile");
    }

    #[test]
    fn only_what_the_answered_offer_carried_is_activated_and_only_when_connected() {
        let mut n = Negotiation::default();
        n.changed(true);
        n.offered(vec![TrackId(1), TrackId(2)]);
        n.answered();
        assert!(n.take_answered(false).is_empty(), "not before connected");
        n.changed(true);
        n.offered(vec![TrackId(2), TrackId(3)]);
        n.answered();
        assert_eq!(
            n.take_answered(true),
            vec![TrackId(1), TrackId(2), TrackId(3)],
            "each once"
        );
        assert!(n.take_answered(true).is_empty());
    }
}
