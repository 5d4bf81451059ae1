//! Forwarding benchmark of the SFU: real webrtc-rs publishers and subscribers (parlor's own
//! client) against the real `parlor` binary, started as a child process.
//!
//! Phases: one publisher sending video-sized RTP (1,000-byte payloads, `BENCH_PPS` packets/s,
//! in 20 ms bursts like video frames, plus 50 audio packets/s) to N subscribers in one room,
//! for N = 1, 3 and 7, then several such rooms at once. For each phase it reports:
//! - forwarded packets/s (server counter) and the server's CPU time over the window (from
//!   /proc), hence **forwarded packets/s per core** = packets ÷ CPU-seconds the server used;
//! - the **added forwarding latency** measured inside the server, from a packet's arrival from
//!   the publisher's connection to its hand-over to the subscriber's connection (histogram
//!   `parlor_forward_latency_seconds`; quantiles read as bucket upper bounds, so conservative);
//! - the client-observed one-way latency (publisher send → subscriber receive, both in this
//!   process: it adds two webrtc-rs stacks, SRTP and loopback UDP to the server's part);
//! - packets the server dropped for full subscriber queues, and packets lost at subscribers.
//!
//! Before the throughput phases it measures **RSS per participant**: the server's RSS idle,
//! with 4 and with 8 participants in one room, each publishing audio and video at a realistic
//! rate (50 + 100 packets/s) to all the others; reported over idle and as the marginal cost
//! from 4 to 8 (which leaves out one-time costs such as the first connection's allocations).
//!
//! `cargo bench --bench sfu_forward`; knobs `BENCH_SECS` (window per phase, default 8),
//! `BENCH_PPS` (video packets/s per publisher, default 1000), `BENCH_ROOMS` (rooms in the
//! last phase, default 3), `BENCH_NACK_HISTORY` (the server's `rtc.nack_history`),
//! `BENCH_RSS_ONLY` (skip the throughput phases), `BENCH_SOCKET_BUFFER` (media socket buffers,
//! both ends; 106496 is the kernel default), `BENCH_KEYFRAME_PACKETS` (extra packets sent at
//! once with each keyframe, once a second). "kern.drop" counts datagrams the kernel dropped
//! for a full socket receive buffer during the phase. Prints a table and writes `target/bench-results/sfu_forward.json`.
//! On a 2-core machine the clients share the CPU with the server; per-core figures use the
//! server's own CPU time, so they are not inflated by the clients' share.

mod support;

use bytes::Bytes;
use parlor::auth::join_token::{self, RoomRole};
use parlor::client::signal::{Client, ClientEvent};
use parlor::media::engine::PeerFactory;
use parlor::media::sockets::BufferSizes;
use parlor::media::track::{LocalTrack, RemoteTrack, TrackKind};
use parlor::sfu::TrackSource;
use serde_json::json;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use support::Server;

const PAYLOAD: usize = 1000;
static EPOCH: OnceLock<Instant> = OnceLock::new();
static NEXT_SSRC: AtomicU32 = AtomicU32::new(0x4000_0000);

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Bench {
    server: Server,
    ws: String,
    transport: PeerFactory,
}

impl Bench {
    async fn join(&self, room: &str, identity: &str) -> Client {
        let now = chrono::Utc::now().timestamp();
        let token = join_token::mint(
            support::SIGNING_SECRET.as_bytes(),
            room,
            identity,
            identity,
            RoomRole::Guest,
            now,
            3600,
        );
        Client::join(&self.ws, &token, &self.transport)
            .await
            .unwrap_or_else(|e| panic!("{identity} joins {room}: {e}"))
    }
}

/// Publishes audio + video; returns the local tracks.
async fn publish(c: &mut Client) -> Vec<LocalTrack> {
    let a = NEXT_SSRC.fetch_add(2, Ordering::Relaxed);
    c.publish(&[
        (TrackKind::Audio, TrackSource::Microphone, a),
        (TrackKind::Video, TrackSource::Camera, a + 1),
    ])
    .await
    .expect("publish")
    .into_iter()
    .map(|(t, _)| t)
    .collect()
}

/// Extra video packets sent at once with each keyframe (`BENCH_KEYFRAME_PACKETS`, default 0).
fn keyframe_extra() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| env_u64("BENCH_KEYFRAME_PACKETS", 0) as usize)
}

