//! Voice round-trip benchmark: N concurrent voice sessions (webrtc-rs callers, parlor's own
//! client) against the real `parlor` binary, whose agent is the ElevenLabs test double in
//! streaming-echo mode (every audio chunk comes straight back: no turn detection, no think
//! time), so the figures measure the bridge and not an endpointing delay.
//!
//! Each caller holds the talk button and sends 20 ms Opus frames in real time: silence, with a
//! 60 ms tone burst every 400 ms whose frequency cycles through four values (the marker). It
//! decodes the agent's audio and finds each burst's onset (to 1 ms); the round trip is the
//! onset's arrival minus its sending. Reported per N: round trip p50/p95/p99; the server's own
//! part from its histograms — ingress (packet arrival → chunk handed to the agent connection),
//! playout wait (agent audio arrival → frame sent, which includes waiting for the 20 ms
//! playout tick, a jitter margin once the grid has moved to the agent's chunks) and egress
//! (tick due → frame handed to the agent's track: the server's own work on the way out);
//! missed playout ticks; server CPU per session; server RSS.
//!
//! `cargo bench --bench voice_rtt`; knobs `BENCH_SECS` (per N, default 10) and
//! `BENCH_SESSIONS` (comma list, default `1,10,50,100`); `BENCH_TRACE=1` also prints each
//! caller's round trips in the order sent (to tell a standing delay from isolated ones). Writes
//! `target/bench-results/voice_rtt.json`. Callers, the double and the server share the
//! machine's cores; server CPU is read from /proc for the server alone.

mod support;

use parlor::client::signal::ClientEvent;
use parlor::client::voice::{HeardFrame, Mic, VoiceCaller, sine_frame, tone_power};
use parlor::media::engine::PeerFactory;
#[allow(dead_code)]
#[path = "../src/dev/fake_elevenlabs/mod.rs"]
mod fake_elevenlabs;

use fake_elevenlabs::{FakeConfig, FakeElevenLabs};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::Server;
use tokio::sync::{Mutex, mpsc};

const FREQS: [f64; 4] = [700.0, 1100.0, 1500.0, 1900.0];
const BURST_EVERY: u64 = 20; // frames (400 ms)
const BURST_FRAMES: u64 = 3; // 60 ms

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The packets a caller sends: silence, and each burst's three frames.
struct Script {
    silence: bytes::Bytes,
    bursts: Vec<Vec<bytes::Bytes>>,
}

/// Encodes a caller's packets once, before anyone talks, so that the load generator spends
/// its CPU on sending, not on encoding, and the callers do not all encode at the same moment.
fn script(mic: &mut Mic) -> Script {
    let quiet = vec![0i16; 960];
    Script {
        silence: mic.encode(&quiet).unwrap(),
        bursts: FREQS
            .iter()
            .map(|f| {
                (0..BURST_FRAMES)
                    .map(|i| mic.encode(&sine_frame(*f, 0.4, i * 960)).unwrap())
                    .collect()
            })
            .collect(),
    }
}

/// Sends frames in real time until `end`; returns the send time of every burst (index → t).
async fn talk(mut mic: Mic, script: Script, end: Instant) -> Vec<Instant> {
    let Script { silence, bursts } = script;
    mic.talk(true);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::new();
    let mut frame = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        let in_burst = frame % BURST_EVERY;
        let packet = if in_burst < BURST_FRAMES {
            let burst = frame / BURST_EVERY;
            if in_burst == 0 {
                sent.push(Instant::now());
            }
            bursts[(burst % 4) as usize][in_burst as usize].clone()
        } else {
            silence.clone()
        };
        if mic.send_packet(packet).await.is_err() {
            break;
        }
        frame += 1;
    }
    sent
}

