//! What a connection's statistics say about its health, reduced to the few numbers the SFU
//! uses: packets received and lost, the loss the remote side reports, the round-trip time,
//! and the kind of candidate the selected path uses (`host`, `srflx`, `prflx`, `relay`).

use super::peer::Peer;
use rtc::statistics::StatsSelector;
use rtc::statistics::report::RTCStatsReportEntry;
use std::time::Instant;

/// A summary of one connection's statistics (counters are cumulative).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkStats {
    /// RTP packets received on all inbound streams.
    pub packets_received: u64,
    /// Inbound packets lost (RFC 3550 cumulative count).
    pub packets_lost: i64,
    /// Worst `fraction_lost` (0..1) the remote side reported for what we send.
    pub remote_fraction_lost: Option<f64>,
    /// Round-trip time in milliseconds (selected candidate pair, else RTCP).
    pub rtt_ms: Option<f64>,
    /// Candidate type of the selected pair's local candidate.
    pub local_candidate_type: Option<String>,
}

impl Peer {
    /// Reads the connection's statistics now.
    pub async fn link_stats(&self) -> LinkStats {
        let report = self
            .pc()
            .get_stats(Instant::now(), StatsSelector::None)
            .await;
        let mut s = LinkStats::default();
        let selected_pair = report
            .transport()
            .map(|t| t.selected_candidate_pair_id.clone())
            .filter(|id| !id.is_empty());
        let mut selected_local = None;
        let mut rtcp_rtt: Option<f64> = None;
        for e in report.iter() {
            match e {
                RTCStatsReportEntry::InboundRtp(i) => {
                    s.packets_received += i.received_rtp_stream_stats.packets_received;
                    s.packets_lost += i.received_rtp_stream_stats.packets_lost;
                }
                RTCStatsReportEntry::RemoteInboundRtp(r) => {
                    let f = r.fraction_lost;
                    s.remote_fraction_lost = Some(s.remote_fraction_lost.map_or(f, |m| m.max(f)));
                    if r.round_trip_time_measurements > 0 {
                        let ms = r.round_trip_time * 1000.0;
                        rtcp_rtt = Some(rtcp_rtt.map_or(ms, |m| m.max(ms)));
                    }
                }
                RTCStatsReportEntry::IceCandidatePair(p)
                    if selected_pair.as_deref() == Some(p.stats.id.as_str())
                        || (selected_pair.is_none() && p.nominated) =>
                {
                    if p.current_round_trip_time > 0.0 {
                        s.rtt_ms = Some(p.current_round_trip_time * 1000.0);
                    }
                    selected_local = Some(p.local_candidate_id.clone());
                }
                _ => {}
            }
        }
        s.rtt_ms = s.rtt_ms.or(rtcp_rtt);
        if let Some(id) = selected_local {
            s.local_candidate_type = report.iter().find_map(|e| match e {
                RTCStatsReportEntry::LocalCandidate(c) if c.stats.id.ends_with(id.as_str()) => {
                    Some(c.candidate_type.to_string())
                }
                _ => None,
            });
        }
        s
    }
}
