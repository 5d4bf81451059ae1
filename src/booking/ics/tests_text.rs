//! Line folding at 75 octets and RFC 5545 text escaping, on the helpers of the parent tests.

use super::*;

// ---- folding -----------------------------------------------------------

#[test]
fn long_multibyte_description_folds_at_75_octets_and_round_trips() {
    let mut ev = sample_event();
    ev.description = format!(
        "{}fin 🏁",
        "Séance de coaching 🧭 — réflexion, « objectifs » et plan d'action.\n\
         Ünïcödé ✓ 日本語のテキスト 🎉🎉🎉 naïve café crème brûlée. "
            .repeat(6)
    );
    ev.summary = "🎯".repeat(40); // 160 octets, nothing but 4-octet chars
    let ics = render_request(&ev);
    assert_wire_format(&ics);
    assert!(ics.contains("\r\n "), "expected at least one folded line");

    let cal = parse(&ics);
    let e = only_event(&cal);
    assert_eq!(
        unescape_text(value(&e.properties, "DESCRIPTION")),
        ev.description
    );
    assert_eq!(value(&e.properties, "SUMMARY"), ev.summary);
}

#[test]
fn folding_never_splits_a_character_at_any_alignment() {
    // Shifts a run of 2-, 3- and 4-octet characters across the fold
    // boundary one octet at a time.
    for pad in 0..8 {
        let mut ev = sample_event();
        ev.summary = format!("{}{}", "x".repeat(pad), "é€🧭".repeat(30));
        let ics = render_request(&ev);
        assert_wire_format(&ics);
        let cal = parse(&ics);
        assert_eq!(value(&only_event(&cal).properties, "SUMMARY"), ev.summary);
    }
}

#[test]
fn fold_keeps_spaces_that_fall_on_the_boundary() {
    // Puts a run of spaces right where a fold would go, for every offset.
    for pad in 60..80 {
        let mut ev = sample_event();
        ev.description = format!("{}   tail words here {}", "a".repeat(pad), "b".repeat(90));
        let ics = render_request(&ev);
        assert_wire_format(&ics);
        for physical in ics.split("\r\n") {
            assert!(!physical.ends_with(' '), "physical line ends in space");
        }
        let cal = parse(&ics);
        assert_eq!(
            value(&only_event(&cal).properties, "DESCRIPTION"),
            ev.description
        );
    }
}

#[test]
fn push_folded_limits_and_unfolds_exactly() {
    let logical = format!("DESCRIPTION:{}", "ab🧭ç ".repeat(50));
    let mut out = String::new();
    push_folded(&mut out, &logical);
    assert_wire_format(&out);
    assert_eq!(unfold(&out), format!("{logical}\r\n"));

    let short = "SUMMARY:hi";
    let mut out = String::new();
    push_folded(&mut out, short);
    assert_eq!(out, "SUMMARY:hi\r\n");

    let exact = format!("X:{}", "a".repeat(73)); // exactly 75 octets
    let mut out = String::new();
    push_folded(&mut out, &exact);
    assert_eq!(out, format!("{exact}\r\n"));
}

// ---- escaping ----------------------------------------------------------

#[test]
fn text_escaping_round_trips_through_parser() {
    let tricky = "a\\b; c, d\nline two \\n literal; end,\\";
    let mut ev = sample_event();
    ev.summary = tricky.to_string();
    ev.description = format!("{tricky}\n{tricky}");
    ev.location = Some("Room 4; floor 2, \"Blue\" wing".to_string());
    ev.uid = "odd,uid;x@parlor".to_string();
    let ics = render_request(&ev);
    assert_wire_format(&ics);
    assert!(ics.contains("SUMMARY:a\\\\b\\; c\\, d\\nline two \\\\n literal\\; end\\,\\\\\r\n"));

    let cal = parse(&ics);
    let e = only_event(&cal);
    assert_eq!(unescape_text(value(&e.properties, "SUMMARY")), ev.summary);
    assert_eq!(
        unescape_text(value(&e.properties, "DESCRIPTION")),
        ev.description
    );
    assert_eq!(
        unescape_text(value(&e.properties, "LOCATION")),
        ev.location.clone().unwrap()
    );
    assert_eq!(unescape_text(value(&e.properties, "UID")), ev.uid);
}

#[test]
fn text_line_breaks_normalise_and_control_chars_are_stripped() {
    let mut ev = sample_event();
    ev.description = "one\r\ntwo\rthree\nfour\u{7}\u{0}\u{1b}[31m\u{7f}five\tsix".to_string();
    let cal = parse(&render_request(&ev));
    assert_eq!(
        unescape_text(value(&only_event(&cal).properties, "DESCRIPTION")),
        "one\ntwo\nthree\nfour[31mfive\tsix"
    );
}