/// Sends `video_pps` video packets/s in 20 ms bursts and 50 audio packets/s until `stop`.
/// Each payload carries its send time (ns since the benchmark's epoch) after the VP8
/// descriptor; the first packet of every 50th burst starts a keyframe.
fn spawn_sender(tracks: Vec<LocalTrack>, video_pps: u64, stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let per_burst = (video_pps / 50).max(1) as usize;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (mut vseq, mut aseq, mut burst) = (0u16, 0u16, 0u32);
        let mut buf = vec![0u8; PAYLOAD];
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            for t in &tracks {
                let n = if t.kind() == TrackKind::Video {
                    // A keyframe: its extra packets leave at once, as an encoder's do.
                    per_burst
                        + if burst.is_multiple_of(50) {
                            keyframe_extra()
                        } else {
                            0
                        }
                } else {
                    1
                };
                for i in 0..n {
                    let sent = epoch().elapsed().as_nanos() as u64;
                    buf[0] = 0x10;
                    buf[1] = if i == 0 && burst.is_multiple_of(50) {
                        0x00
                    } else {
                        0x01
                    };
                    buf[2..10].copy_from_slice(&sent.to_le_bytes());
                    let (seq, ts, len) = if t.kind() == TrackKind::Video {
                        vseq = vseq.wrapping_add(1);
                        (vseq, burst.wrapping_mul(1800), PAYLOAD)
                    } else {
                        aseq = aseq.wrapping_add(1);
                        (aseq, burst.wrapping_mul(960), 80)
                    };
                    let payload = Bytes::copy_from_slice(&buf[..len]);
                    let _ = t.write(seq, ts, i + 1 == n, payload).await;
                }
            }
            burst += 1;
        }
    });
}

/// What one subscriber saw of one track during the measurement window.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u32>,
    received: u64,
    gaps: u64,
}

