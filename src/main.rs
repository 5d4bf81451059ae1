//! The `parlor` binary: parse the command line, load the configuration, run.

use clap::Parser;
use parlor::cli::{Cli, load_config, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parlor: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    parlor::telemetry::init(config.log.json, &config.log.level);
    match run(cli, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("parlor: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
