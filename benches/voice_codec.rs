//! The voice session's codec work, alone in one process (no server, no network): what each
//! way of coding the agent's voice and decoding the user's costs per 20 ms frame, and what the
//! agent's voice sounds like after it, as PESQ-WB (ITU-T P.862.2) on synthesised speech.
//!
//! Agent → browser: the agent speaks 16 kHz PCM. The 48 kHz path resamples it to 48 kHz and
//! encodes at 48 kHz with the band capped at wideband (libopus then downsamples it again for
//! SILK); the direct path gives libopus the 16 kHz audio as it is. Each runs at complexities
//! 5, 6 and 7 (SILK's delayed-decision quantiser has a SIMD version from 6 on). Browser →
//! agent: decoding the browser's Opus at 48 kHz and resampling to 16 kHz, against decoding at
//! 16 kHz directly, of the full-band packets a call gets and of the wideband ones a voice
//! session asks for. Speech comes from `espeak-ng` (several voices, resampled to 16 kHz by
//! `sox`); PESQ from the `pesq` Python package. Without them the bench uses a synthetic vowel
//! signal and leaves PESQ out. The reference for PESQ is the 16 kHz speech; the degraded
//! signal is what a 16 kHz listener gets back (decoded at 48 kHz and resampled to 16 kHz, as
//! the browser's output would be heard at its band). Per-frame times are the fastest of
//! `BENCH_PASSES` (default 7) passes over the whole signal, divided by its frames.
//!
//! `cargo bench --bench voice_codec` prints a table and writes
//! `target/bench-results/voice_codec.json`.

mod support;

use parlor::voice::core::audio::opus_codec::{
    MAX_PACKET_BYTES, MAX_PACKET_SAMPLES, OpusDecoder, OpusEncoder,
};
use parlor::voice::core::audio::resample::StreamResampler;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const RATE: u32 = 16_000;
const FRAME_16K: usize = 320;
const FRAME_48K: usize = 960;

const SENTENCES: &[(&str, &str)] = &[
    (
        "en-us",
        "Thank you for telling me that. It sounds like the last few weeks have been hard.",
    ),
    (
        "en-us+f3",
        "Let's look at what you would like to change before our next session on Thursday.",
    ),
    (
        "en-gb",
        "When you notice the worry starting, what is the very first thing you do?",
    ),
    (
        "en-us+m3",
        "Six thousand, seven hundred and forty two steps, measured every single morning.",
    ),
    (
        "en-gb+f2",
        "Breathing slowly, we count to four, hold for a moment, and let it go again.",
    ),
];

