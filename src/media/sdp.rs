//! Pure edits and reads of SDP text: announcing a public address in host candidates, and
//! mapping `a=mid` to `a=msid` (which track an m-section carries).

use std::net::IpAddr;

/// Replaces the address of every host candidate with `public` (a 1:1 NAT: same port).
/// Other lines are unchanged; line endings are preserved.
pub fn announce(sdp: &str, public: IpAddr) -> String {
    let mut out = String::with_capacity(sdp.len() + 64);
    for line in sdp.split_inclusive('\n') {
        let (body, eol) = split_eol(line);
        match body.strip_prefix("a=candidate:") {
            Some(rest) if rest.contains(" typ host") => {
                let mut fields: Vec<&str> = rest.split(' ').collect();
                // foundation component transport priority address port "typ" type …
                let addr = public.to_string();
                if fields.len() > 5 && fields[4].parse::<IpAddr>().is_ok() {
                    fields[4] = &addr;
                    out.push_str("a=candidate:");
                    out.push_str(&fields.join(" "));
                    out.push_str(eol);
                    continue;
                }
                out.push_str(line);
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn split_eol(line: &str) -> (&str, &str) {
    if let Some(b) = line.strip_suffix("\r\n") {
        (b, "\r\n")
    } else if let Some(b) = line.strip_suffix('\n') {
        (b, "\n")
    } else {
        (line, "")
    }
}

/// For each m-section: its `mid` and the track id of its `a=msid` (if any).
pub fn msids_by_mid(sdp: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(Option<String>, Option<String>)> = Vec::new();
    for line in sdp.lines() {
        if line.starts_with("m=") {
            out.push((None, None));
        } else if let Some(cur) = out.last_mut() {
            if let Some(mid) = line.strip_prefix("a=mid:") {
                cur.0 = Some(mid.trim().to_string());
            } else if let Some(msid) = line.strip_prefix("a=msid:") {
                cur.1 = msid.split_whitespace().nth(1).map(str::to_string);
            }
        }
    }
    out.into_iter()
        .filter_map(|(mid, track)| mid.map(|m| (m, track)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
a=msid:s1 t7\r\na=candidate:1 1 udp 2130706431 192.168.1.5 40001 typ host\r\n\
a=candidate:2 1 udp 1694498815 198.51.100.1 40001 typ srflx raddr 192.168.1.5 rport 40001\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=msid:s1 t8\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n";

    #[test]
    fn host_candidates_announce_the_public_address_and_nothing_else_changes() {
        let out = announce(SDP, "203.0.113.7".parse().unwrap());
        assert!(out.contains("a=candidate:1 1 udp 2130706431 203.0.113.7 40001 typ host\r\n"));
        assert!(
            out.contains("198.51.100.1 40001 typ srflx raddr 192.168.1.5"),
            "non-host untouched"
        );
        assert_eq!(out.lines().count(), SDP.lines().count());
        assert_eq!(
            announce("garbage\nmore", "203.0.113.7".parse().unwrap()),
            "garbage\nmore"
        );
    }

    #[test]
    fn mids_map_to_msid_track_ids() {
        assert_eq!(
            msids_by_mid(SDP),
            vec![
                ("0".into(), Some("t7".into())),
                ("1".into(), Some("t8".into())),
                ("2".into(), None)
            ]
        );
        assert!(msids_by_mid("not sdp at all").is_empty());
    }
}
