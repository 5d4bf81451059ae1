//! Voice-session test helpers: speak tone bursts into a caller's microphone in real time and
//! listen for tones (or any sound) in the agent's audio.

use parlor::client::voice::{HeardFrame, VoiceCaller, sine_frame, tone_power};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Holds the talk button for `frames` × 20 ms of a tone, then releases it and sends
/// `silence` frames of silence, paced in real time.
pub async fn speak(c: &mut VoiceCaller, freq: f64, frames: u64, silence: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mic = &mut c.mic;
    mic.talk(true);
    for i in 0..frames {
        tick.tick().await;
        mic.send_frame(&sine_frame(freq, 0.3, i * 960))
            .await
            .unwrap();
    }
    mic.talk(false);
    let quiet = vec![0i16; 960];
    for _ in 0..silence {
        tick.tick().await;
        mic.send_frame(&quiet).await.unwrap();
    }
}

/// Waits until a heard frame carries `freq` (returns when), or `limit` passes.
pub async fn hear_tone(
    rx: &mut mpsc::UnboundedReceiver<HeardFrame>,
    freq: f64,
    limit: Duration,
) -> Option<Instant> {
    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(f)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if tone_power(&f.pcm, freq) > 0.005 {
            return Some(f.arrived);
        }
    }
    None
}

/// Whether any heard frame within `limit` has audible energy.
pub async fn hear_anything(rx: &mut mpsc::UnboundedReceiver<HeardFrame>, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(f)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        let energy: f64 =
            f.pcm.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / f.pcm.len().max(1) as f64;
        if energy.sqrt() > 300.0 {
            return true;
        }
    }
    false
}