/// Finds burst onsets in the agent's audio: (which of [`FREQS`], arrival of the onset).
/// Onsets are matched to sent bursts by frequency and time afterwards, so a burst lost
/// before the agent's track was up cannot shift every later match by a whole cycle.
async fn listen(
    mut rx: mpsc::UnboundedReceiver<HeardFrame>,
    end: Instant,
) -> Vec<(usize, Instant)> {
    let mut found = Vec::new();
    let mut quiet_frames = 10u32;
    while let Ok(Some(f)) =
        tokio::time::timeout_at(tokio::time::Instant::from_std(end), rx.recv()).await
    {
        // Which tone: decided over the whole 20 ms frame (1 ms windows cannot tell 700 Hz
        // from 1,100 Hz); where it starts: the first loud 1 ms window of that tone.
        let (k, power) = FREQS
            .iter()
            .map(|freq| tone_power(&f.pcm, *freq))
            .enumerate()
            .fold(
                (0, 0.0),
                |best, (k, p)| if p > best.1 { (k, p) } else { best },
            );
        let loud = (power > 0.0005)
            .then(|| {
                f.pcm
                    .chunks(48)
                    .position(|w| tone_power(w, FREQS[k]) > 0.02)
                    .map(|ms| (k, ms))
            })
            .flatten();
        match loud {
            Some((k, ms)) if quiet_frames >= 5 => {
                found.push((k, f.arrived + Duration::from_millis(ms as u64)));
                quiet_frames = 0;
            }
            Some(_) => quiet_frames = 0,
            None => quiet_frames += 1,
        }
    }
    found
}

/// The round trip of an onset of frequency `k` heard at `at`: from the latest burst of that
/// frequency sent before it (bursts of one frequency are 1.6 s apart, so any round trip
/// below that is unambiguous).
fn round_trip(sent: &[Instant], k: usize, at: Instant) -> Option<(Instant, Duration)> {
    let s = sent
        .iter()
        .enumerate()
        .filter(|(i, s)| i % FREQS.len() == k && **s <= at)
        .map(|(_, s)| *s)
        .max()?;
    Some((s, at.duration_since(s)))
}

#[derive(serde::Serialize)]
struct Row {
    sessions: usize,
    bursts_sent: usize,
    bursts_heard: usize,
    rtt_p50_ms: f64,
    rtt_p95_ms: f64,
    rtt_p99_ms: f64,
    server_ingress_p50_ms: f64,
    server_ingress_p99_ms: f64,
    server_playout_wait_p50_ms: f64,
    server_playout_wait_p99_ms: f64,
    server_egress_p50_ms: f64,
    server_egress_p99_ms: f64,
    missed_ticks: f64,
    frames_sent: f64,
    missed_tick_pct: f64,
    server_cpu_per_session_pct: f64,
    server_rss_mb: f64,
}

