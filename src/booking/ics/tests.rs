//! Tests of the iCalendar renderer: every output is parsed back with the independent `ical` crate.
//! Requests, cancellations and feeds here; line folding and text escaping in [`text`].

use super::*;
use chrono::TimeZone;
use ical::IcalParser;
use ical::parser::ical::component::{IcalCalendar, IcalEvent};
use ical::property::Property;

// ---- helpers ---------------------------------------------------------

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn person(name: &str, email: &str) -> Person {
    Person {
        name: name.to_string(),
        email: email.to_string(),
    }
}

fn sample_event() -> CalendarEvent {
    CalendarEvent {
        uid: "bk_01HZX9@parlor".to_string(),
        sequence: 2,
        dtstamp: at(2026, 11, 1, 8, 0),
        start: at(2026, 11, 24, 9, 30),
        end: at(2026, 11, 24, 10, 30),
        summary: "Coaching session".to_string(),
        description: "Bring your notes.".to_string(),
        location: Some("https://meet.example.com/abc".to_string()),
        url: Some("https://parlor.example.com/b/bk_01HZX9".to_string()),
        organizer: person("Coach Carla", "carla@example.com"),
        attendees: vec![
            Attendee {
                person: person("Dan Client", "dan@example.com"),
                partstat: PartStat::NeedsAction,
                rsvp: true,
            },
            Attendee {
                person: person("Carla", "carla@example.com"),
                partstat: PartStat::Accepted,
                rsvp: false,
            },
        ],
        status: EventStatus::Confirmed,
    }
}

/// Parses with the independent `ical` crate; exactly one VCALENDAR.
fn parse(ics: &str) -> IcalCalendar {
    let mut cals: Vec<IcalCalendar> = IcalParser::new(ics.as_bytes())
        .collect::<Result<_, _>>()
        .expect("ical crate failed to parse our output");
    assert_eq!(cals.len(), 1, "expected exactly one VCALENDAR");
    cals.remove(0)
}

fn only_event(cal: &IcalCalendar) -> &IcalEvent {
    assert_eq!(cal.events.len(), 1, "expected exactly one VEVENT");
    &cal.events[0]
}

fn props<'a>(props: &'a [Property], name: &str) -> Vec<&'a Property> {
    props.iter().filter(|p| p.name == name).collect()
}

/// The single value of property `name`; panics if it is absent or repeated.
fn value<'a>(props_: &'a [Property], name: &str) -> &'a str {
    let found = props(props_, name);
    assert_eq!(found.len(), 1, "expected exactly one {name}");
    found[0].value.as_deref().unwrap_or("")
}

/// The single value of parameter `key`; `None` if absent.
fn param<'a>(p: &'a Property, key: &str) -> Option<&'a str> {
    let params = p.params.as_ref()?;
    let (_, values) = params.iter().find(|(k, _)| k == key)?;
    assert_eq!(values.len(), 1, "parameter {key} should have one value");
    Some(values[0].as_str())
}

/// Reverse of RFC 5545 3.3.11 escaping, written independently of the
/// module's escaper.
fn unescape_text(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') | Some('N') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some(';') => out.push(';'),
            Some(',') => out.push(','),
            other => panic!("invalid TEXT escape: \\{other:?}"),
        }
    }
    out
}

/// Checks the raw octets: every line ends in CRLF, with no bare CR or LF,
/// no physical line is over 75 octets, and every physical line is valid
/// UTF-8 on its own (so no fold split a multi-byte character).
fn assert_wire_format(ics: &str) {
    let bytes = ics.as_bytes();
    assert!(bytes.ends_with(b"\r\n"), "output must end with CRLF");
    // Drop the final LF so that split does not yield an empty tail.
    let body = &bytes[..bytes.len() - 1];
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line
            .strip_suffix(b"\r")
            .unwrap_or_else(|| panic!("line {i} is not CRLF-terminated"));
        assert!(!line.contains(&b'\r'), "bare CR in line {i}");
        assert!(
            line.len() <= MAX_LINE_OCTETS,
            "line {i} is {} octets: {:?}",
            line.len(),
            String::from_utf8_lossy(line)
        );
        assert!(
            std::str::from_utf8(line).is_ok(),
            "line {i} splits a UTF-8 sequence"
        );
    }
}

