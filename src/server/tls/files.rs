//! Certificate and key from PEM files (`http.tls.cert_path`, `http.tls.key_path`), read at
//! start — a bad file stops the start with the path and the reason — and read again when
//! either file changes (checked every few seconds: a renewal by certbot replaces a symlink or
//! renames a new file into place, so modification time, size and inode are compared) or on
//! SIGHUP. A reload that fails keeps the certificate in use and says why in the log.

use super::{CertSlot, TlsError, certified_key};
use rustls::sign::CertifiedKey;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often the files are checked for a change.
pub const POLL: Duration = Duration::from_secs(2);

/// The certificate in `cert` with the key in `key`.
pub fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let (chain, k) = (read(cert)?, read(key)?);
    certified_key(
        &chain,
        &k,
        &format!("{} and {}", cert.display(), key.display()),
    )
}

/// What identifies a version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Option<(i64, i64, u64, u64)>);

impl Stamp {
    fn of(p: &Path) -> Stamp {
        // `metadata` follows symlinks: a swapped link target counts as a change.
        Stamp(
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.mtime(), m.mtime_nsec(), m.len(), m.ino())),
        )
    }
}

/// Watches the two files and swaps the certificate in `slot` when they change or on SIGHUP.
/// Runs until the task is dropped.
pub async fn watch(cert: PathBuf, key: PathBuf, slot: Arc<CertSlot>) {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let stamps = || (Stamp::of(&cert), Stamp::of(&key));
    let mut seen = stamps();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let signalled = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
        };
        let now = stamps();
        if !signalled && now == seen {
            continue;
        }
        seen = now;
        match load(&cert, &key) {
            Ok(k) => {
                slot.set(Arc::new(k));
                tracing::info!(cert = %cert.display(), why = if signalled { "SIGHUP" } else { "the files changed" }, "TLS certificate reloaded");
            }
            Err(e) => tracing::warn!(
                error = %e,
                "TLS certificate not reloaded; still serving the previous one"
            ),
        }
    }
}
