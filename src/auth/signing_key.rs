//! The server's HMAC signing secret: from the environment, or a random key kept in
//! `{data_dir}/signing.key`, created on first run with mode 0600 and never logged.

use crate::config::Secret;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Returns the configured secret, or loads/creates the key file.
pub fn load_or_create(configured: &Secret, data_dir: &Path) -> std::io::Result<Secret> {
    if !configured.is_empty() {
        return Ok(configured.clone());
    }
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("signing.key");
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => {
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                tracing::warn!(path = %path.display(), "signing key was readable by others; set mode 0600");
            }
            return Ok(Secret::new(text.trim()));
        }
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} is too short; delete it to generate a new one",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let key = data_encoding::HEXLOWER.encode(&crate::ids::random_bytes::<32>());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(key.as_bytes())?;
    f.sync_all()?;
    tracing::info!(path = %path.display(), "created a new signing key");
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_0600_key_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(&Secret::default(), dir.path()).unwrap();
        let b = load_or_create(&Secret::default(), dir.path()).unwrap();
        assert_eq!(a, b);
        let mode = std::fs::metadata(dir.path().join("signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let env = load_or_create(&Secret::new("from-env"), dir.path()).unwrap();
        assert_eq!(env.expose(), "from-env");
    }
}