fn main() {
    let passes: usize = std::env::var("BENCH_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let dir = Path::new("target/bench-results/voice_codec");
    std::fs::create_dir_all(dir).unwrap();
    let (speech, source) = match synthesise(dir) {
        Some(s) => (s, "espeak-ng speech"),
        None => (synthetic_vowels(12 * RATE as usize), "synthetic vowels"),
    };
    let frames = speech.len() / FRAME_16K;
    let speech = &speech[..frames * FRAME_16K];
    let reference = dir.join("reference.wav");
    write_wav(&reference, speech);
    let pesq_ok = pesq(&reference, &reference).is_some();
    println!(
        "{source}: {:.1} s, {frames} frames; {passes} passes{}",
        frames as f64 / 50.0,
        if pesq_ok { "" } else { "; PESQ unavailable" }
    );

    let mut rows = Vec::new();
    for direct in [false, true] {
        for complexity in [5, 6, 7] {
            let path = if direct { "direct 16 kHz" } else { "48 kHz" };
            let (packets, times) = encode_agent(speech, direct, complexity, passes);
            let decoded = decode_to_16k(&packets);
            let name = format!(
                "agent_{}_c{complexity}.wav",
                if direct { "16k" } else { "48k" }
            );
            let out = dir.join(&name);
            write_wav(&out, &decoded);
            let score = if pesq_ok {
                pesq(&reference, &out)
            } else {
                None
            };
            let bytes: usize = packets.iter().map(Vec::len).sum();
            rows.push(json!({
                "direction": "agent → browser (encode)",
                "path": path,
                "complexity": complexity,
                "resample_us_per_frame": times.0,
                "encode_us_per_frame": times.1,
                "total_us_per_frame": times.0 + times.1,
                "kbit_per_s": bytes as f64 * 8.0 / (frames as f64 * 0.02) / 1000.0,
                "pesq_wb": score,
            }));
        }
    }
    // The browser's voice: Opus at 48 kHz as a browser sends it, with no band cap (a call)
    // and capped at wideband (a voice session's `maxplaybackrate=16000`).
    let fullband = browser_packets(speech, 48_000);
    let wideband = browser_packets(speech, RATE);
    for (packets, direct, path) in [
        (&fullband, false, "48 kHz"),
        (&fullband, true, "direct 16 kHz"),
        (&wideband, true, "16 kHz, WB sent"),
    ] {
        let times = decode_user(packets, direct, passes);
        rows.push(json!({
            "direction": "browser → agent (decode)",
            "path": path,
            "complexity": null,
            "decode_us_per_frame": times.0,
            "resample_us_per_frame": times.1,
            "total_us_per_frame": times.0 + times.1,
            "pesq_wb": null,
        }));
    }

    println!(
        "{:<26} {:<16} {:>3} {:>10} {:>10} {:>10} {:>8} {:>7}",
        "direction", "path", "cx", "resamp µs", "codec µs", "total µs", "kbit/s", "PESQ-WB"
    );
    for r in &rows {
        let codec = r
            .get("encode_us_per_frame")
            .or(r.get("decode_us_per_frame"))
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        println!(
            "{:<26} {:<16} {:>3} {:>10.1} {:>10.1} {:>10.1} {:>8} {:>7}",
            r["direction"].as_str().unwrap(),
            r["path"].as_str().unwrap(),
            r["complexity"]
                .as_i64()
                .map_or("-".to_string(), |c| c.to_string()),
            r["resample_us_per_frame"].as_f64().unwrap_or(0.0),
            codec,
            r["total_us_per_frame"].as_f64().unwrap_or(0.0),
            r["kbit_per_s"]
                .as_f64()
                .map_or("-".to_string(), |k| format!("{k:.1}")),
            r["pesq_wb"]
                .as_f64()
                .map_or("-".to_string(), |p| format!("{p:.2}")),
        );
    }
    let path = support::write_report(
        "voice_codec",
        &json!({
            "source": source,
            "seconds": frames as f64 / 50.0,
            "passes": passes,
            "cpu_has_avx2": std::arch::is_x86_feature_detected!("avx2"),
            "rows": rows,
        }),
    );
    println!("wrote {}", path.display());
}

/// Encodes the agent's 16 kHz speech as the outbound chain does; returns the packets of the
/// last pass and the fastest (resample, encode) µs per frame.
fn encode_agent(
    speech: &[i16],
    direct: bool,
    complexity: i32,
    passes: usize,
) -> (Vec<Vec<u8>>, (f64, f64)) {
    let frames = speech.len() / FRAME_16K;
    let mut best = (f64::MAX, f64::MAX);
    let mut packets = Vec::with_capacity(frames);
    let mut out = vec![0u8; MAX_PACKET_BYTES];
    for _ in 0..passes {
        packets.clear();
        let rate = if direct { RATE } else { 48_000 };
        let mut encoder = OpusEncoder::at(rate)
            .unwrap()
            .band_limited_to(RATE)
            .unwrap()
            .with_complexity(complexity)
            .unwrap();
        let mut resampler = StreamResampler::new(RATE, 48_000).unwrap();
        let mut frame = vec![0i16; FRAME_48K];
        let mut input = speech.to_vec();
        if !direct {
            // Resampling alone, then encoding alone, so each is timed on its own.
            let t = Instant::now();
            let mut upsampled = Vec::with_capacity(speech.len() * 3);
            for chunk in speech.chunks(FRAME_16K) {
                resampler.push(chunk);
                while resampler.read_exact(&mut frame) {
                    upsampled.extend_from_slice(&frame);
                }
            }
            best.0 = best.0.min(per_frame(t, frames));
            input = upsampled;
        } else {
            best.0 = 0.0;
        }
        let step = if direct { FRAME_16K } else { FRAME_48K };
        let t = Instant::now();
        for chunk in input.chunks_exact(step) {
            let n = encoder.encode(chunk, &mut out).unwrap();
            packets.push(out[..n].to_vec());
        }
        best.1 = best.1.min(per_frame(t, frames));
    }
    (packets, best)
}

/// What a listener gets from `packets`: decoded at 48 kHz, resampled to 16 kHz.
fn decode_to_16k(packets: &[Vec<u8>]) -> Vec<i16> {
    let mut decoder = OpusDecoder::new().unwrap();
    let mut resampler = StreamResampler::new(48_000, RATE).unwrap();
    let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
    let mut out = Vec::new();
    let mut chunk = vec![0i16; FRAME_16K];
    for p in packets {
        let n = decoder.decode(p, &mut pcm).unwrap();
        resampler.push(&pcm[..n]);
        while resampler.read_exact(&mut chunk) {
            out.extend_from_slice(&chunk);
        }
    }
    out
}

/// The user's speech as a browser sends it: 48 kHz, 32 kbit/s, complexity 10, coding no wider
/// a band than `max_playback` holds.
fn browser_packets(speech: &[i16], max_playback: u32) -> Vec<Vec<u8>> {
    let mut resampler = StreamResampler::new(RATE, 48_000).unwrap();
    let mut encoder = OpusEncoder::new()
        .unwrap()
        .band_limited_to(max_playback)
        .unwrap()
        .with_complexity(10)
        .unwrap();
    let mut frame = vec![0i16; FRAME_48K];
    let mut out = vec![0u8; MAX_PACKET_BYTES];
    let mut packets = Vec::new();
    for chunk in speech.chunks(FRAME_16K) {
        resampler.push(chunk);
        while resampler.read_exact(&mut frame) {
            let n = encoder.encode(&frame, &mut out).unwrap();
            packets.push(out[..n].to_vec());
        }
    }
    packets
}

/// Decodes the browser's packets to the agent's 16 kHz; fastest (decode, resample) µs per frame.
fn decode_user(packets: &[Vec<u8>], direct: bool, passes: usize) -> (f64, f64) {
    let frames = packets.len();
    let mut best = (f64::MAX, f64::MAX);
    let mut pcm = vec![0i16; MAX_PACKET_SAMPLES];
    for _ in 0..passes {
        let rate = if direct { RATE } else { 48_000 };
        let mut decoder = OpusDecoder::at(rate).unwrap();
        let mut decoded = Vec::with_capacity(frames * FRAME_48K);
        let t = Instant::now();
        for p in packets {
            let n = decoder.decode(p, &mut pcm).unwrap();
            decoded.extend_from_slice(&pcm[..n]);
        }
        best.0 = best.0.min(per_frame(t, frames));
        if direct {
            best.1 = 0.0;
            continue;
        }
        let mut resampler = StreamResampler::new(48_000, RATE).unwrap();
        let mut chunk = vec![0i16; FRAME_16K];
        let t = Instant::now();
        for frame in decoded.chunks(FRAME_48K) {
            resampler.push(frame);
            while resampler.read_exact(&mut chunk) {}
        }
        best.1 = best.1.min(per_frame(t, frames));
    }
    best
}

fn per_frame(t: Instant, frames: usize) -> f64 {
    t.elapsed().as_secs_f64() * 1e6 / frames as f64
}

/// Speech from espeak-ng at 16 kHz, one sentence per voice with 300 ms between them.
fn synthesise(dir: &Path) -> Option<Vec<i16>> {
    let mut all = Vec::new();
    for (i, (voice, text)) in SENTENCES.iter().enumerate() {
        let raw = dir.join(format!("espeak_{i}.wav"));
        let wav = dir.join(format!("speech_{i}.wav"));
        let ok = Command::new("espeak-ng")
            .args(["-v", voice, "-s", "150", "-w"])
            .arg(&raw)
            .arg(text)
            .status()
            .ok()?
            .success()
            && Command::new("sox")
                // No dither: the same speech every run, so PESQ figures repeat.
                .arg("-D")
                .arg(&raw)
                .args(["-r", "16000", "-b", "16", "-c", "1"])
                .arg(&wav)
                .status()
                .ok()?
                .success();
        if !ok {
            return None;
        }
        all.extend(read_wav(&wav)?);
        all.extend(std::iter::repeat_n(0, 4_800));
    }
    Some(all)
}

/// A stand-in for speech when espeak-ng is missing: vowel-like harmonic tones with pauses.
fn synthetic_vowels(samples: usize) -> Vec<i16> {
    (0..samples)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let syllable = (t * 4.0).fract();
            if syllable > 0.7 {
                return 0;
            }
            let f0 = 110.0 + 30.0 * (t * 0.7).sin();
            let v: f64 = (1..=20)
                .map(|h| {
                    let f = f0 * f64::from(h);
                    let formant = (-((f - 700.0) / 300.0).powi(2)).exp()
                        + 0.5 * (-((f - 1200.0) / 400.0).powi(2)).exp();
                    formant * (std::f64::consts::TAU * f * t).sin()
                })
                .sum();
            (v * 6000.0) as i16
        })
        .collect()
}

fn write_wav(path: &Path, pcm: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in pcm {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

fn read_wav(path: &Path) -> Option<Vec<i16>> {
    let mut r = hound::WavReader::open(path).ok()?;
    r.samples::<i16>().collect::<Result<_, _>>().ok()
}

/// PESQ-WB of `degraded` against `reference` (both 16 kHz WAV), from the `pesq` package.
fn pesq(reference: &Path, degraded: &Path) -> Option<f64> {
    let script = "import sys, soundfile, pesq\n\
                  r, _ = soundfile.read(sys.argv[1]); d, _ = soundfile.read(sys.argv[2])\n\
                  n = min(len(r), len(d))\n\
                  print(pesq.pesq(16000, r[:n], d[:n], 'wb'))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(reference)
        .arg(degraded)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}
