//! Recording a voice session off the media path: the agent loop sends [`Persist`] work to one
//! task per service, which writes it to the store (the media loop never awaits the
//! database), and the short label an ended session is recorded with.

use super::core::events::EndReason;
use crate::ids::VoiceSessionId;
use crate::model::voice::Speaker;
use crate::store::Store;
use tokio::sync::mpsc;

/// Work for the persistence task (the media loop never awaits the database).
pub enum Persist {
    Conversation(VoiceSessionId, String),
    Line {
        session: VoiceSessionId,
        speaker: Speaker,
        text: String,
        at_ms: i64,
        event_id: Option<i64>,
    },
    End(VoiceSessionId, String),
    /// Answers once everything sent before it is written (for a clean stop).
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A short label for the record.
pub(super) fn end_label(reason: &EndReason) -> String {
    match reason {
        EndReason::Completed => "agent ended".into(),
        EndReason::Hangup => "hung up".into(),
        EndReason::ServerRestart => "server restart".into(),
        EndReason::Stalled => "agent stalled".into(),
        EndReason::Unreachable(_) => "agent unreachable".into(),
        EndReason::AgentError { code, .. } => format!("agent error {code}"),
    }
}

pub(super) async fn persist_task(
    store: Store,
    clock: crate::clock::Clock,
    mut rx: mpsc::UnboundedReceiver<Persist>,
    webhook_give_up_hours: u32,
) {
    while let Some(p) = rx.recv().await {
        let now = clock.now();
        let result = match p {
            Persist::Conversation(id, conv) => store.set_voice_conversation(&id, &conv).await,
            Persist::Line {
                session,
                speaker,
                text,
                at_ms,
                event_id,
            } => store
                .upsert_voice_line(&session, speaker, &text, at_ms, event_id)
                .await
                .map(|_| ()),
            Persist::End(id, reason) => {
                let event = |user: &str, started| {
                    crate::notify::events::voice_session_ended(
                        id.as_str(),
                        user,
                        &reason,
                        started,
                        now,
                    )
                };
                let give_up = now + chrono::Duration::hours(i64::from(webhook_give_up_hours));
                store
                    .end_voice_session(&id, &reason, now, event, give_up)
                    .await
            }
            Persist::Flush(done) => {
                let _ = done.send(());
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record voice session data");
        }
    }
}
