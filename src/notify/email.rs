//! An email as the outbox stores it (rendered when the change happens, so a retry sends the
//! same words) and its MIME form: `multipart/mixed` holding `multipart/alternative` (plain
//! text, then HTML) and, for bookings, the iCalendar invite as a `text/calendar;
//! method=REQUEST` (or `CANCEL`) attachment that calendar apps add. Built with lettre.

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};

/// The iCalendar part of a booking email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// The iTIP method: `REQUEST` or `CANCEL`.
    pub method: String,
    /// The calendar text (CRLF lines).
    pub ics: String,
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to_name: String,
    pub to_email: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub invite: Option<Invite>,
    /// The one-click unsubscribe link of reminders (RFC 8058), if any.
    pub unsubscribe: Option<String>,
}

/// Why an email could not be built (a stored row that can never be sent).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the email: {0}")]
pub struct BuildError(String);

/// The sender's side of every email.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    /// The host part of `Message-ID`s.
    pub id_host: String,
}

#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// The `Message-ID` of the outbox row `id`: the same on every attempt, so that a receiver
/// can drop a duplicate.
pub fn message_id(id: &str, host: &str) -> String {
    format!("<{id}@{host}>")
}

impl Email {
    /// The MIME message of this email, sent as outbox row `id` at `date`.
    pub fn to_message(
        &self,
        env: &Envelope,
        id: &str,
        date: DateTime<Utc>,
    ) -> Result<Message, BuildError> {
        let bad = |e: &dyn std::fmt::Display| BuildError(e.to_string());
        let to = Mailbox::new(
            Some(self.to_name.clone()).filter(|n| !n.is_empty()),
            self.to_email.parse().map_err(|e| bad(&e))?,
        );
        let mut b = Message::builder()
            .from(env.from.clone())
            .to(to)
            .subject(self.subject.clone())
            .message_id(Some(message_id(id, &env.id_host)))
            .date(date.into());
        if let Some(r) = &env.reply_to {
            b = b.reply_to(r.clone());
        }
        if let Some(link) = &self.unsubscribe {
            b = b
                .header(ListUnsubscribe(format!("<{link}>")))
                .header(ListUnsubscribePost);
        }
        let body = MultiPart::alternative()
            .singlepart(SinglePart::plain(self.text.clone()))
            .singlepart(SinglePart::html(self.html.clone()));
        let body = match &self.invite {
            None => MultiPart::mixed().multipart(body),
            Some(inv) => {
                let kind = ContentType::parse(&format!(
                    "text/calendar; charset=utf-8; method={}",
                    inv.method
                ))
                .map_err(|e| bad(&e))?;
                let file = if inv.method == "CANCEL" {
                    "cancel.ics"
                } else {
                    "invite.ics"
                };
                MultiPart::mixed()
                    .multipart(body)
                    .singlepart(Attachment::new(file.into()).body(inv.ics.clone(), kind))
            }
        };
        b.multipart(body).map_err(|e| bad(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Envelope {
        Envelope {
            from: "Coaching <sessions@example.org>".parse().unwrap(),
            reply_to: Some("help@example.org".parse().unwrap()),
            id_host: "example.org".into(),
        }
    }

    fn email() -> Email {
        Email {
            to_name: "Ada Lovelace".into(),
            to_email: "ada@example.com".into(),
            subject: "Session booked".into(),
            text: "Hello Ada".into(),
            html: "<p>Hello Ada</p>".into(),
            invite: Some(Invite {
                method: "REQUEST".into(),
                ics: "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n".into(),
            }),
            unsubscribe: Some("https://example.org/api/unsubscribe/abc".into()),
        }
    }

    #[test]
    fn the_message_carries_text_html_the_invite_and_a_stable_id() {
        let at = "2030-01-07T10:00:00Z".parse().unwrap();
        let m = email().to_message(&env(), "row1", at).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <row1@example.org>"), "{raw}");
        assert!(raw.contains("Reply-To: help@example.org"), "{raw}");
        assert!(raw.contains("List-Unsubscribe: <https://example.org/api/unsubscribe/abc>"));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("multipart/alternative"));
        assert!(
            raw.contains("text/calendar; charset=utf-8; method=REQUEST"),
            "{raw}"
        );
        assert!(raw.contains("filename=\"invite.ics\""), "{raw}");
        assert!(raw.contains("Date: Mon, 07 Jan 2030 10:00:00"), "{raw}");
        let again = email().to_message(&env(), "row1", at).unwrap();
        assert_eq!(m.formatted().len(), again.formatted().len());
    }

    #[test]
    fn a_bad_stored_address_is_an_error_not_a_panic() {
        let mut e = email();
        e.to_email = "not an address".into();
        assert!(e.to_message(&env(), "x", Utc::now()).is_err());
    }
}
