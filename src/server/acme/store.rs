//! What ACME leaves on disk, under `<data_dir>/acme/`, every file 0600 and written whole
//! (a temporary file renamed into place, so a crash never leaves half a key): the account's
//! credentials per CA directory (`account-<hash>.json`), and the current certificate chain and
//! its key (`cert.pem`, `key.pem`). A certificate is reused at start when it covers the
//! configured names; its validity decides when it is renewed.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The ACME files of one data directory.
pub struct AcmeStore {
    dir: PathBuf,
}

/// A stored certificate: PEM chain and key, with what renewal needs to know of it.
pub struct StoredCert {
    pub chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The DNS names it covers.
    pub names: Vec<String>,
}

impl StoredCert {
    /// Reads validity and names from the leaf of `chain_pem`.
    pub fn parse(chain_pem: Vec<u8>, key_pem: Vec<u8>) -> Result<StoredCert, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let leaf = CertificateDer::pem_slice_iter(&chain_pem)
            .next()
            .ok_or("no certificate")?
            .map_err(|e| e.to_string())?;
        let (_, cert) =
            x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| e.to_string())?;
        let validity = cert.validity();
        let names = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => {
                            Some(d.to_ascii_lowercase())
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(StoredCert {
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            chain_pem,
            key_pem,
            names,
        })
    }

    /// Whether it names every one of `domains`.
    pub fn covers(&self, domains: &[String]) -> bool {
        domains
            .iter()
            .all(|d| self.names.contains(&d.to_ascii_lowercase()))
    }

    /// When to renew: a third of its lifetime before it expires (30 days for Let's Encrypt's
    /// 90-day certificates), so several failed attempts still leave weeks.
    pub fn renew_at(&self) -> i64 {
        let lifetime = (self.not_after - self.not_before).max(0);
        self.not_after - lifetime / 3
    }
}

impl AcmeStore {
    /// The store under `data_dir` (created with mode 0700 on first write).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("acme"),
        }
    }

    fn account_path(&self, directory_url: &str) -> PathBuf {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(directory_url.as_bytes());
        let short: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("account-{short}.json"))
    }

    /// The account credentials kept for `directory_url` (JSON), if any.
    pub fn account(&self, directory_url: &str) -> Option<Vec<u8>> {
        std::fs::read(self.account_path(directory_url)).ok()
    }

    pub fn save_account(&self, directory_url: &str, json: &[u8]) -> std::io::Result<()> {
        self.write(&self.account_path(directory_url), json)
    }

    /// The stored certificate, if both files are there and the chain parses.
    pub fn cert(&self) -> Option<StoredCert> {
        let chain = std::fs::read(self.dir.join("cert.pem")).ok()?;
        let key = std::fs::read(self.dir.join("key.pem")).ok()?;
        match StoredCert::parse(chain, key) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, dir = %self.dir.display(), "stored ACME certificate unreadable; obtaining a new one");
                None
            }
        }
    }

    /// Keeps a new certificate (the key first: a chain is never stored without its key).
    pub fn save_cert(&self, chain_pem: &[u8], key_pem: &[u8]) -> std::io::Result<()> {
        self.write(&self.dir.join("key.pem"), key_pem)?;
        self.write(&self.dir.join("cert.pem"), chain_pem)
    }

    /// Writes `bytes` to `path` with mode 0600 through a temporary file and a rename.
    fn write(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}
