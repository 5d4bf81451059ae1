//! Starting and stopping the server: open the store, run migrations, load the signing key,
//! serve HTTP until the shutdown future resolves, then drain the rooms ([`drain`]), finish
//! requests in progress and close.

pub mod acme;
pub mod connections;
pub mod drain;
pub mod https;
pub mod redirect;
pub mod tls;

use crate::auth::signing_key;
use crate::clock::Clock;
use crate::config::Config;
use crate::http::{AppState, router};
use crate::store::{Store, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("signing key in {dir}: {source}")]
    SigningKey {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the delivery thread: {0}")]
    Outbox(std::io::Error),
    #[error("Web Push (VAPID) key in {dir}: {source}")]
    VapidKey {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Voice(crate::voice::AgentError),
    #[error("HTTPS certificate: {0}")]
    Tls(tls::TlsError),
    #[error("ACME: {0}")]
    Acme(String),
    #[error("{0}")]
    Notify(#[from] crate::notify::smtp::SmtpSetupError),
}

/// Opens the database (running migrations) and builds the application state.
pub async fn prepare(config: Arc<Config>, clock: Clock) -> Result<AppState, StartError> {
    let store = Store::connect(
        config.database.url.expose(),
        config.database.max_connections,
    )
    .await?;
    store.migrate().await?;
    let key = signing_key::load_or_create(&config.auth.signing_secret, &config.data_dir).map_err(
        |source| StartError::SigningKey {
            dir: config.data_dir.clone(),
            source,
        },
    )?;
    if config.public_url_blocks_media() {
        tracing::warn!(
            public_url = %config.http.public_url,
            "http.public_url is plain http at an address other than localhost: browsers allow \
             the camera and microphone only on https pages, so video rooms and voice sessions \
             will not work; serve parlor over https (e.g. behind a TLS proxy) and set \
             http.public_url to its https:// address"
        );
    }
    let agent = crate::voice::agent_from_config(&config).map_err(StartError::Voice)?;
    tracing::info!(
        agent = %crate::voice::describe_agent(&config),
        codec = crate::voice::core::audio::opus_ffi::version(),
        "voice agent"
    );
    let vapid =
        crate::notify::push::Vapid::load_or_create(&config.data_dir, &config.push_subject())
            .map_err(|source| StartError::VapidKey {
                dir: config.data_dir.clone(),
                source,
            })?;
    Ok(AppState::new(
        config,
        store,
        key,
        Arc::new(vapid),
        clock,
        agent,
    ))
}

/// Binds the configured address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Serves until `shutdown` resolves, then drains the rooms (see [`drain`]), finishes
/// in-flight requests and closes the pool.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    serve_draining(state, listener, shutdown, std::future::pending).await
}

/// Serves until the first Ctrl-C or SIGTERM; a second one cuts the drain short.
pub async fn serve_until_signalled(
    state: AppState,
    listener: TcpListener,
) -> Result<(), StartError> {
    // SIGHUP must never end the process (its default action): `systemctl reload` sends it.
    // With certificate files the TLS watcher reloads them on it; otherwise it is noted.
    let files = state.config.http.tls.from_files();
    let hup = tokio::spawn(async move {
        let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while s.recv().await.is_some() {
            if !files {
                tracing::info!("SIGHUP: nothing to reload (no http.tls certificate files)");
            }
        }
    });
    // The second listener is made after the first signal, so that signal does not count twice.
    let r = serve_draining(state, listener, shutdown_signal(), shutdown_signal).await;
    hup.abort();
    r
}

async fn serve_draining<H: Future<Output = ()> + Send>(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    hurry: impl FnOnce() -> H + Send + 'static,
) -> Result<(), StartError> {
    let https = https::Https::start(&state.config).await?;
    let worker = crate::notify::worker::Worker::new(
        state.store.clone(),
        state.clock.clone(),
        state.config.clone(),
        state.notify_metrics.clone(),
        state.vapid.clone(),
    )?;
    // On a thread of its own (see Worker::spawn_thread); stopped at the end: a message it was
    // sending is sent again by the next start (its lease runs out), with the same Message-ID.
    let outbox = worker.spawn_thread().map_err(StartError::Outbox)?;
    let lifecycle = tokio::spawn(crate::notify::lifecycle::run(
        state.rooms.observe(),
        state.store.clone(),
        state.clock.clone(),
        state.config.clone(),
    ));
    let maintenance = tokio::spawn(maintenance(state.clone()));
    let http = &state.config.http;
    let limits = connections::EdgeLimits {
        max_connections: connections::effective_cap(http.max_connections),
        header_timeout: Duration::from_secs(http.header_timeout_secs),
        idle_timeout: Duration::from_secs(http.idle_timeout_secs),
        drain_timeout: Duration::from_secs(http.request_timeout_secs),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let st = state.clone();
    let stop = async move {
        shutdown.await;
        drain::run(&st, hurry()).await;
        let _ = stop_tx.send(true);
    };
    let (tls, redirect, upkeep) = match https {
        Some(h) => (Some(h.tls), h.redirect, Some(h.upkeep)),
        None => (None, None, None),
    };
    let redirect = redirect.map(|(listener, app)| {
        let mut rx = stop_rx.clone();
        tokio::spawn(connections::serve(
            listener,
            app,
            limits,
            None,
            async move {
                let _ = rx.wait_for(|stopped| *stopped).await;
            },
        ))
    });
    connections::serve(listener, router(state.clone()), limits, tls, stop).await;
    if let Some(r) = redirect {
        let _ = r.await;
    }
    if let Some(u) = upkeep {
        u.abort();
    }
    maintenance.abort();
    lifecycle.abort();
    outbox.stop().await;
    state.store.close().await;
    Ok(())
}

/// Background upkeep: a WAL checkpoint every two seconds, and hourly clean-up of expired
/// sessions, old idempotency keys, and voice transcripts and sent notifications past their
/// retention.
async fn maintenance(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        if let Err(e) = state.store.checkpoint().await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        if n % 1800 != 1 {
            continue;
        }
        let now = state.clock.now();
        let ttl = chrono::Duration::hours(i64::from(state.config.booking.idempotency_ttl_hours));
        if let Err(e) = state.store.purge_expired_sessions(now).await {
            tracing::warn!(error = %e, "session clean-up failed");
        }
        if let Err(e) = state.store.purge_idempotency(now - ttl).await {
            tracing::warn!(error = %e, "idempotency clean-up failed");
        }
        let days = state.config.retention.voice_transcript_days;
        if days > 0
            && let Err(e) = state
                .store
                .purge_voice_transcripts(now - chrono::Duration::days(i64::from(days)))
                .await
        {
            tracing::warn!(error = %e, "voice transcript retention failed");
        }
        let days = state.config.retention.outbox_days;
        if days > 0
            && let Err(e) = state
                .store
                .purge_outbox(
                    now - chrono::Duration::days(i64::from(days)),
                    now - chrono::Duration::days(1),
                )
                .await
        {
            tracing::warn!(error = %e, "outbox retention failed");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