#[test]
fn url_is_not_escaped_but_loses_control_chars() {
    let mut ev = sample_event();
    ev.url = Some("https://x.example/a,b;c?q=1\r\nATTENDEE:mailto:x@evil".to_string());
    let ics = render_request(&ev);
    let cal = parse(&ics);
    let e = only_event(&cal);
    assert_eq!(
        value(&e.properties, "URL"),
        "https://x.example/a,b;c?q=1ATTENDEE:mailto:x@evil"
    );
    assert_eq!(props(&e.properties, "ATTENDEE").len(), 2);
}

#[test]
fn cn_with_special_chars_is_quoted_and_dquotes_removed() {
    let mut ev = sample_event();
    ev.organizer.name = "Smith, \"Jo\"; Dr: PhD".to_string();
    ev.attendees[0].person.name = "Plain O'Name".to_string();
    ev.attendees[1].person.name = "\"\"".to_string(); // nothing left
    let ics = render_request(&ev);
    assert!(ics.contains("ORGANIZER;CN=\"Smith, Jo; Dr: PhD\":mailto:carla@example.com\r\n"));
    let cal = parse(&ics);
    let e = only_event(&cal);
    let org = props(&e.properties, "ORGANIZER")[0];
    assert_eq!(param(org, "CN"), Some("Smith, Jo; Dr: PhD"));
    assert_eq!(org.value.as_deref(), Some("mailto:carla@example.com"));
    let att = props(&e.properties, "ATTENDEE");
    assert_eq!(param(att[0], "CN"), Some("Plain O'Name"));
    assert_eq!(param(att[1], "CN"), None);
    assert_eq!(param(att[1], "PARTSTAT"), Some("ACCEPTED"));
}

#[test]
fn existing_mailto_prefix_is_not_doubled() {
    let mut ev = sample_event();
    ev.organizer.email = "MAILTO:carla@example.com".to_string();
    let cal = parse(&render_request(&ev));
    let org = props(&only_event(&cal).properties, "ORGANIZER")[0];
    assert_eq!(org.value.as_deref(), Some("mailto:carla@example.com"));
}

// ---- injection ---------------------------------------------------------

#[test]
fn crlf_in_names_and_emails_cannot_inject_properties() {
    let evil = "Eve\r\nATTENDEE:mailto:x@evil";
    let mut ev = sample_event();
    ev.organizer.name = evil.to_string();
    ev.attendees[0].person.name = evil.to_string();
    ev.attendees[1].person.email = "y@example.com\r\nATTENDEE:mailto:x@evil".to_string();
    ev.summary = format!("Hi\r\nATTENDEE:mailto:x@evil\nMETHOD:PUBLISH\r{evil}");
    ev.location = Some(evil.to_string());

    for ics in [
        render_request(&ev),
        render_cancel(&ev),
        render_feed(evil, std::slice::from_ref(&ev)),
    ] {
        assert_wire_format(&ics);
        // No unfolded line may begin a forged property.
        let unfolded = unfold(&ics);
        let lines: Vec<&str> = unfolded.split("\r\n").collect();
        assert!(!lines.iter().any(|l| l.starts_with("ATTENDEE:")));
        assert_eq!(lines.iter().filter(|l| l.starts_with("METHOD:")).count(), 1);
        let cal = parse(&ics);
        assert_eq!(props(&cal.properties, "METHOD").len(), 1);
        let e = only_event(&cal);
        let expected = if value(&cal.properties, "METHOD") == "PUBLISH" {
            0
        } else {
            2
        };
        assert_eq!(props(&e.properties, "ATTENDEE").len(), expected);
        assert_eq!(props(&e.properties, "ORGANIZER").len(), 1);
        assert_eq!(props(&e.properties, "SUMMARY").len(), 1);
    }

    let cal = parse(&render_request(&ev));
    let e = only_event(&cal);
    let att = props(&e.properties, "ATTENDEE");
    assert_eq!(param(att[0], "CN"), Some("Eve ATTENDEE:mailto:x@evil"));
    assert_eq!(att[0].value.as_deref(), Some("mailto:dan@example.com"));
    assert_eq!(
        att[1].value.as_deref(),
        Some("mailto:y@example.comATTENDEE:mailto:x@evil")
    );
    assert_eq!(
        unescape_text(value(&e.properties, "SUMMARY")),
        "Hi\nATTENDEE:mailto:x@evil\nMETHOD:PUBLISH\nEve\nATTENDEE:mailto:x@evil"
    );
}