async fn run(
    server: &Server,
    users: &[reqwest::Client],
    n: usize,
    secs: u64,
    port_base: u16,
) -> Row {
    let ws = server.base.replace("http://", "ws://") + "/rtc";
    let transport = Arc::new(PeerFactory::new(
        "127.0.0.1".parse().unwrap(),
        (port_base, port_base + 999),
    ));
    let mut callers = Vec::new();
    let mut session_ids = Vec::new();
    for http in &users[..n] {
        let started: serde_json::Value = http
            .post(format!("{}/api/voice/sessions", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = started["token"].as_str().expect("voice session token");
        session_ids.push((
            http.clone(),
            started["session"]["id"]
                .as_str()
                .expect("voice session id")
                .to_string(),
        ));
        let mut caller = VoiceCaller::join(&ws, token, &transport)
            .await
            .expect("caller joins");
        let packets = script(&mut caller.mic);
        callers.push((caller, packets));
    }
    // Everyone talks from now on; the agent's track appears with its first echoed packet.
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(secs + 2);
    let mut talkers = Vec::new();
    let mut clients = Vec::new();
    for (caller, script) in callers {
        let VoiceCaller { mut client, mic } = caller;
        talkers.push(tokio::spawn(talk(mic, script, end)));
        let heard = match client
            .wait_for(Duration::from_secs(20), |e| {
                matches!(e, ClientEvent::Track { .. })
            })
            .await
        {
            Some(ClientEvent::Track { remote, .. }) => {
                parlor::client::voice::decode_in_background(remote)
            }
            _ => panic!("no agent track"),
        };
        clients.push((
            client,
            tokio::spawn(listen(heard, end + Duration::from_secs(1))),
        ));
    }
    // Measure from 2 s in (everyone connected and echoing) to the end.
    tokio::time::sleep_until(tokio::time::Instant::from_std(t0 + Duration::from_secs(2))).await;
    let before = support::scrape(&server.base);
    let cpu0 = server.cpu_secs();
    let m0 = Instant::now();
    let rtts = Arc::new(Mutex::new(Vec::<f64>::new()));
    let mut tasks = Vec::new();
    for (talker, (client, listener)) in talkers.into_iter().zip(clients) {
        tasks.push(tokio::spawn(async move {
            let sent = talker.await.unwrap();
            let found = listener.await.unwrap();
            // Only bursts sent inside the measurement window count.
            let rtt: Vec<f64> = found
                .iter()
                .filter_map(|(k, at)| {
                    let (s, rtt) = round_trip(&sent, *k, *at)?;
                    (s >= m0).then_some(rtt.as_secs_f64() * 1000.0)
                })
                .collect();
            let in_window = sent.iter().filter(|s| **s >= m0).count();
            if std::env::var_os("BENCH_TRACE").is_some() {
                eprintln!(
                    "TRACE {:?}",
                    rtt.iter().map(|v| v.round() as i64).collect::<Vec<_>>()
                );
            }
            (client, in_window, rtt)
        }));
    }
    let mut heard_total = 0;
    let mut closing = Vec::new();
    let mut sent_total = 0;
    for t in tasks {
        let (caller, sent, rtt) = t.await.unwrap();
        sent_total += sent;
        heard_total += rtt.len();
        rtts.lock().await.extend(rtt);
        closing.push(caller);
    }
    let wall = m0.elapsed().as_secs_f64();
    let cpu = server.cpu_secs() - cpu0;
    let after = support::scrape(&server.base);
    let rss = server.rss_kib() as f64 / 1024.0;
    for c in closing {
        c.close().await;
    }
    // End the sessions as the browser's End button does, and let the server wind them down,
    // so the next N starts on an idle server.
    for (http, id) in session_ids {
        let _ = http
            .post(format!("{}/api/voice/sessions/{id}/end", server.base))
            .send()
            .await;
    }
    let idle_by = Instant::now() + Duration::from_secs(40);
    while support::metric(&support::scrape(&server.base), "parlor_voice_sessions") > 0.0
        && Instant::now() < idle_by
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if std::env::var_os("BENCH_TRACE").is_some() {
        let m = support::scrape(&server.base);
        for name in [
            "parlor_voice_sessions",
            "parlor_rooms",
            "parlor_participants",
            "parlor_tracks",
            "parlor_media_tasks",
        ] {
            eprintln!("after N={n}: {name} = {}", support::metric(&m, name));
        }
    }
    let mut r = rtts.lock().await.clone();
    r.sort_by(f64::total_cmp);
    let q = |name: &str, p: f64| {
        support::histogram_quantile(
            &support::buckets(&before, name),
            &support::buckets(&after, name),
            p,
        ) * 1000.0
    };
    let delta = |name: &str| support::metric(&after, name) - support::metric(&before, name);
    let missed = delta("parlor_voice_missed_ticks_total");
    let frames = delta("parlor_voice_frames_total");
    let expected_ticks = n as f64 * wall * 50.0;
    Row {
        sessions: n,
        bursts_sent: sent_total,
        bursts_heard: heard_total,
        rtt_p50_ms: support::percentile(&r, 0.50),
        rtt_p95_ms: support::percentile(&r, 0.95),
        rtt_p99_ms: support::percentile(&r, 0.99),
        server_ingress_p50_ms: q("parlor_voice_ingress_seconds", 0.50),
        server_ingress_p99_ms: q("parlor_voice_ingress_seconds", 0.99),
        server_playout_wait_p50_ms: q("parlor_voice_playout_wait_seconds", 0.50),
        server_playout_wait_p99_ms: q("parlor_voice_playout_wait_seconds", 0.99),
        server_egress_p50_ms: q("parlor_voice_egress_seconds", 0.50),
        server_egress_p99_ms: q("parlor_voice_egress_seconds", 0.99),
        missed_ticks: missed,
        frames_sent: frames,
        missed_tick_pct: 100.0 * missed / expected_ticks,
        server_cpu_per_session_pct: 100.0 * cpu / wall / n as f64,
        server_rss_mb: rss,
    }
}

#[tokio::main]
async fn main() {
    let secs = env_u64("BENCH_SECS", 10);
    let counts: Vec<usize> = std::env::var("BENCH_SESSIONS")
        .unwrap_or_else(|_| "1,10,50,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let fake = FakeElevenLabs::start_local(FakeConfig {
        streaming_echo: true,
        ping_interval: Duration::from_secs(30),
        ..Default::default()
    })
    .await
    .unwrap();
    let server = Server::start(&[
        ("PARLOR_RTC__UDP_PORTS", "52000-53999".into()),
        ("PARLOR_ROOMS__MAX_ROOMS", "1000".into()),
        ("PARLOR_VOICE__AGENT", "elevenlabs".into()),
        ("PARLOR_VOICE__ELEVENLABS__AGENT_ID", "agent_bench".into()),
        ("PARLOR_VOICE__ELEVENLABS__BASE_URL", fake.base_url()),
    ]);
    // One account per concurrent session: a user has at most one live voice session (a new
    // one hangs up the previous), as people do.
    let most = counts.iter().copied().max().unwrap_or(0);
    let mut users = Vec::with_capacity(most);
    for i in 0..most {
        users.push(support::login_new_user(&server, &format!("caller{i}@bench.test")).await);
    }
    let mut rows = Vec::new();
    for (i, n) in counts.iter().enumerate() {
        rows.push(run(&server, &users, *n, secs, 54_000 + (i as u16) * 1000).await);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "\n{:>8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>9} {:>8}",
        "sessions",
        "bursts",
        "heard",
        "rtt p50",
        "rtt p95",
        "rtt p99",
        "ingr p50",
        "ingr p99",
        "wait p50",
        "wait p99",
        "egr p50",
        "egr p99",
        "missed%",
        "cpu/sess%",
        "rss MB"
    );
    for r in &rows {
        println!(
            "{:>8} {:>7} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>10.3} {:>10.3} {:>10.2} {:>10.2} {:>10.3} {:>10.3} {:>8.2} {:>9.2} {:>8.1}",
            r.sessions,
            r.bursts_sent,
            r.bursts_heard,
            r.rtt_p50_ms,
            r.rtt_p95_ms,
            r.rtt_p99_ms,
            r.server_ingress_p50_ms,
            r.server_ingress_p99_ms,
            r.server_playout_wait_p50_ms,
            r.server_playout_wait_p99_ms,
            r.server_egress_p50_ms,
            r.server_egress_p99_ms,
            r.missed_tick_pct,
            r.server_cpu_per_session_pct,
            r.server_rss_mb
        );
    }
    let report = json!({
        "benchmark": "voice_rtt",
        "seconds_per_run": secs,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "rows": rows,
        "targets": {"rtt_p50_ms_1_session": 35, "rtt_p99_ms_1_session": 50, "server_added_p99_ms": 2, "missed_tick_pct_100_sessions": 1},
    });
    let path = support::write_report("voice_rtt", &report);
    println!("wrote {}", path.display());
}
