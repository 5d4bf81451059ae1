//! iCalendar rendering for bookings. This module owns the iCalendar text
//! (RFC 5545) that parlor hands out: iTIP (RFC 5546) `METHOD:REQUEST` invites
//! and `METHOD:CANCEL` cancellations for a single booking, and the per-user
//! subscribable feed (`METHOD:PUBLISH`). Its job ends at producing text:
//! escaping, parameter quoting, CRLF line endings and line folding. It never
//! touches storage, HTTP, e-mail transport or the clock. The caller supplies
//! every value, including `DTSTAMP` and the `SEQUENCE` number.
//!
//! Untrusted strings (names, e-mails, titles, links) can never start a new
//! property. TEXT values are escaped, control characters are dropped from
//! parameters and URIs, and a line break in a value is only ever written as
//! the two-character escape `\n`.

use chrono::{DateTime, Utc};

/// A calendar user: a display name plus an e-mail address (rendered as a
/// `mailto:` calendar address).
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// Participation status of an attendee (`PARTSTAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartStat {
    NeedsAction,
    Accepted,
    Declined,
}

/// An invited participant.
#[derive(Debug, Clone)]
pub struct Attendee {
    pub person: Person,
    pub partstat: PartStat,
    /// Whether a reply is requested (`RSVP=TRUE`).
    pub rsvp: bool,
}

/// Lifecycle status of an event (`STATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Confirmed,
    Cancelled,
}

/// One booking as a calendar event.
#[derive(Debug, Clone)]
pub struct CalendarEvent {
    /// Stable across reschedules, e.g. `"<booking-id>@parlor"`.
    pub uid: String,
    /// Incremented on every reschedule/cancel.
    pub sequence: u32,
    /// When this version was produced.
    pub dtstamp: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub description: String,
    /// The join link or `"tel:+44..."`. Rendered as TEXT.
    pub location: Option<String>,
    /// Rendered as a URI (not escaped; control characters removed).
    pub url: Option<String>,
    pub organizer: Person,
    pub attendees: Vec<Attendee>,
    pub status: EventStatus,
}

/// METHOD:REQUEST invite for one event (status CONFIRMED).
///
/// `STATUS` is always `CONFIRMED` here, whatever `ev.status` says. To call
/// an event off, use [`render_cancel`].
pub fn render_request(ev: &CalendarEvent) -> String {
    render_single(Method::Request, ev)
}

/// METHOD:CANCEL for one event (STATUS:CANCELLED, same UID, the event's sequence).
///
/// Every attendee is listed (RFC 5546 3.2.5: a cancel of the whole event
/// names every attendee), with `RSVP=FALSE` because a CANCEL gets no reply.
/// The caller must already have incremented `ev.sequence`.
pub fn render_cancel(ev: &CalendarEvent) -> String {
    render_single(Method::Cancel, ev)
}

/// A subscribable feed (METHOD:PUBLISH, X-WR-CALNAME) with many events; cancelled ones carry STATUS:CANCELLED.
///
/// Each event keeps its own `STATUS`. There are no `ATTENDEE` properties,
/// because RFC 5546 3.2.1 says attendees MUST NOT appear in a PUBLISH, and
/// clients would otherwise show feed entries as invitations to answer.
pub fn render_feed(calendar_name: &str, events: &[CalendarEvent]) -> String {
    let mut w = Writer::begin_calendar(Method::Publish);
    w.text_prop("X-WR-CALNAME", calendar_name);
    for ev in events {
        w.event(Method::Publish, ev);
    }
    w.end_calendar()
}

// ---------------------------------------------------------------------------
// Rendering internals
// ---------------------------------------------------------------------------

const PRODID: &str = "-//parlor//parlor//EN";
/// RFC 5545 3.1: content lines SHOULD NOT exceed 75 octets, excluding CRLF.
const MAX_LINE_OCTETS: usize = 75;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Request,
    Cancel,
    Publish,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
            Method::Publish => "PUBLISH",
        }
    }
}

impl PartStat {
    fn as_str(self) -> &'static str {
        match self {
            PartStat::NeedsAction => "NEEDS-ACTION",
            PartStat::Accepted => "ACCEPTED",
            PartStat::Declined => "DECLINED",
        }
    }
}

impl EventStatus {
    fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
}

fn render_single(method: Method, ev: &CalendarEvent) -> String {
    let mut w = Writer::begin_calendar(method);
    w.event(method, ev);
    w.end_calendar()
}

/// Collects folded, CRLF-terminated content lines.
struct Writer {
    out: String,
}

impl Writer {
    fn begin_calendar(method: Method) -> Self {
        let mut w = Writer {
            out: String::with_capacity(1024),
        };
        w.line("BEGIN:VCALENDAR");
        w.line("VERSION:2.0");
        w.line(&format!("PRODID:{PRODID}"));
        w.line("CALSCALE:GREGORIAN");
        w.line(&format!("METHOD:{}", method.as_str()));
        w
    }

    fn end_calendar(mut self) -> String {
        self.line("END:VCALENDAR");
        self.out
    }