fn unfold(ics: &str) -> String {
    ics.replace("\r\n ", "")
}

// ---- request -----------------------------------------------------------

#[test]
fn request_has_method_request_and_calendar_header() {
    let ics = render_request(&sample_event());
    assert_wire_format(&ics);
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    let cal = parse(&ics);
    assert_eq!(value(&cal.properties, "VERSION"), "2.0");
    assert_eq!(value(&cal.properties, "PRODID"), "-//parlor//parlor//EN");
    assert_eq!(value(&cal.properties, "CALSCALE"), "GREGORIAN");
    assert_eq!(value(&cal.properties, "METHOD"), "REQUEST");
}

#[test]
fn request_event_has_uid_sequence_and_utc_times() {
    let cal = parse(&render_request(&sample_event()));
    let ev = only_event(&cal);
    assert_eq!(value(&ev.properties, "UID"), "bk_01HZX9@parlor");
    assert_eq!(value(&ev.properties, "SEQUENCE"), "2");
    assert_eq!(value(&ev.properties, "DTSTAMP"), "20261101T080000Z");
    assert_eq!(value(&ev.properties, "DTSTART"), "20261124T093000Z");
    assert_eq!(value(&ev.properties, "DTEND"), "20261124T103000Z");
    for name in ["DTSTAMP", "DTSTART", "DTEND"] {
        assert!(
            props(&ev.properties, name)[0].params.is_none(),
            "{name} has no TZID"
        );
    }
    assert_eq!(value(&ev.properties, "STATUS"), "CONFIRMED");
    assert_eq!(value(&ev.properties, "SUMMARY"), "Coaching session");
    assert_eq!(value(&ev.properties, "DESCRIPTION"), "Bring your notes.");
    assert_eq!(
        value(&ev.properties, "LOCATION"),
        "https://meet.example.com/abc"
    );
    assert_eq!(
        value(&ev.properties, "URL"),
        "https://parlor.example.com/b/bk_01HZX9"
    );
}

#[test]
fn request_has_organizer_and_attendees_with_partstat_and_rsvp() {
    let cal = parse(&render_request(&sample_event()));
    let ev = only_event(&cal);

    let org = props(&ev.properties, "ORGANIZER");
    assert_eq!(org.len(), 1);
    assert_eq!(org[0].value.as_deref(), Some("mailto:carla@example.com"));
    assert_eq!(param(org[0], "CN"), Some("Coach Carla"));

    let att = props(&ev.properties, "ATTENDEE");
    assert_eq!(att.len(), 2);
    assert_eq!(att[0].value.as_deref(), Some("mailto:dan@example.com"));
    assert_eq!(param(att[0], "CN"), Some("Dan Client"));
    assert_eq!(param(att[0], "ROLE"), Some("REQ-PARTICIPANT"));
    assert_eq!(param(att[0], "PARTSTAT"), Some("NEEDS-ACTION"));
    assert_eq!(param(att[0], "RSVP"), Some("TRUE"));
    assert_eq!(att[1].value.as_deref(), Some("mailto:carla@example.com"));
    assert_eq!(param(att[1], "PARTSTAT"), Some("ACCEPTED"));
    assert_eq!(param(att[1], "RSVP"), Some("FALSE"));
}

#[test]
fn request_is_always_confirmed_even_if_event_says_cancelled() {
    let mut ev = sample_event();
    ev.status = EventStatus::Cancelled;
    let cal = parse(&render_request(&ev));
    assert_eq!(value(&only_event(&cal).properties, "STATUS"), "CONFIRMED");
}

#[test]
fn absent_or_empty_location_and_url_are_omitted() {
    let mut ev = sample_event();
    ev.location = None;
    ev.url = Some(String::new());
    let cal = parse(&render_request(&ev));
    let ev = only_event(&cal);
    assert!(props(&ev.properties, "LOCATION").is_empty());
    assert!(props(&ev.properties, "URL").is_empty());
}

