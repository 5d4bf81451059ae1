//! Pure edits and reads of SDP text: announcing a public address in host candidates, mapping
//! `a=mid` to `a=msid` (which track an m-section carries), and Opus format parameters (adding
//! receiver hints such as `maxplaybackrate`, reading the far end's).

use std::net::IpAddr;

/// Replaces the address of every host candidate with `public` (a 1:1 NAT: same port).
/// Other lines are unchanged; line endings are preserved.
///
/// Done on the SDP text because rtc 0.21's `SettingEngineBuilder::with_nat_1to1_ips` only
/// stores the addresses: nothing in rtc, rtc-ice or webrtc 0.21 reads them when gathering
/// candidates (checked in their sources), so a host candidate would still carry the private
/// address.
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

/// `sdp` (a description this side sends) with `params` added to the Opus `a=fmtp` line,
/// those it already has left as they are; without such a line, one is added after Opus's
/// `a=rtpmap`. webrtc-rs answers with the offerer's own format parameters, so receiver hints
/// (RFC 7587 `maxplaybackrate`) go into the text sent.
pub fn add_opus_params(sdp: &str, params: &[(&str, u32)]) -> String {
    let Some(pt) = opus_payload_type(sdp).filter(|_| !params.is_empty()) else {
        return sdp.to_owned();
    };
    let fmtp = format!("a=fmtp:{pt} ");
    let rtpmap = format!("a=rtpmap:{pt} ");
    let has_fmtp = sdp.lines().any(|l| l.starts_with(&fmtp));
    let mut out = String::with_capacity(sdp.len() + 64);
    for line in sdp.split_inclusive('\n') {
        let (body, eol) = split_eol(line);
        if let Some(existing) = body.strip_prefix(&fmtp) {
            out.push_str(body);
            for (k, v) in params {
                if !existing
                    .split(';')
                    .any(|kv| kv.trim().starts_with(&format!("{k}=")))
                {
                    out.push_str(&format!(";{k}={v}"));
                }
            }
            out.push_str(eol);
        } else {
            out.push_str(line);
            if !has_fmtp && body.starts_with(&rtpmap) {
                let all: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("{fmtp}{}{eol}", all.join(";")));
            }
        }
    }
    out
}

/// The `maxplaybackrate` the far end gave for Opus in `sdp` (RFC 7587), if any: an encoder
/// sending to it need not code a wider band than that rate holds.
pub fn opus_max_playback_rate(sdp: &str) -> Option<u32> {
    let prefix = format!("a=fmtp:{} ", opus_payload_type(sdp)?);
    let fmtp = sdp.lines().find_map(|l| l.trim().strip_prefix(&prefix))?;
    fmtp.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        k.eq_ignore_ascii_case("maxplaybackrate")
            .then(|| v.trim().parse().ok())
            .flatten()
    })
}

/// The payload type `sdp` maps to Opus.
fn opus_payload_type(sdp: &str) -> Option<&str> {
    sdp.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("a=rtpmap:")?;
        let (pt, codec) = rest.split_once(' ')?;
        codec
            .to_ascii_lowercase()
            .starts_with("opus/")
            .then_some(pt)
    })
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

    const ANSWER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
                          a=fmtp:111 minptime=10; useinbandfec=1;maxplaybackrate=16000\r\n\
                          m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n\
                          a=fmtp:96 maxplaybackrate=8000\r\n";
    const VOICE: &[(&str, u32)] = &[
        ("maxplaybackrate", 16_000),
        ("sprop-maxcapturerate", 16_000),
    ];

    #[test]
    fn the_opus_max_playback_rate_is_read_from_opus_own_fmtp_line() {
        assert_eq!(opus_max_playback_rate(ANSWER), Some(16_000));
        let without = ANSWER.replace(";maxplaybackrate=16000", "");
        assert_eq!(opus_max_playback_rate(&without), None, "not VP8's line");
        assert_eq!(opus_max_playback_rate("v=0\r\n"), None);
    }

    #[test]
    fn opus_params_are_added_once_to_opus_own_line() {
        let plain = ANSWER.replace(";maxplaybackrate=16000", "");
        let voice = add_opus_params(&plain, VOICE);
        assert_eq!(opus_max_playback_rate(&voice), Some(16_000));
        assert!(
            voice.contains("a=fmtp:111 minptime=10; useinbandfec=1;maxplaybackrate=16000;sprop-maxcapturerate=16000\r\n"),
            "{voice}"
        );
        assert!(
            voice.contains("a=fmtp:96 maxplaybackrate=8000\r\n"),
            "VP8 untouched"
        );
        assert_eq!(voice.len(), plain.len() + 49);
        // Already there: not repeated. Nothing to add: unchanged.
        assert_eq!(add_opus_params(&voice, VOICE), voice);
        assert_eq!(add_opus_params(&plain, &[]), plain);
        // No fmtp line for Opus: one is added after its rtpmap.
        let bare = "m=audio 9 RTP/SAVPF 111\na=rtpmap:111 opus/48000/2\na=sendrecv\n";
        assert_eq!(
            add_opus_params(bare, VOICE),
            "m=audio 9 RTP/SAVPF 111\na=rtpmap:111 opus/48000/2\n\
             a=fmtp:111 maxplaybackrate=16000;sprop-maxcapturerate=16000\na=sendrecv\n"
        );
    }
}
