//! What each notification says (emails, SMS texts and Web Push notifications): booking
//! confirmations, moves and cancellations (with their
//! calendar invite), session reminders, password reset links and the "someone tried to sign
//! up with your email" warning. Pure functions of the values they are given.

use super::compose::{Block, Draft};
use super::email::Invite;
use super::push::PushMessage;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// One recipient, as the message addresses them.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub name: String,
    pub email: String,
    /// Where times are shown.
    pub zone: Tz,
}

/// A session as its messages describe it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The other party ("Coaching with …").
    pub with: String,
    /// `video` or `phone`.
    pub kind: &'static str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The room link of a video session.
    pub join_url: Option<String>,
    /// The coach's number of a phone session (E.164).
    pub phone: Option<String>,
    pub focus: Option<String>,
    /// The page listing the person's sessions.
    pub manage_url: String,
}

/// A local time in words: "Tuesday 8 December 2026, 10:00".
pub fn when(zone: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&zone)
        .format("%A %-d %B %Y, %H:%M")
        .to_string()
}

fn span(zone: Tz, s: &Session) -> String {
    let end = s.ends_at.with_timezone(&zone).format("%H:%M");
    format!("{}–{end} ({})", when(zone, s.starts_at), zone.name())
}

fn session_facts(to: &Recipient, s: &Session) -> Vec<Block> {
    let mut b = vec![
        Block::Fact("When", span(to.zone, s)),
        Block::Fact("With", s.with.clone()),
    ];
    match (&s.join_url, &s.phone) {
        (Some(_), _) => b.push(Block::Fact("How", "video, in your browser".into())),
        (None, Some(p)) => b.push(Block::Fact("How", format!("by phone: {p}"))),
        (None, None) => b.push(Block::Fact("How", s.kind.to_string())),
    }
    if let Some(f) = &s.focus {
        b.push(Block::Fact("Focus", f.clone()));
    }
    b
}

fn join(s: &Session) -> Option<Block> {
    s.join_url
        .as_ref()
        .map(|u| Block::Button("Join the session", u.clone()))
}

fn draft(to: &Recipient, org: &str, subject: String, blocks: Vec<Block>) -> Draft {
    Draft {
        to_name: to.name.clone(),
        to_email: to.email.clone(),
        subject,
        blocks,
        invite: None,
        unsubscribe: None,
        organisation: org.to_string(),
    }
}

/// "Your session is booked", with the invite.
pub fn booked(to: &Recipient, s: &Session, ics: String, org: &str) -> Draft {
    let mut blocks = vec![Block::Para("Your coaching session is booked.".into())];
    blocks.extend(session_facts(to, s));
    blocks.extend(join(s));
    blocks.push(Block::Button("Your sessions", s.manage_url.clone()));
    blocks.push(Block::Note(
        "The attached invite adds the session to your calendar.".into(),
    ));
    let mut d = draft(
        to,
        org,
        format!("Booked: {} with {}", when(to.zone, s.starts_at), s.with),
        blocks,
    );
    d.invite = Some(Invite {
        method: "REQUEST".into(),
        ics,
    });
    d
}

/// "Your session has moved", with the updated invite (same UID, higher SEQUENCE).
pub fn moved(to: &Recipient, s: &Session, was: DateTime<Utc>, ics: String, org: &str) -> Draft {
    let mut blocks = vec![Block::Para("Your coaching session has moved.".into())];
    blocks.extend(session_facts(to, s));
    blocks.push(Block::Fact("Was", when(to.zone, was)));
    blocks.extend(join(s));
    blocks.push(Block::Button("Your sessions", s.manage_url.clone()));
    blocks.push(Block::Note(
        "The attached invite updates the session in your calendar.".into(),
    ));
    let mut d = draft(
        to,
        org,
        format!("Moved: {} with {}", when(to.zone, s.starts_at), s.with),
        blocks,
    );
    d.invite = Some(Invite {
        method: "REQUEST".into(),
        ics,
    });
    d
}

/// "Your session is cancelled", with the iTIP cancellation.
pub fn cancelled(to: &Recipient, s: &Session, reason: &str, ics: String, org: &str) -> Draft {
    let mut blocks = vec![Block::Para(
        "Your coaching session has been cancelled.".into(),
    )];
    blocks.push(Block::Fact("When", span(to.zone, s)));
    blocks.push(Block::Fact("With", s.with.clone()));
    blocks.push(Block::Fact("Reason", reason.to_string()));
    blocks.push(Block::Button("Your sessions", s.manage_url.clone()));
    blocks.push(Block::Note(
        "The attached cancellation removes the session from your calendar.".into(),
    ));
    let mut d = draft(
        to,
        org,
        format!("Cancelled: {} with {}", when(to.zone, s.starts_at), s.with),
        blocks,
    );
    d.invite = Some(Invite {
        method: "CANCEL".into(),
        ics,
    });
    d
}

