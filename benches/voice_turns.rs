//! Voice turns as a user hears them: headless Chromium on the `/voice` page of the real
//! `parlor` binary, its fake microphone playing a WAV file (a voiced, speech-like tone), the
//! agent the ElevenLabs test double with zero think time and a turn detector that ends a turn
//! after 20 ms of quiet (one chunk: what is measured is parlor, not endpointing), replying with
//! several seconds of tone streamed faster than real time.
//!
//! Each turn: hold "Hold to talk" for `BENCH_HOLD_MS` (default 1000), release, wait for the
//! reply to be heard, let it play 800 ms, then press again — the press is both the barge-in
//! on that reply and the start of the next turn. The page's own analyser (a WebAudio
//! `AnalyserNode` on the received track, 256-sample window, sampled every ~1-4 ms) gives:
//!
//! - **release → audio**: from the release to the first analyser window above the threshold
//!   (RMS 0.02, about −34 dBFS; the reply tone is ~0.17): the server's end-of-turn silence, the
//!   double's reply, the playout, the network and the browser's jitter buffer and decoding;
//! - **press → inaudible**: from the press to the start of the first 60 ms with every window
//!   below the threshold (the agent's voice concealed by the decoder counts as audible), on
//!   two probes: the *page output* (the track the page plays, which the page itself silences
//!   on a press) and the *wire* (a clone of that track the page never silences: what the server
//!   sent, after this browser's jitter buffer and decoder) — the second isolates the server's
//!   cut and fade;
//! - **delayed turns**: turns whose release → audio exceeds the run's median by more than one
//!   frame (20 ms).
//!
//! `cargo bench --bench voice_turns`; knobs `BENCH_TURNS` (default 24), `BENCH_HOLD_MS`.
//! Writes `target/bench-results/voice_turns.json`. Needs Chromium (`CHROMIUM` overrides
//! `/usr/bin/chromium`).

mod support;

#[allow(dead_code)]
#[path = "../tests/common/browser.rs"]
mod browser;
#[allow(dead_code)]
#[path = "../src/dev/fake_elevenlabs/mod.rs"]
mod fake_elevenlabs;

use browser::{Chromium, Launch};
use fake_elevenlabs::{FakeConfig, FakeElevenLabs};
use parlor::voice::core::vad::VadConfig;
use serde_json::json;
use std::time::{Duration, Instant};
use support::Server;

/// Analyser RMS (full scale 1.0) above which the agent counts as audible.
const THRESHOLD: f64 = 0.02;
/// Quiet needed before the agent counts as inaudible.
const QUIET_MS: f64 = 60.0;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A WAV (48 kHz, mono, 16-bit) of a voiced, speech-like signal: a fundamental gliding
/// around 140 Hz with harmonics, its loudness swaying at 3 Hz but never quiet, so the double's
/// turn detector hears one unbroken turn while the button is held (and the browser's noise
/// suppression, which wears a steady tone down, has no steady tone to wear down).
fn speech_like_wav(path: &std::path::Path) {
    let rate = 48_000u32;
    let n = rate as usize * 10;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        // Phase of a fundamental of 140 Hz ± 20 Hz at 0.7 Hz (the integral of the frequency).
        let tau = 2.0 * std::f64::consts::PI;
        let phase = tau * 140.0 * t - (20.0 / 0.7) * (tau * 0.7 * t).cos();
        let voice: f64 = (1..=6)
            .map(|k| (f64::from(k) * phase).sin() / f64::from(k))
            .sum();
        let sway = 0.85 + 0.15 * (tau * 3.0 * t).sin();
        let s = (voice * sway * 7000.0).clamp(-32_000.0, 32_000.0) as i16;
        wav.write_sample(s).unwrap();
    }
    wav.finalize().unwrap();
}

