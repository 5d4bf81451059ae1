//! `parlor dev fake-elevenlabs`: the test double as a process, for the official SDK's
//! conformance run and for benchmarks. Prints `listening on ws://ADDR` once ready, serves until
//! SIGINT/SIGTERM.

use super::{FakeConfig, FakeElevenLabs};
use parlor::cli::FakeElevenlabsArgs as FakeArgs;
use std::time::Duration;

/// The double's configuration from the command line.
fn config(args: &FakeArgs) -> Result<FakeConfig, String> {
    for f in [&args.input_format, &args.output_format] {
        if parlor::voice::core::events::AudioFormat::parse(f).is_none() {
            return Err(format!(
                "unknown audio format {f:?} (use pcm_16000, ulaw_8000, …)"
            ));
        }
    }
    Ok(FakeConfig {
        agent_id: args.agent_id.clone(),
        api_key: args.api_key.clone(),
        allow_overrides: args.allow_overrides,
        input_format: args.input_format.clone(),
        output_format: args.output_format.clone(),
        ping_interval: Duration::from_millis(args.ping_ms.max(10)),
        think_time: Duration::from_millis(args.think_ms),
        reply_ms: args.reply_ms.max(20),
        streaming_echo: args.streaming_echo,
        ..FakeConfig::default()
    })
}

/// Runs the double until the process is told to stop.
pub async fn run(args: FakeArgs) -> anyhow::Result<()> {
    let config = config(&args).map_err(anyhow::Error::msg)?;
    let fake = FakeElevenLabs::start(config, args.listen).await?;
    println!("listening on {}", fake.base_url());
    tracing::info!(addr = %fake.addr(), "fake ElevenLabs listening");
    parlor::server::shutdown_signal().await;
    let seen = fake.observed();
    tracing::info!(
        conversations = seen.conversations.len(),
        "fake ElevenLabs stopped"
    );
    Ok(())
}