#[test]
fn declined_partstat_and_tel_location_render() {
    let mut ev = sample_event();
    ev.attendees[0].partstat = PartStat::Declined;
    ev.location = Some("tel:+44 20 7946 0000".to_string());
    let cal = parse(&render_request(&ev));
    let e = only_event(&cal);
    assert_eq!(
        param(props(&e.properties, "ATTENDEE")[0], "PARTSTAT"),
        Some("DECLINED")
    );
    assert_eq!(value(&e.properties, "LOCATION"), "tel:+44 20 7946 0000");
}

// ---- cancel ------------------------------------------------------------

#[test]
fn cancel_has_method_cancel_status_cancelled_same_uid_and_sequence() {
    let mut ev = sample_event();
    ev.sequence = 3;
    let ics = render_cancel(&ev);
    assert_wire_format(&ics);
    let cal = parse(&ics);
    assert_eq!(value(&cal.properties, "METHOD"), "CANCEL");
    let e = only_event(&cal);
    assert_eq!(value(&e.properties, "UID"), ev.uid);
    assert_eq!(value(&e.properties, "SEQUENCE"), "3");
    assert_eq!(value(&e.properties, "STATUS"), "CANCELLED");
    assert_eq!(value(&e.properties, "DTSTART"), "20261124T093000Z");
    assert_eq!(props(&e.properties, "ORGANIZER").len(), 1);
}

#[test]
fn cancel_lists_all_attendees_without_requesting_rsvp() {
    let cal = parse(&render_cancel(&sample_event()));
    let att = props(&only_event(&cal).properties, "ATTENDEE");
    assert_eq!(att.len(), 2);
    for a in att {
        assert_eq!(param(a, "RSVP"), Some("FALSE"));
    }
}

// ---- feed --------------------------------------------------------------

#[test]
fn feed_with_three_events_publishes_each_with_its_own_status() {
    let mut a = sample_event();
    a.uid = "a@parlor".into();
    let mut b = sample_event();
    b.uid = "b@parlor".into();
    b.sequence = 4;
    b.status = EventStatus::Cancelled;
    b.start = at(2026, 12, 1, 14, 0);
    b.end = at(2026, 12, 1, 15, 0);
    let mut c = sample_event();
    c.uid = "c@parlor".into();
    c.location = None;
    c.url = None;

    let ics = render_feed("Parlor — Dan's sessions", &[a, b, c]);
    assert_wire_format(&ics);
    let cal = parse(&ics);
    assert_eq!(value(&cal.properties, "METHOD"), "PUBLISH");
    assert_eq!(value(&cal.properties, "VERSION"), "2.0");
    assert_eq!(
        unescape_text(value(&cal.properties, "X-WR-CALNAME")),
        "Parlor — Dan's sessions"
    );
    assert_eq!(cal.events.len(), 3);

    let uids: Vec<&str> = cal
        .events
        .iter()
        .map(|e| value(&e.properties, "UID"))
        .collect();
    assert_eq!(uids, ["a@parlor", "b@parlor", "c@parlor"]);
    let statuses: Vec<&str> = cal
        .events
        .iter()
        .map(|e| value(&e.properties, "STATUS"))
        .collect();
    assert_eq!(statuses, ["CONFIRMED", "CANCELLED", "CONFIRMED"]);
    assert_eq!(value(&cal.events[1].properties, "SEQUENCE"), "4");
    assert_eq!(
        value(&cal.events[1].properties, "DTSTART"),
        "20261201T140000Z"
    );
    assert!(props(&cal.events[2].properties, "LOCATION").is_empty());
    for e in &cal.events {
        // RFC 5546 3.2.1: ORGANIZER required, ATTENDEE MUST NOT be present.
        assert_eq!(props(&e.properties, "ORGANIZER").len(), 1);
        assert!(props(&e.properties, "ATTENDEE").is_empty());
    }
}

#[test]
fn empty_feed_is_a_valid_calendar() {
    let ics = render_feed("Empty", &[]);
    assert_wire_format(&ics);
    let cal = parse(&ics);
    assert_eq!(value(&cal.properties, "METHOD"), "PUBLISH");
    assert_eq!(value(&cal.properties, "X-WR-CALNAME"), "Empty");
    assert!(cal.events.is_empty());
}

#[path = "tests_text.rs"]
mod text;