/// A lead time in words: "in 24 hours", "in 1 hour", "in 30 minutes", "in 2 days".
pub fn lead(minutes: u32) -> String {
    let plural = |n: u32, one: &str| {
        if n == 1 {
            format!("in 1 {one}")
        } else {
            format!("in {n} {one}s")
        }
    };
    if minutes >= 48 * 60 && minutes.is_multiple_of(24 * 60) {
        plural(minutes / (24 * 60), "day")
    } else if minutes.is_multiple_of(60) {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

/// A reminder `minutes` before the start, with a link to turn reminders off.
pub fn reminder(
    to: &Recipient,
    s: &Session,
    minutes: u32,
    unsubscribe: String,
    org: &str,
) -> Draft {
    let mut blocks = vec![Block::Para(format!(
        "Your coaching session starts {}.",
        lead(minutes)
    ))];
    blocks.extend(session_facts(to, s));
    blocks.extend(join(s));
    if let (None, Some(p)) = (&s.join_url, &s.phone) {
        blocks.push(Block::Button("Call", format!("tel:{p}")));
    }
    blocks.push(Block::Button("Your sessions", s.manage_url.clone()));
    let mut d = draft(
        to,
        org,
        format!("Reminder: session {} with {}", lead(minutes), s.with),
        blocks,
    );
    d.unsubscribe = Some(unsubscribe);
    d
}

/// A reminder by SMS: one short text (one or two segments) with the local time, the other
/// party, and the join link or the number to call. How to stop them is on the account page.
pub fn reminder_sms(to: &Recipient, s: &Session, minutes: u32, org: &str) -> String {
    let local = s.starts_at.with_timezone(&to.zone);
    let how = match (&s.join_url, &s.phone) {
        (Some(u), _) => format!(" Join: {u}"),
        (None, Some(p)) => format!(" Call {p}"),
        (None, None) => String::new(),
    };
    format!(
        "{org}: your session with {} starts {} ({} {}).{how}",
        s.with,
        lead(minutes),
        local.format("%a %-d %b %H:%M"),
        to.zone.name(),
    )
}

/// A reminder as a Web Push notification; `tag` makes a later one about the same session
/// replace it.
pub fn reminder_push(to: &Recipient, s: &Session, minutes: u32, tag: String) -> PushMessage {
    let local = s.starts_at.with_timezone(&to.zone);
    PushMessage {
        title: format!("Session {}", lead(minutes)),
        body: format!(
            "With {}, {} ({}).",
            s.with,
            local.format("%a %-d %b %H:%M"),
            to.zone.name()
        ),
        url: s.join_url.clone().unwrap_or_else(|| s.manage_url.clone()),
        tag,
    }
}

/// "Your coach has joined the room" as a Web Push notification.
pub fn coach_joined_push(to: &Recipient, s: &Session, tag: String) -> PushMessage {
    let local = s.starts_at.with_timezone(&to.zone);
    PushMessage {
        title: format!("{} has joined", s.with),
        body: format!(
            "Your coach is in the room for your {} session. Join now.",
            local.format("%H:%M")
        ),
        url: s.join_url.clone().unwrap_or_else(|| s.manage_url.clone()),
        tag,
    }
}

/// A password reset link.
pub fn password_reset(to: &Recipient, link: String, minutes: i64, org: &str) -> Draft {
    draft(
        to,
        org,
        "Reset your password".into(),
        vec![
            Block::Para(
                "Someone (we hope you) asked to reset the password of this account.".into(),
            ),
            Block::Button("Choose a new password", link),
            Block::Note(format!(
                "The link works once, for {minutes} minutes. If you did not ask for it, ignore \
                 this email: your password stays as it is."
            )),
        ],
    )
}

/// The link that confirms a new account's email address.
pub fn verify_email(to: &Recipient, link: String, hours: i64, org: &str) -> Draft {
    draft(
        to,
        org,
        "Confirm your email address".into(),
        vec![
            Block::Para(format!(
                "Welcome to {org}. Please confirm that this is your email address."
            )),
            Block::Button("Confirm my email address", link),
            Block::Note(format!(
                "The link works for {hours} hours. If you did not sign up, ignore this email: \
                 nothing happens without the link."
            )),
        ],
    )
}

/// Someone tried to sign up with an email that already has an account.
pub fn signup_attempt(to: &Recipient, login: String, reset: String, org: &str) -> Draft {
    draft(
        to,
        org,
        "Someone tried to sign up with your email".into(),
        vec![
            Block::Para(
                "Someone tried to create an account with this email address, which already \
                 has one. No new account was made and nothing changed."
                    .into(),
            ),
            Block::Para("If it was you, sign in instead, or reset your password.".into()),
            Block::Button("Sign in", login),
            Block::Button("Reset your password", reset),
            Block::Note("If it was not you, you need not do anything.".into()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> Recipient {
        Recipient {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            zone: chrono_tz::Europe::London,
        }
    }

    fn session(join: bool) -> Session {
        Session {
            with: "Grace Hopper".into(),
            kind: if join { "video" } else { "phone" },
            starts_at: "2026-07-08T09:00:00Z".parse().unwrap(),
            ends_at: "2026-07-08T10:00:00Z".parse().unwrap(),
            join_url: join.then(|| "https://x.test/r/room".into()),
            phone: (!join).then(|| "+442071838750".into()),
            focus: Some("career".into()),
            manage_url: "https://x.test/upcoming.html".into(),
        }
    }

    #[test]
    fn times_are_in_the_recipients_zone() {
        let e = booked(&ada(), &session(true), "ICS".into(), "Org").render();
        assert_eq!(
            e.subject,
            "Booked: Wednesday 8 July 2026, 10:00 with Grace Hopper"
        );
        assert!(
            e.text
                .contains("When: Wednesday 8 July 2026, 10:00–11:00 (Europe/London)"),
            "{}",
            e.text
        );
        assert!(e.text.contains("Join the session: https://x.test/r/room"));
        assert_eq!(e.invite.unwrap().method, "REQUEST");
    }

    #[test]
    fn push_notifications_open_the_room() {
        let r = reminder_push(&ada(), &session(true), 60, "reminder-b1".into());
        assert_eq!(r.title, "Session in 1 hour");
        assert_eq!(
            r.body,
            "With Grace Hopper, Wed 8 Jul 10:00 (Europe/London)."
        );
        assert_eq!(r.url, "https://x.test/r/room");
        let j = coach_joined_push(&ada(), &session(true), "joined-b1".into());
        assert_eq!(j.title, "Grace Hopper has joined");
        assert!(j.body.contains("10:00 session"), "{}", j.body);
        let phone = reminder_push(&ada(), &session(false), 60, "t".into());
        assert_eq!(phone.url, "https://x.test/upcoming.html");
    }

    #[test]
    fn sms_reminders_are_short_and_local() {
        let to = Recipient {
            name: "Ada".into(),
            email: "ada@example.org".into(),
            zone: chrono_tz::Europe::Berlin,
        };
        let video = reminder_sms(&to, &session(true), 60, "Acme Coaching");
        assert!(
            video.starts_with("Acme Coaching: your session with "),
            "{video}"
        );
        assert!(video.contains("in 1 hour"), "{video}");
        assert!(video.contains("(Wed 8 Jul 11:00 Europe/Berlin)"), "{video}");
        assert!(video.contains(" Join: https://"), "{video}");
        assert!(
            video.chars().count() <= 306,
            "two segments at most: {video}"
        );
        let phone = reminder_sms(&to, &session(false), 24 * 60, "Acme Coaching");
        assert!(phone.contains(" Call +442071838750"), "{phone}");
    }

    #[test]
    fn phone_reminders_give_the_number_and_a_way_out() {
        let e = reminder(
            &ada(),
            &session(false),
            60,
            "https://x.test/u".into(),
            "Org",
        )
        .render();
        assert_eq!(e.subject, "Reminder: session in 1 hour with Grace Hopper");
        assert!(e.text.contains("How: by phone: +442071838750"));
        assert!(e.text.contains("Call: tel:+442071838750"));
        assert_eq!(e.unsubscribe.as_deref(), Some("https://x.test/u"));
        assert!(e.invite.is_none());
    }

    #[test]
    fn lead_times_read_as_words() {
        assert_eq!(lead(1440), "in 24 hours");
        assert_eq!(lead(60), "in 1 hour");
        assert_eq!(lead(90), "in 90 minutes");
        assert_eq!(lead(2880), "in 2 days");
    }

    #[test]
    fn cancellations_carry_the_reason_and_a_cancel() {
        let e = cancelled(&ada(), &session(true), "ill", "ICS".into(), "Org").render();
        assert!(e.text.contains("Reason: ill"));
        assert_eq!(e.invite.unwrap().method, "CANCEL");
    }
}
