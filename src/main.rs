//! The `parlor` binary: parse the command line, load the configuration, run.

mod dev;

use clap::Parser;
use parlor::cli::{Cli, Command, load_config, run};

fn main() -> std::process::ExitCode {
    tune_allocator();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(serve_or_run()),
        Err(e) => {
            eprintln!("parlor: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// glibc malloc with a fixed mmap threshold: blocks of 128 KiB and more are mapped and
/// unmapped on their own, so large short-lived buffers (HTTP responses) go back to the system
/// at once. Left dynamic, glibc raises the threshold after the first such free and keeps those
/// buffers in the heap: under the booking benchmark RSS grew from 13 MB to 130 MB and stayed.
/// Measured against mimalloc (`cargo bench --bench sfu_forward`): 16.5 MB idle instead of
/// 26.6 MB, and about half the RSS per video-room participant. Must run before any thread
/// starts.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
        // SAFETY: mallopt only sets allocator parameters; it is called before any other
        // thread exists, so no allocation can race with it.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

async fn serve_or_run() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parlor: configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    parlor::telemetry::init(config.log.json, &config.log.level);
    let json_logs = config.log.json;
    let result = match cli.command {
        Some(Command::Dev { action }) => dev::run(action).await,
        _ => run(cli, config).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Said once: as a JSON log line when logs are JSON (for the log collector), else
            // as a plain message.
            if json_logs {
                tracing::error!("{e:#}");
            } else {
                eprintln!("parlor: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
