//! The bridge's output queue: what the caller still has to do, in order. Frame payloads live in
//! a small pool of reused buffers; the one handed out by [`OutputQueue::poll`] is lent until
//! the next poll, so sending a frame does not allocate.

use std::collections::VecDeque;
use std::time::Instant;

use super::types::{BridgeOutput, Transcript};
use crate::voice::core::events::{AgentCommand, EndReason};

#[derive(Debug)]
enum Pending {
    ToAgent(AgentCommand),
    Frame {
        rtp_timestamp: u32,
        marker: bool,
        payload: Vec<u8>,
        queued_at: Option<Instant>,
        due: Instant,
    },
    Transcript(Transcript),
    Speaking(bool),
    Ended(EndReason),
}

/// Ordered outputs waiting for the caller.
#[derive(Debug)]
pub(super) struct OutputQueue {
    items: VecDeque<Pending>,
    pool: Vec<Vec<u8>>,
    lent: Option<Vec<u8>>,
}

impl OutputQueue {
    pub(super) fn new() -> Self {
        Self {
            items: VecDeque::with_capacity(16),
            pool: (0..4).map(|_| Vec::with_capacity(512)).collect(),
            lent: None,
        }
    }

    pub(super) fn command(&mut self, command: AgentCommand) {
        self.items.push_back(Pending::ToAgent(command));
    }

    pub(super) fn transcript(&mut self, line: Transcript) {
        self.items.push_back(Pending::Transcript(line));
    }

    pub(super) fn speaking(&mut self, on: bool) {
        self.items.push_back(Pending::Speaking(on));
    }

    pub(super) fn ended(&mut self, reason: EndReason) {
        self.items.push_back(Pending::Ended(reason));
    }

    /// Queues a copy of `payload` in a pooled buffer.
    pub(super) fn frame(
        &mut self,
        rtp_timestamp: u32,
        marker: bool,
        payload: &[u8],
        queued_at: Option<Instant>,
        due: Instant,
    ) {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(payload);
        self.items.push_back(Pending::Frame {
            rtp_timestamp,
            marker,
            payload: buf,
            queued_at,
            due,
        });
    }

    /// Drops queued frames (stale after a flush or a hang-up); other outputs stay.
    pub(super) fn drop_frames(&mut self) {
        let pool = &mut self.pool;
        self.items.retain_mut(|p| match p {
            Pending::Frame { payload, .. } => {
                pool.push(std::mem::take(payload));
                false
            }
            _ => true,
        });
    }

    /// The next output; a frame's payload is borrowed until the next call.
    pub(super) fn poll(&mut self) -> Option<BridgeOutput<'_>> {
        if let Some(buf) = self.lent.take() {
            self.pool.push(buf);
        }
        Some(match self.items.pop_front()? {
            Pending::ToAgent(command) => BridgeOutput::ToAgent(command),
            Pending::Transcript(t) => BridgeOutput::Transcript(t),
            Pending::Speaking(on) => BridgeOutput::Speaking(on),
            Pending::Ended(reason) => BridgeOutput::Ended(reason),
            Pending::Frame {
                rtp_timestamp,
                marker,
                payload,
                queued_at,
                due,
            } => BridgeOutput::Frame {
                rtp_timestamp,
                marker,
                payload: self.lent.insert(payload),
                queued_at,
                due,
            },
        })
    }
}
