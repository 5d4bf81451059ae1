//! Developer and CI tools that are part of the `parlor` binary but not of the library, so no
//! production code can import them: the ElevenLabs Conversational AI test double
//! ([`fake_elevenlabs`], `parlor dev fake-elevenlabs`) and the Twilio Messages API double
//! ([`fake_twilio`], `parlor dev fake-twilio`). The integration tests and the
//! `voice_rtt` benchmark compile the same files into themselves (`#[path]`), which is why the
//! double names the library as `parlor::`, like any outside user of it.

// The double's test API (failure injection, what it observed) is used by the tests that
// compile it in, not by the binary.
#[allow(dead_code)]
pub mod fake_elevenlabs;
#[allow(dead_code)]
pub mod fake_twilio;

use parlor::cli::DevAction;

/// Runs a `parlor dev` tool to its end.
pub async fn run(action: DevAction) -> anyhow::Result<()> {
    match action {
        DevAction::FakeElevenlabs(args) => fake_elevenlabs::cli::run(args).await,
        DevAction::FakeTwilio(args) => fake_twilio::run(args).await,
    }
}
