//! Join/leave churn with media against the real `parlor` binary: does anything stay behind
//! when participants come and go? One listener stays in the room for the whole run; each
//! cycle a new participant joins, publishes a microphone and a camera, sends until the
//! listener has received a packet of both tracks through the SFU (so publication, forwarding
//! and the listener's renegotiation all ran), and leaves (its peer connections closed on both
//! sides). After the cycles the listener leaves too.
//!
//! Reported: the server's RSS and open file descriptors after 100 cycles (the baseline:
//! allocator pools and caches are warm by then) and every 100 cycles after, the change from
//! the baseline to the end, the server's gauges (rooms, participants, tracks, media tasks)
//! once everyone has left, and the time per cycle. webrtc-rs has an open report of a peer
//! connection kept alive by a reference cycle after `add_track` + close
//! (webrtc-rs/webrtc#906); a leak of that kind shows here as RSS and descriptors that grow
//! with the cycles. Targets: RSS at the end within 10 % of the baseline, every gauge 0.
//!
//! `cargo bench --bench churn`; `BENCH_CYCLES` (default 1000). Prints a table and writes
//! `target/bench-results/churn.json`.

mod support;

use bytes::Bytes;
use parlor::auth::join_token::{self, RoomRole};
use parlor::client::signal::{Client, ClientEvent};
use parlor::media::engine::PeerFactory;
use parlor::media::track::{LocalTrack, TrackKind};
use parlor::sfu::TrackSource;
use serde_json::json;
use std::time::{Duration, Instant};
use support::Server;

fn token(room: &str, who: &str) -> String {
    join_token::mint(
        support::SIGNING_SECRET.as_bytes(),
        room,
        who,
        who,
        RoomRole::Guest,
        chrono::Utc::now().timestamp(),
        3600,
    )
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Sends one audio and one video packet (a VP8 keyframe start) on each track every 20 ms
/// until `stop` is set. A receiving track appears at the far end with its first packet, so
/// media flows before anyone waits for tracks.
fn spawn_sender(
    tracks: Vec<LocalTrack>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seq: u16 = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for t in &tracks {
                let payload = match t.kind() {
                    TrackKind::Audio => Bytes::from_static(&[0xAB; 40]),
                    TrackKind::Video => {
                        Bytes::from_static(&[0x10, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0])
                    }
                };
                let _ = t.write(seq, u32::from(seq) * 960, true, payload).await;
            }
            seq = seq.wrapping_add(1);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cycles: usize = std::env::var("BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let server = Server::start(&[
        ("PARLOR_RTC__UDP_PORTS", "40000-40999".to_string()),
        ("PARLOR_ROOMS__MAX_PARTICIPANTS", "50".to_string()),
    ]);
    let ws = server.base.replace("http://", "ws://") + "/rtc";
    let transport = PeerFactory::new("127.0.0.1".parse().unwrap(), (50_000, 51_999));
    let mut listener = Client::join(&ws, &token("churn", "listener"), &transport)
        .await
        .expect("the listener joins");
    let idle_rss = server.rss_kib();
    let pid = server.pid();
    let started = Instant::now();
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let mut baseline = None;
    for cycle in 1..=cycles {
        let who = format!("p{cycle}");
        let mut c = Client::join(&ws, &token("churn", &who), &transport)
            .await
            .unwrap_or_else(|e| panic!("cycle {cycle}: join: {e}"));
        let ssrc = 0x1000_0000 + 2 * cycle as u32;
        let tracks: Vec<LocalTrack> = c
            .publish(&[
                (TrackKind::Audio, TrackSource::Microphone, ssrc),
                (TrackKind::Video, TrackSource::Camera, ssrc + 1),
            ])
            .await
            .unwrap_or_else(|e| panic!("cycle {cycle}: publish: {e}"))
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sender = spawn_sender(tracks, stop.clone());
        // The listener's two new tracks, then one packet on each.
        let mut remotes = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while remotes.len() < 2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match listener
                .wait_for(left, |e| matches!(e, ClientEvent::Track { .. }))
                .await
            {
                Some(ClientEvent::Track { remote, .. }) => remotes.push(remote),
                _ => panic!(
                    "cycle {cycle}: the listener got {} of 2 tracks",
                    remotes.len()
                ),
            }
        }
        for r in &remotes {
            let got = tokio::time::timeout(Duration::from_secs(5), r.next_packet()).await;
            assert!(
                got.is_ok_and(|p| p.is_some()),
                "cycle {cycle}: media reached the listener"
            );
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = sender.await;
        drop(remotes);
        c.close().await;
        if cycle % 100 == 0 {
            // Let the server finish this participant's teardown before reading.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (rss, fds) = (server.rss_kib(), open_fds(pid));
            if cycle == 100 {
                baseline = Some((rss, fds));
            }
            let per = started.elapsed().as_secs_f64() * 1000.0 / cycle as f64;
            println!("cycle {cycle:>5}  RSS {rss:>7} KiB  fds {fds:>4}  {per:>6.1} ms/cycle");
            rows.push(json!({"cycle": cycle, "rss_kib": rss, "fds": fds}));
        }
    }
    listener.close().await;
    // Gauges at zero within 10 s of the last leave.
    let names = [
        "parlor_rooms",
        "parlor_participants",
        "parlor_tracks",
        "parlor_media_tasks",
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let gauges = loop {
        let text = support::scrape(&server.base);
        let g: Vec<(&str, f64)> = names
            .iter()
            .map(|n| (*n, support::metric(&text, n)))
            .collect();
        if g.iter().all(|(_, v)| *v == 0.0) || Instant::now() > deadline {
            break g;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (end_rss, end_fds) = (server.rss_kib(), open_fds(pid));
    let (base_rss, base_fds) = baseline.unwrap_or((idle_rss, 0));
    let growth = (end_rss as f64 - base_rss as f64) / base_rss as f64 * 100.0;
    println!();
    println!("| what | value |");
    println!("|---|---|");
    println!("| cycles (join, publish A+V, media forwarded, leave) | {cycles} |");
    println!("| RSS idle (listener only) | {idle_rss} KiB |");
    println!("| RSS after 100 cycles (baseline) | {base_rss} KiB |");
    println!("| RSS after the last cycle, everyone gone | {end_rss} KiB ({growth:+.1} %) |");
    println!("| open fds after 100 cycles / at the end | {base_fds} / {end_fds} |");
    for (n, v) in &gauges {
        println!("| {n} at the end | {v} |");
    }
    println!(
        "| time per cycle | {:.1} ms |",
        started.elapsed().as_secs_f64() * 1000.0 / cycles as f64
    );
    let report = json!({
        "cycles": cycles,
        "rss_idle_kib": idle_rss,
        "rss_baseline_kib": base_rss,
        "rss_end_kib": end_rss,
        "rss_growth_percent": growth,
        "fds_baseline": base_fds,
        "fds_end": end_fds,
        "gauges_end": gauges.iter().map(|(n, v)| (n.to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "samples": rows,
    });
    let path = support::write_report("churn", &report);
    println!("\nwrote {}", path.display());
    let ok = growth <= 10.0 && gauges.iter().all(|(_, v)| *v == 0.0);
    println!(
        "targets (RSS within 10 % of the baseline, every gauge 0): {}",
        if ok { "met" } else { "NOT met" }
    );
}