/// Reads a remote track; records latency and loss while `measuring`.
fn spawn_reader(
    remote: RemoteTrack,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Seen> {
    tokio::spawn(async move {
        let mut seen = Seen::default();
        let mut last: Option<u16> = None;
        while !stop.load(Ordering::Relaxed) {
            let Ok(Some(p)) =
                tokio::time::timeout(Duration::from_millis(200), remote.next_packet()).await
            else {
                continue;
            };
            if !measuring.load(Ordering::Relaxed) {
                last = Some(p.sequence);
                continue;
            }
            if let Some(l) = last {
                let step = p.sequence.wrapping_sub(l);
                if (2..1000).contains(&step) {
                    seen.gaps += u64::from(step - 1);
                }
            }
            last = Some(p.sequence);
            seen.received += 1;
            if p.payload.len() >= 10 {
                let sent = u64::from_le_bytes(p.payload[2..10].try_into().unwrap());
                let now = epoch().elapsed().as_nanos() as u64;
                seen.latencies_us
                    .push((now.saturating_sub(sent) / 1000) as u32);
            }
        }
        seen
    })
}

/// Waits until `c` has `n` incoming tracks.
async fn incoming(c: &mut Client, n: usize) -> Vec<RemoteTrack> {
    let mut out = Vec::new();
    while out.len() < n {
        match c
            .wait_for(Duration::from_secs(20), |e| {
                matches!(e, ClientEvent::Track { .. })
            })
            .await
        {
            Some(ClientEvent::Track { remote, .. }) => out.push(remote),
            _ => panic!("expected {n} incoming tracks, got {}", out.len()),
        }
    }
    out
}

struct Room {
    clients: Vec<Client>,
    readers: Vec<tokio::task::JoinHandle<Seen>>,
}

/// One room: a publisher and `subs` subscribers, media flowing.
async fn room(
    b: &Bench,
    name: &str,
    subs: usize,
    pps: u64,
    measuring: &Arc<AtomicBool>,
    stop: &Arc<AtomicBool>,
) -> Room {
    let mut publisher = b.join(name, &format!("{name}-pub")).await;
    let tracks = publish(&mut publisher).await;
    spawn_sender(tracks, pps, stop.clone());
    let mut clients = vec![publisher];
    let mut readers = Vec::new();
    for i in 0..subs {
        let mut c = b.join(name, &format!("{name}-sub{i}")).await;
        for remote in incoming(&mut c, 2).await {
            readers.push(spawn_reader(remote, measuring.clone(), stop.clone()));
        }
        clients.push(c);
    }
    Room { clients, readers }
}

#[derive(serde::Serialize)]
struct Phase {
    name: String,
    rooms: usize,
    subscribers: usize,
    video_pps_per_publisher: u64,
    forwarded_per_s: f64,
    server_cpu_cores: f64,
    forwarded_per_core_s: f64,
    server_added_p50_us: f64,
    server_added_p99_us: f64,
    client_one_way_p50_ms: f64,
    client_one_way_p99_ms: f64,
    dropped_by_server: f64,
    lost_at_subscribers: u64,
    received_at_subscribers: u64,
    /// Datagrams the kernel dropped for a full socket receive buffer (all sockets).
    kernel_rcvbuf_drops: u64,
    server_rss_mb: f64,
}

async fn phase(b: &Bench, name: &str, rooms: usize, subs: usize, pps: u64, secs: u64) -> Phase {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut all = Vec::new();
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    for r in 0..rooms {
        all.push(room(b, &format!("{slug}-r{r}"), subs, pps, &measuring, &stop).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = support::scrape(&b.server.base);
    let cpu0 = b.server.cpu_secs();
    let drops0 = support::udp_rcvbuf_errors();
    let t0 = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    measuring.store(false, Ordering::Relaxed);
    let wall = t0.elapsed().as_secs_f64();
    let cpu = b.server.cpu_secs() - cpu0;
    let kernel_drops = support::udp_rcvbuf_errors() - drops0;
    let after = support::scrape(&b.server.base);
    let rss = b.server.rss_kib();
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let (mut received, mut lost) = (0, 0);
    for r in &mut all {
        for h in r.readers.drain(..) {
            let s = h.await.unwrap();
            lat.extend(s.latencies_us);
            received += s.received;
            lost += s.gaps;
        }
    }
    for r in all {
        for c in r.clients {
            c.close().await;
        }
    }
    lat.sort_unstable();
    let fwd = "parlor_forwarded_packets_total";
    let forwarded = support::metric(&after, fwd) - support::metric(&before, fwd);
    let drop_name = "parlor_forward_dropped_packets_total";
    let hist = "parlor_forward_latency_seconds";
    let (hb, ha) = (
        support::buckets(&before, hist),
        support::buckets(&after, hist),
    );
    let forwarded_per_s = forwarded / wall;
    let cores = cpu / wall;
    Phase {
        name: name.into(),
        rooms,
        subscribers: rooms * subs,
        video_pps_per_publisher: pps,
        forwarded_per_s,
        server_cpu_cores: cores,
        forwarded_per_core_s: if cpu > 0.0 { forwarded / cpu } else { 0.0 },
        server_added_p50_us: support::histogram_quantile(&hb, &ha, 0.50) * 1e6,
        server_added_p99_us: support::histogram_quantile(&hb, &ha, 0.99) * 1e6,
        client_one_way_p50_ms: support::percentile(&lat, 0.50) / 1000.0,
        client_one_way_p99_ms: support::percentile(&lat, 0.99) / 1000.0,
        dropped_by_server: support::metric(&after, drop_name) - support::metric(&before, drop_name),
        lost_at_subscribers: lost,
        received_at_subscribers: received,
        kernel_rcvbuf_drops: kernel_drops,
        server_rss_mb: rss as f64 / 1024.0,
    }
}

/// RSS with 4 and then 8 participants in one room, each publishing audio (50/s) and video
/// (100/s) to all the others. Returns (idle, with 4, with 8) in MB.
async fn rss_by_participants(b: &Bench) -> (f64, f64, f64) {
    let idle = b.server.rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut clients: Vec<Client> = Vec::new();
    let mut readers = Vec::new();
    let mut at = Vec::new();
    for n in [4usize, 8] {
        while clients.len() < n {
            let i = clients.len();
            let mut c = b.join("rss", &format!("p{i}")).await;
            let tracks = publish(&mut c).await;
            spawn_sender(tracks, 100, stop.clone());
            clients.push(c);
        }
        // Every participant receives the others' two tracks (drain what is new).
        for c in clients.iter_mut() {
            while let Some(ClientEvent::Track { remote, .. }) = c
                .wait_for(Duration::from_secs(3), |e| {
                    matches!(e, ClientEvent::Track { .. })
                })
                .await
            {
                readers.push(spawn_reader(remote, measuring.clone(), stop.clone()));
            }
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        at.push(b.server.rss_kib());
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.close().await;
    }
    for r in readers {
        let _ = r.await;
    }
    let mb = |k: u64| k as f64 / 1024.0;
    (mb(idle), mb(at[0]), mb(at[1]))
}

#[tokio::main]
async fn main() {
    epoch();
    let secs = env_u64("BENCH_SECS", 8);
    let pps = env_u64("BENCH_PPS", 1000);
    let rooms = env_u64("BENCH_ROOMS", 3) as usize;
    let mut env = vec![
        ("PARLOR_RTC__UDP_PORTS", "49000-49499".to_string()),
        ("PARLOR_ROOMS__MAX_ROOMS", "1000".into()),
    ];
    if let Ok(n) = std::env::var("BENCH_NACK_HISTORY") {
        env.push(("PARLOR_RTC__NACK_HISTORY", n));
    }
    // Media socket buffers of the server and the clients (default: parlor's, 4 MiB receive;
    // 106496 gives the kernel's default of 212992 as Linux doubles what is asked).
    let buffers = std::env::var("BENCH_SOCKET_BUFFER")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = buffers {
        env.push(("PARLOR_RTC__RECV_BUFFER_BYTES", n.to_string()));
        env.push(("PARLOR_RTC__SEND_BUFFER_BYTES", n.to_string()));
    }
    let server = Server::start(&env);
    let ws = server.base.replace("http://", "ws://") + "/rtc";
    let b = Bench {
        server,
        ws,
        transport: match buffers {
            Some(n) => PeerFactory::new("127.0.0.1".parse().unwrap(), (50_000, 51_999))
                .with_socket_buffers(BufferSizes { recv: n, send: n }),
            None => PeerFactory::new("127.0.0.1".parse().unwrap(), (50_000, 51_999)),
        },
    };
    let (idle_mb, four_mb, eight_mb) = rss_by_participants(&b).await;
    let rss_only = std::env::var("BENCH_RSS_ONLY").is_ok();
    let per_participant_mb = (eight_mb - idle_mb) / 8.0;
    let marginal_mb = (eight_mb - four_mb) / 4.0;
    println!(
        "server RSS: idle {idle_mb:.1} MB, 4 participants {four_mb:.1} MB, 8 participants \
         {eight_mb:.1} MB (each publishing audio+video to all others): {per_participant_mb:.2} MB \
         per participant over idle, {marginal_mb:.2} MB per participant from 4 to 8"
    );
    let mut phases = Vec::new();
    for subs in [1, 3, 7].into_iter().filter(|_| !rss_only) {
        phases.push(phase(&b, &format!("1 room, 1→{subs}"), 1, subs, pps, secs).await);
    }
    if !rss_only {
        phases.push(phase(&b, &format!("{rooms} rooms, 1→7 each"), rooms, 7, pps, secs).await);
    }

    println!(
        "\n{:<20} {:>5} {:>11} {:>7} {:>12} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9}",
        "phase",
        "subs",
        "fwd pkt/s",
        "cores",
        "pkt/s/core",
        "srv p50",
        "srv p99",
        "e2e p50",
        "e2e p99",
        "dropped",
        "lost",
        "kern.drop"
    );
    println!(
        "{:<20} {:>5} {:>11} {:>7} {:>12} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "", "", "", "", "", "µs", "µs", "ms", "ms", "", "", ""
    );
    for p in &phases {
        println!(
            "{:<20} {:>5} {:>11.0} {:>7.2} {:>12.0} {:>9.1} {:>9.1} {:>9.2} {:>9.2} {:>8.0} {:>8} {:>8}",
            p.name,
            p.subscribers,
            p.forwarded_per_s,
            p.server_cpu_cores,
            p.forwarded_per_core_s,
            p.server_added_p50_us,
            p.server_added_p99_us,
            p.client_one_way_p50_ms,
            p.client_one_way_p99_ms,
            p.dropped_by_server,
            p.lost_at_subscribers,
            p.kernel_rcvbuf_drops
        );
    }
    let report = json!({
        "benchmark": "sfu_forward",
        "seconds_per_phase": secs,
        "video_payload_bytes": PAYLOAD,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "rss": {"idle_mb": idle_mb, "four_participants_mb": four_mb, "eight_participants_mb": eight_mb,
            "per_participant_mb": per_participant_mb, "marginal_per_participant_mb": marginal_mb},
        "phases": phases,
        "targets": {"forwarded_per_core_s": 50000, "server_added_p99_ms": 1.0, "rss_per_participant_mb": 2.0},
    });
    let path = support::write_report("sfu_forward", &report);
    println!("wrote {}", path.display());
}