    fn event(&mut self, method: Method, ev: &CalendarEvent) {
        let status = match method {
            Method::Request => EventStatus::Confirmed,
            Method::Cancel => EventStatus::Cancelled,
            Method::Publish => ev.status,
        };

        self.line("BEGIN:VEVENT");
        self.text_prop("UID", &ev.uid);
        self.line(&format!("SEQUENCE:{}", ev.sequence));
        self.line(&format!("DTSTAMP:{}", utc_stamp(&ev.dtstamp)));
        self.line(&format!("DTSTART:{}", utc_stamp(&ev.start)));
        self.line(&format!("DTEND:{}", utc_stamp(&ev.end)));
        self.text_prop("SUMMARY", &ev.summary);
        self.text_prop("DESCRIPTION", &ev.description);
        if let Some(location) = ev.location.as_deref().filter(|l| !l.is_empty()) {
            self.text_prop("LOCATION", location);
        }
        if let Some(url) = ev.url.as_deref().map(uri_value).filter(|u| !u.is_empty()) {
            self.line(&format!("URL:{url}"));
        }
        self.line(&format!("STATUS:{}", status.as_str()));
        self.line(&format!(
            "ORGANIZER{}:{}",
            cn_param(&ev.organizer.name),
            cal_address(&ev.organizer.email)
        ));
        if method != Method::Publish {
            for a in &ev.attendees {
                let rsvp = a.rsvp && method != Method::Cancel;
                self.line(&format!(
                    "ATTENDEE{};ROLE=REQ-PARTICIPANT;PARTSTAT={};RSVP={}:{}",
                    cn_param(&a.person.name),
                    a.partstat.as_str(),
                    if rsvp { "TRUE" } else { "FALSE" },
                    cal_address(&a.person.email)
                ));
            }
        }
        self.line("END:VEVENT");
    }

    /// A property whose value is of type TEXT (escaped).
    fn text_prop(&mut self, name: &str, value: &str) {
        self.line(&format!("{name}:{}", escape_text(value)));
    }

    /// Appends one logical content line, folded, with CRLF endings. Every
    /// caller has already made sure `logical` holds no CR or LF.
    fn line(&mut self, logical: &str) {
        debug_assert!(!logical.contains(['\r', '\n']));
        push_folded(&mut self.out, logical);
    }
}

/// RFC 5545 3.3.5 form 2 (UTC): `20261124T093000Z`.
fn utc_stamp(dt: &DateTime<Utc>) -> String {
    dt.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Folds `line` (RFC 5545 3.1) into `out`. No physical line is longer than 75
/// octets, a break never splits a UTF-8 sequence, and every physical line
/// ends in CRLF. Continuation lines start with a single space.
///
/// Where possible a break is not put straight after a space or tab. Some
/// parsers, the `ical` crate included, trim trailing whitespace from each
/// physical line before unfolding and would lose it. The break moves back
/// before the whitespace, which then opens the continuation line.
fn push_folded(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = MAX_LINE_OCTETS;
    while rest.len() > limit {
        let cut = fold_point(rest, limit);
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space of a continuation line counts toward its 75.
        limit = MAX_LINE_OCTETS - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

/// Byte index at which to break `s` so that the head is at most `limit`
/// octets. Requires `s.len() > limit >= 4`. The result is always > 0.
fn fold_point(s: &str, limit: usize) -> usize {
    let mut cut = limit;
    while !s.is_char_boundary(cut) {
        cut -= 1; // at most 3 steps: a UTF-8 char is at most 4 octets
    }
    match s[..cut].trim_end_matches([' ', '\t']).len() {
        0 => cut, // nothing but whitespace: split the run anyway
        n => n,
    }
}

/// RFC 5545 3.3.11 TEXT escaping: `\` → `\\`, `;` → `\;`, `,` → `\,` and a
/// line break (LF, CRLF or a bare CR) → `\n`. Every other control character
/// is dropped except HTAB, which TEXT allows (TSAFE-CHAR includes WSP).
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `;CN=...` for a display name, or the empty string if nothing printable is
/// left. DQUOTE is not allowed in a parameter value (RFC 5545 3.1) and is
/// removed. Each run of control characters (CR/LF included) becomes one
/// space. The value is DQUOTE-quoted if it contains `:`, `;` or `,`.
fn cn_param(name: &str) -> String {
    let mut cleaned = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.chars() {
        if c == '"' {
            continue;
        }
        if c.is_control() {
            pending_space = true;
            continue;
        }
        if pending_space && !cleaned.is_empty() {
            cleaned.push(' ');
        }
        pending_space = false;
        cleaned.push(c);
    }
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        String::new()
    } else if cleaned.contains([':', ';', ',']) {
        format!(";CN=\"{cleaned}\"")
    } else {
        format!(";CN={cleaned}")
    }
}

/// A URI value: not escaped (RFC 5545 3.3.13), but control characters
/// (CR/LF included) are removed so that the value cannot end the line.
fn uri_value(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

/// `mailto:` calendar address (CAL-ADDRESS) for an e-mail address. A
/// `mailto:` prefix that is already there is not doubled.
fn cal_address(email: &str) -> String {
    let email = uri_value(email);
    let bare = match email.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("mailto:") => &email[7..],
        _ => email.as_str(),
    };
    format!("mailto:{bare}")
}

#[cfg(test)]
mod tests;
