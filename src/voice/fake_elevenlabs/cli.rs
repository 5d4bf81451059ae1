//! `parlor dev fake-elevenlabs`: the test double as a process, for the official SDK's
//! conformance run and for benchmarks. Prints `listening on ws://ADDR` once ready, serves until
//! SIGINT/SIGTERM.

use super::{FakeConfig, FakeElevenLabs};
use std::net::SocketAddr;
use std::time::Duration;

/// Options of `parlor dev fake-elevenlabs`.
#[derive(clap::Args, Debug, Clone)]
pub struct FakeArgs {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Accept only this agent id (default: any).
    #[arg(long)]
    pub agent_id: Option<String>,
    /// Act as a private agent: require a signed URL fetched with this `xi-api-key`
    /// (or the FAKE_ELEVENLABS_API_KEY environment variable).
    #[arg(long, env = "FAKE_ELEVENLABS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Accept prompt/first-message overrides.
    #[arg(long)]
    pub allow_overrides: bool,
    /// Agent input format announced in the metadata.
    #[arg(long, default_value = "pcm_16000")]
    pub input_format: String,
    /// Agent output format announced in the metadata.
    #[arg(long, default_value = "pcm_16000")]
    pub output_format: String,
    /// Milliseconds between pings.
    #[arg(long, default_value_t = 2000)]
    pub ping_ms: u64,
    /// Milliseconds between the end of the user's turn and the reply.
    #[arg(long, default_value_t = 300)]
    pub think_ms: u64,
    /// Length of each reply in milliseconds.
    #[arg(long, default_value_t = 1200)]
    pub reply_ms: u32,
    /// Streaming echo for benchmarks: every chunk goes straight back, no turns, no think time.
    #[arg(long)]
    pub streaming_echo: bool,
}

impl FakeArgs {
    pub fn config(&self) -> Result<FakeConfig, String> {
        for f in [&self.input_format, &self.output_format] {
            if crate::voice::events::AudioFormat::parse(f).is_none() {
                return Err(format!(
                    "unknown audio format {f:?} (use pcm_16000, ulaw_8000, …)"
                ));
            }
        }
        Ok(FakeConfig {
            agent_id: self.agent_id.clone(),
            api_key: self.api_key.clone(),
            allow_overrides: self.allow_overrides,
            input_format: self.input_format.clone(),
            output_format: self.output_format.clone(),
            ping_interval: Duration::from_millis(self.ping_ms.max(10)),
            think_time: Duration::from_millis(self.think_ms),
            reply_ms: self.reply_ms.max(20),
            streaming_echo: self.streaming_echo,
            ..FakeConfig::default()
        })
    }
}

/// Runs the double until the process is told to stop.
pub async fn run(args: FakeArgs) -> anyhow::Result<()> {
    let config = args.config().map_err(anyhow::Error::msg)?;
    let fake = FakeElevenLabs::start(config, args.listen).await?;
    println!("listening on {}", fake.base_url());
    tracing::info!(addr = %fake.addr(), "fake ElevenLabs listening");
    crate::server::shutdown_signal().await;
    let seen = fake.observed();
    tracing::info!(
        conversations = seen.conversations.len(),
        "fake ElevenLabs stopped"
    );
    Ok(())
}
