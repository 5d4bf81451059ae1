//! Python packages from PyPI that the tests' independent checkers use (`standardwebhooks`,
//! `http_ece`, `cryptography`), installed once, pinned, into `target/test-pydeps/<name>`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static INSTALL: Mutex<()> = Mutex::new(());

/// The directory holding `packages` (installed with pip on first use); `probe` is a module
/// directory that exists once they are installed.
pub fn install(name: &str, packages: &[&str], probe: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-pydeps")
        .join(name);
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join(probe).is_dir() {
        return dir;
    }
    std::fs::create_dir_all(dir.parent().expect("a parent")).expect("target/test-pydeps");
    // Installed beside, then renamed: another test binary may be doing the same.
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&tmp)
        .args(packages)
        .output()
        .expect("run pip");
    assert!(
        out.status.success(),
        "pip install {packages:?} (needs PyPI): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(dir.join(probe).is_dir());
    dir
}
