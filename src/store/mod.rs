//! Persistence: sqlx repositories over SQLite (the embedded default) and PostgreSQL.
//!
//! One code path serves both backends through sqlx's `Any` driver; the database URL picks the
//! backend. SQL here is portable (`$N` placeholders, BIGINT unix seconds for instants, TEXT
//! ids); the two schemas live in `migrations/sqlite` and `migrations/postgres`. This module
//! maps rows to domain types and database constraint violations to [`StoreError::Conflict`];
//! it holds no business rules (those live in `booking` and `auth`).

mod audit;
pub mod bookings;
pub mod coaches;
mod commitments;
pub mod outbox;
mod privacy;
pub mod push;
pub mod users;
mod voice;
pub mod webhooks;

pub use audit::{AuditEntry, AuditFilter};
pub use privacy::PersonalData;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Transaction};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Which database engine the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint rejected the write; the payload names the constraint/index.
    #[error("conflict on {0}")]
    Conflict(String),
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A stored value could not be turned back into a domain value.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database cannot write: its disk is full or it is read-only.
    #[error("the database cannot write: {0}")]
    Unwritable(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                // PostgreSQL names the index; SQLite names the columns in the message.
                let name = db.constraint().map(str::to_string);
                StoreError::Conflict(name.unwrap_or_else(|| db.message().to_string()))
            }
            sqlx::Error::Database(db) if cannot_write(db.code().as_deref()) => {
                StoreError::Unwritable(db.message().to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

/// Error codes of a database that cannot write: SQLite's FULL (13), READONLY (8 and its
/// extended codes) and CANTOPEN (14); PostgreSQL's disk_full (53100) and
/// read_only_sql_transaction (25006).
fn cannot_write(code: Option<&str>) -> bool {
    match code {
        Some("53100" | "25006") => true,
        Some(c) => c
            .parse::<i32>()
            .is_ok_and(|n| matches!(n & 0xff, 8 | 13 | 14)),
        None => false,
    }
}

/// Result alias of this layer.
pub type StoreResult<T> = Result<T, StoreError>;

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time. Queueing write transactions here, in the process,
    /// keeps them out of SQLite's busy handler, which waits by sleeping (up to 100 ms a try).
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    /// The SQLite database file (`None` on PostgreSQL and for in-memory databases).
    sqlite_path: Option<std::path::PathBuf>,
}

/// A write transaction; on SQLite it also holds this process's writer slot until it ends.
pub(crate) struct WriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits and releases the writer slot.
    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Connects to `url` (`sqlite://…` creates the file and its directory if missing).
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url_with_create(url)?,
            Backend::Postgres => url.to_string(),
        };
        let mut opts = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers proceed during a write; the busy timeout makes writers
                    // queue instead of failing while another transaction holds the lock.
                    // Checkpoints (which fsync) run in `checkpoint()`, off the request path.
                    // The busy timeout comes first so that switching a new file to WAL waits
                    // for another process doing the same instead of failing.
                    sqlx::raw_sql("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let sqlite_path = match backend {
            Backend::Sqlite => sqlite_file(&url),
            Backend::Postgres => None,
        };
        if let Some(path) = &sqlite_path {
            // SQLite's own message ("unable to open database file") names neither the file
            // nor the cause.
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .map_err(|e| {
                    StoreError::Unwritable(format!(
                        "cannot open {} for writing: {e}",
                        path.display()
                    ))
                })?;
        }
        let pool = opts.connect(&url).await?;
        Ok(Store {
            pool,
            backend,
            sqlite_writer: Arc::new(tokio::sync::Mutex::new(())),
            sqlite_path,
        })
    }

    /// Applies pending migrations for this backend. Several processes starting at once on one
    /// database migrate one after the other: on PostgreSQL under sqlx's advisory lock, on
    /// SQLite under an exclusive lock on `<database file>.migrate-lock`.
    pub async fn migrate(&self) -> StoreResult<()> {
        let _lock = match &self.sqlite_path {
            Some(path) => Some(MigrationLock::acquire(path).await?),
            None => None,
        };
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers and can write (for `/readyz`): a write to the one-row
    /// `health_probe` table, and on SQLite at least 1 MiB free beside the database file
    /// (a full disk can still take the small probe into reused WAL space).
    pub async fn ping(&self) -> StoreResult<()> {
        if let Some(path) = &self.sqlite_path {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = dir.unwrap_or(Path::new("."));
            if let Some(free) = free_bytes(dir)
                && free < 1024 * 1024
            {
                return Err(StoreError::Unwritable(format!(
                    "{} has {free} bytes free",
                    dir.display()
                )));
            }
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE health_probe SET beats = beats + 1 WHERE id = 1")
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Copies the SQLite write-ahead log into the database file (no-op on PostgreSQL).
    /// Called periodically by the server instead of SQLite's automatic checkpoint, which would
    /// run (and fsync) inside whichever request commits at that moment.
    pub async fn checkpoint(&self) -> StoreResult<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Closes the pool (graceful shutdown).
    pub async fn close(&self) {
        let _ = self.checkpoint().await;
        self.pool.close().await;
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// after queueing for the writer slot, so check-then-insert sequences cannot interleave;
    /// on PostgreSQL the caller locks rows.
    pub(crate) async fn begin_write(&self) -> StoreResult<WriteTx> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let writer = self.sqlite_writer.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                WriteTx {
                    tx,
                    _writer: Some(writer),
                }
            }
            Backend::Postgres => WriteTx {
                tx: self.pool.begin().await?,
                _writer: None,
            },
        })
    }

    /// The pool, for repository modules.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Adds `mode=rwc` and creates the parent directory of a SQLite file URL.
fn sqlite_url_with_create(url: &str) -> StoreResult<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && !path.is_empty()
        && let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("cannot create {}: {e}", parent.display()).into(),
            ))
        })?;
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Bytes available to this process on the file system holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct we pass; `c` is a valid NUL-terminated path.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut st) == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
    }
}

/// The file of a `sqlite://path?query` URL, if it names one.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// An exclusive advisory lock (`flock`) on a file beside the SQLite database, held while
/// migrations run; released when dropped (or when the process dies).
struct MigrationLock {
    _file: std::fs::File,
}

impl MigrationLock {
    async fn acquire(db: &Path) -> StoreResult<Self> {
        let mut name = db.as_os_str().to_owned();
        name.push(".migrate-lock");
        let path = std::path::PathBuf::from(name);
        let fail = |what: &str, path: &Path, e: std::io::Error| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("{what} {}: {e}", path.display()).into(),
            ))
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| fail("cannot open the migration lock", &path, e))?;
        let file = tokio::task::spawn_blocking(move || {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor this function owns.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                Ok(file)
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
        .await
        .expect("flock does not panic")
        .map_err(|e| fail("cannot lock", &path, e))?;
        Ok(Self { _file: file })
    }
}

/// Unix seconds of an instant.
pub(crate) fn secs(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp()
}

/// The instant of unix seconds (out-of-range values are corrupt data).
pub(crate) fn instant(s: i64) -> StoreResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(s, 0).ok_or_else(|| StoreError::Corrupt(format!("time {s}")))
}