/// Page-side measurement: an analyser on the received track sampled as often as timers allow,
/// and the two searches over its samples (times are `performance.now()` milliseconds).
const PROBE: &str = r#"(() => {
  const a = document.querySelector('#live audio');
  if (!a || !a.srcObject) return false;
  const ctx = new AudioContext();
  const track = a.srcObject.getAudioTracks()[0];
  // `page`: the track the page plays (which the page silences on a press); `wire`: a clone,
  // never silenced here, so it carries what the server sent, as this browser decodes it.
  const probes = {page: track, wire: track.clone()};
  window.__lv = {page: [], wire: []};
  for (const [name, t] of Object.entries(probes)) {
    const an = ctx.createAnalyser();
    an.fftSize = 256;
    ctx.createMediaStreamSource(new MediaStream([t])).connect(an);
    const buf = new Float32Array(an.fftSize);
    const out = window.__lv[name];
    setInterval(() => {
      an.getFloatTimeDomainData(buf);
      let s = 0;
      for (const v of buf) s += v * v;
      out.push([performance.now(), Math.sqrt(s / buf.length)]);
      if (out.length > 40000) out.splice(0, 20000);
    }, 1);
  }
  ctx.resume();
  const talk = document.getElementById('talk');
  const ev = (t) => talk.dispatchEvent(new PointerEvent(t, {bubbles: true, pointerId: 1, button: 0, isPrimary: true}));
  window.__press = () => { const t = performance.now(); ev('pointerdown'); return t; };
  window.__release = () => { const t = performance.now(); ev('pointerup'); return t; };
  window.__level = () => { const w = window.__lv.wire; const l = w[w.length - 1]; return l ? l[1] : 0; };
  window.__onset = (p, t0, thr) => {
    for (const [t, r] of window.__lv[p]) if (t >= t0 && r > thr) return t - t0;
    return null;
  };
  window.__quiet = (p, t0, thr, hold) => {
    let start = null;
    for (const [t, r] of window.__lv[p]) {
      if (t < t0) continue;
      if (r < thr) { if (start === null) start = t; if (t - start >= hold) return start - t0; }
      else start = null;
    }
    return null;
  };
  return true;
})()"#;

/// Polls `expr` (a number or null) until it is a number or `secs` pass.
async fn poll(b: &mut Chromium, expr: &str, secs: u64) -> Option<f64> {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if let Some(v) = b.eval(expr).await.as_f64() {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    (
        support::percentile(&v, 0.50),
        support::percentile(&v, 0.95),
        *v.last().unwrap(),
    )
}

#[tokio::main]
async fn main() {
    if browser::chromium_path().is_none() {
        eprintln!("voice_turns: no Chromium (set CHROMIUM=…); nothing measured");
        return;
    }
    let turns = env_u64("BENCH_TURNS", 24) as usize;
    let hold = Duration::from_millis(env_u64("BENCH_HOLD_MS", 1000));
    let fake = FakeElevenLabs::start_local(FakeConfig {
        think_time: Duration::ZERO,
        reply_ms: 5000,
        ping_interval: Duration::from_secs(30),
        vad: VadConfig {
            end_silence_ms: 20,
            ..VadConfig::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let server = Server::start(&[
        ("PARLOR_RTC__UDP_PORTS", "55000-55999".into()),
        ("PARLOR_VOICE__AGENT", "elevenlabs".into()),
        ("PARLOR_VOICE__ELEVENLABS__AGENT_ID", "agent_bench".into()),
        ("PARLOR_VOICE__ELEVENLABS__BASE_URL", fake.base_url()),
    ]);
    support::login_new_user(&server, "turns@bench.test").await;
    let wav = server.dir.path().join("speech.wav");
    speech_like_wav(&wav);
    let wav: &'static str = Box::leak(wav.display().to_string().into_boxed_str());
    let mut b = Chromium::open_with(
        "about:blank",
        Launch {
            fake_audio_wav: Some(wav),
            ..Launch::default()
        },
    )
    .await;
    b.navigate(&format!("{}/login", server.base)).await;
    let status = b
        .eval(
            "fetch('/api/auth/login', {method: 'POST', headers: {'content-type': 'application/json'}, \
             body: JSON.stringify({email: 'turns@bench.test', password: 'bench user password'})}).then(r => r.status)",
        )
        .await;
    assert_eq!(status, 200, "the browser logs in");
    b.navigate(&format!("{}/voice", server.base)).await;
    b.wait_until(
        "document.getElementById('voice-start').disabled === false",
        15,
        "the voice page",
    )
    .await;
    b.eval("document.getElementById('voice-start').click(), true")
        .await;
    b.wait_until(
        "window.parlorVoiceStats().then(s => s.live && s.agentState === 'listening')",
        20,
        "the agent to listen",
    )
    .await;
    b.wait_until(PROBE, 10, "the agent's track and the analyser")
        .await;

    let mut release_to_audio = Vec::new();
    let mut quiet_page = Vec::new();
    let mut quiet_wire = Vec::new();
    let mut missed = 0usize;
    let mut not_playing = 0usize;
    let mut playing = false;
    for turn in 0..=turns {
        // The press: barge-in on the reply that plays (from the second turn on).
        let audible = b.eval("window.__level()").await.as_f64().unwrap_or(0.0) > THRESHOLD;
        let pressed = b.eval("window.__press()").await.as_f64().unwrap();
        if playing && audible {
            for (probe, into) in [("page", &mut quiet_page), ("wire", &mut quiet_wire)] {
                let q = format!("window.__quiet('{probe}', {pressed}, {THRESHOLD}, {QUIET_MS})");
                match poll(&mut b, &q, 5).await {
                    Some(ms) => into.push(ms),
                    None => missed += 1,
                }
            }
        } else if playing {
            not_playing += 1;
        }
        if turn == turns {
            break;
        }
        tokio::time::sleep(hold).await;
        let released = b.eval("window.__release()").await.as_f64().unwrap();
        let q = format!("window.__onset('wire', {released}, {THRESHOLD})");
        match poll(&mut b, &q, 5).await {
            // The first turn warms the path up (the double's detector, the browser's jitter
            // buffer) and is not counted.
            Some(_) if turn == 0 => {}
            Some(ms) => release_to_audio.push(ms),
            None => missed += 1,
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        playing = true;
    }
    b.eval("window.__release()").await;

    let median = stats(release_to_audio.clone()).0;
    let delayed = release_to_audio
        .iter()
        .filter(|&&ms| ms > median + 20.0)
        .count();
    let ra = stats(release_to_audio.clone());
    let qp = stats(quiet_page.clone());
    let qw = stats(quiet_wire.clone());
    println!(
        "\n{:<34} {:>8} {:>8} {:>8} {:>6}",
        "ms", "p50", "p95", "max", "n"
    );
    for (name, (p50, p95, max), n) in [
        ("release → agent audio (wire)", ra, release_to_audio.len()),
        ("press → inaudible (page output)", qp, quiet_page.len()),
        ("press → inaudible (wire)", qw, quiet_wire.len()),
    ] {
        println!("{name:<34} {p50:>8.1} {p95:>8.1} {max:>8.1} {n:>6}");
    }
    println!("delayed turns (release → audio > median + 20 ms): {delayed}; missed: {missed}");
    // Each hold should be one turn for the double; more replies than holds means its detector
    // split a hold (the signal dipped), and the figures of those turns mean less.
    let replies = fake.observed().conversations[0]
        .sent
        .iter()
        .filter(|(t, _)| t == "agent_response")
        .count();
    println!("holds: {turns}; replies of the double: {replies}");
    if not_playing > 0 {
        println!("({not_playing} presses found the agent already quiet and were not counted)");
    }
    let path = support::write_report(
        "voice_turns",
        &json!({
            "turns": release_to_audio.len(),
            "hold_ms": hold.as_millis() as u64,
            "threshold_rms": THRESHOLD,
            "quiet_ms": QUIET_MS,
            "release_to_audio_wire_ms": {"p50": ra.0, "p95": ra.1, "max": ra.2, "all": release_to_audio},
            "press_to_inaudible_page_ms": {"p50": qp.0, "p95": qp.1, "max": qp.2, "all": quiet_page},
            "press_to_inaudible_wire_ms": {"p50": qw.0, "p95": qw.1, "max": qw.2, "all": quiet_wire},
            "delayed_turns": delayed,
            "double_replies": replies,
            "missed": missed,
            "presses_while_quiet": not_playing,
        }),
    );
    println!("wrote {}", path.display());
}
