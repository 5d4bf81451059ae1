//! The TCP edge of the HTTP server: accepting connections under a cap, and closing those that
//! hold a slot without using it.
//!
//! Every accepted connection is served by hyper's HTTP/1 machinery (with upgrades, for the
//! WebSockets) and watched: a connection that has sent part of a request head must finish it
//! within `http.header_timeout_secs`; one with no request in flight and no bytes moving is
//! closed after `http.idle_timeout_secs` (body and whole-request deadlines are middleware, see
//! `http::router`). At most `http.max_connections` are open at once (fewer when the process's
//! file-descriptor limit is lower); when the cap is reached, or `accept` runs out of
//! descriptors, the connection that has been idle longest is closed to make room — as nginx
//! reuses its idle keep-alive connections — so a flood of idle sockets cannot lock out a
//! client that sends a request. A connection with a request in progress or an upgraded
//! WebSocket is never evicted. With the built-in HTTPS, the TLS handshake runs first (bounded
//! by the header timeout) and HTTP is served on the TLS stream over the same watched socket.
//! Hand-written rather than `axum::serve` because that loop has no timeouts, no cap and sleeps
//! a second on `EMFILE`.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};

/// Timeouts and the cap of the TCP edge.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// How long graceful shutdown waits for requests in progress.
    pub drain_timeout: Duration,
}

/// What a connection is doing, as the watchdog and eviction see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Between requests (or before the first): nothing in flight.
    Idle = 0,
    /// Waiting for a request head that must be complete within the header timeout: a new
    /// connection, or an idle one that has sent the first bytes of its next request.
    Head = 1,
    /// A handler is running or its response is being written.
    Busy = 2,
    /// Switched protocols (WebSocket): no longer HTTP, never evicted.
    Upgraded = 3,
}

/// A connection's state, shared by its socket wrapper, its service and the registry.
struct Watch {
    phase: AtomicU8,
    /// Milliseconds since `epoch` at the last change of phase or byte moved while idle.
    since_ms: AtomicU64,
    epoch: Instant,
    /// Asks the connection's task to close it.
    evict: Notify,
}

impl Watch {
    /// A new connection: it owes its first request head within the header timeout.
    fn new(epoch: Instant) -> Self {
        let w = Self {
            phase: AtomicU8::new(Phase::Head as u8),
            since_ms: AtomicU64::new(0),
            epoch,
            evict: Notify::new(),
        };
        w.touch();
        w
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Idle,
            1 => Phase::Head,
            2 => Phase::Busy,
            _ => Phase::Upgraded,
        }
    }

    fn set(&self, p: Phase) {
        self.phase.store(p as u8, Ordering::Release);
        self.touch();
    }

    fn touch(&self) {
        self.since_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Release);
    }

    fn since(&self) -> Instant {
        self.epoch + Duration::from_millis(self.since_ms.load(Ordering::Acquire))
    }

    /// Bytes arrived: an idle connection has started a request head.
    fn on_read(&self) {
        if self
            .phase
            .compare_exchange(
                Phase::Idle as u8,
                Phase::Head as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            self.touch();
        }
    }

    /// Bytes left while idle (the tail of a response): that is activity too.
    fn on_write(&self) {
        if self.phase() == Phase::Idle {
            self.touch();
        }
    }
}

/// The open connections, for eviction.
struct Registry {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Watch>>>,
}

impl Registry {
    fn add(&self, w: Arc<Watch>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.open.lock().expect("registry lock").insert(id, w);
        id
    }

    fn remove(&self, id: u64) {
        self.open.lock().expect("registry lock").remove(&id);
    }

    /// Closes the connection idle (or stuck in its head) the longest; false if none is.
    fn evict_one(&self) -> bool {
        let victim = {
            let open = self.open.lock().expect("registry lock");
            open.values()
                .filter(|w| matches!(w.phase(), Phase::Idle | Phase::Head))
                .min_by_key(|w| w.since_ms.load(Ordering::Acquire))
                .cloned()
        };
        match victim {
            Some(w) => {
                // Not idle any more in the registry's eyes, so it is not picked twice.
                w.phase.store(Phase::Busy as u8, Ordering::Release);
                w.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The socket as hyper sees it: reads and writes report activity; the slot is released
/// when the socket is dropped (after an upgrade, when the WebSocket ends).
struct WatchedIo {
    inner: TcpStream,
    watch: Arc<Watch>,
    _slot: Slot,
}

/// A held connection slot: the permit, and the registry entry removed on drop.
struct Slot {
    _permit: OwnedSemaphorePermit,
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.on_read();
        }
        r
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.on_write();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.on_write();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The connection cap actually used: `wanted`, lowered (with a warning) so that connections
/// leave half of the process's file descriptors to media sockets, the database and files.
pub fn effective_cap(wanted: usize) -> usize {
    let limit = raise_fd_limit();
    let room = usize::try_from(limit / 2).unwrap_or(usize::MAX).max(64);
    if wanted > room {
        tracing::warn!(
            wanted,
            fd_limit = limit,
            using = room,
            "http.max_connections is above half the open-file limit; lowered"
        );
        room
    } else {
        wanted
    }
}

/// Raises the soft open-file limit to the hard one; returns the limit in force.
fn raise_fd_limit() -> u64 {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return 1024;
        }
        if l.rlim_cur < l.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: l.rlim_max,
                rlim_max: l.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                l.rlim_cur = l.rlim_max;
            }
        }
    }
    l.rlim_cur
}

/// Accepts and serves connections until `shutdown` resolves, then lets requests in progress
/// finish (up to `drain_timeout`) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    tls: Option<Arc<super::tls::Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Arc::new(Registry {
        next_id: AtomicU64::new(0),
        open: Mutex::new(HashMap::new()),
    });
    let epoch = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut last_full_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if last_full_log.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max = limits.max_connections,
                        "connection limit reached: closing the longest-idle connections to make room"
                    );
                    last_full_log = Some(Instant::now());
                }
                registry.evict_one();
                tokio::select! {
                    p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    drop(permit);
                    if is_out_of_descriptors(&e) {
                        if last_full_log.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                            tracing::warn!(error = %e, "out of file descriptors: closing idle connections");
                            last_full_log = Some(Instant::now());
                        }
                        registry.evict_one();
                    } else {
                        tracing::debug!(error = %e, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Signalling and transcript messages are small writes that must not wait for an ACK.
        let _ = tcp.set_nodelay(true);
        let watch = Arc::new(Watch::new(epoch));
        let id = registry.add(watch.clone());
        let io = WatchedIo {
            inner: tcp,
            watch: watch.clone(),
            _slot: Slot {
                _permit: permit,
                registry: registry.clone(),
                id,
            },
        };
        let (app, stop) = (app.clone(), stop_rx.clone());
        match tls.clone() {
            None => tasks.spawn(serve_one(io, peer, app, watch, limits, stop)),
            // The handshake must finish within the header timeout, like a request head.
            Some(tls) => tasks.spawn(async move {
                match tokio::time::timeout(limits.header_timeout, tls.accept(io)).await {
                    Ok(Ok(Some(stream))) => serve_one(stream, peer, app, watch, limits, stop).await,
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            }),
        };
        // Reap finished connection tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still running after the drain time; closing them");
        tasks.abort_all();
    }
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Serves one connection (plain, or TLS over the watched socket) under its watchdog.
async fn serve_one<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    watch: Arc<Watch>,
    limits: EdgeLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_watch = watch.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let app = app.clone();
        let w = service_watch.clone();
        w.set(Phase::Busy);
        req.extensions_mut().insert(ConnectInfo(peer));
        async move {
            let res = tower::ServiceExt::oneshot(app, req.map(axum::body::Body::new)).await;
            let next = match &res {
                Ok(r) if r.status() == hyper::StatusCode::SWITCHING_PROTOCOLS => Phase::Upgraded,
                _ => Phase::Idle,
            };
            w.set(next);
            res
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // The watchdog below owns the head and idle deadlines.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let deadline = match watch.phase() {
            Phase::Idle => Some(watch.since() + limits.idle_timeout),
            Phase::Head => Some(watch.since() + limits.header_timeout),
            Phase::Busy | Phase::Upgraded => None,
        };
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                // Re-check now and then: the phase changes without waking this task.
                None => tokio::time::sleep(limits.header_timeout.min(Duration::from_secs(1))).await,
            }
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = watch.evict.notified() => return,
            () = sleep => {
                let expired = match watch.phase() {
                    Phase::Idle => watch.since().elapsed() >= limits.idle_timeout,
                    Phase::Head => watch.since().elapsed() >= limits.header_timeout,
                    Phase::Busy | Phase::Upgraded => false,
                };
                if expired {
                    return;
                }
            }
            r = stop.changed(), if !draining => {
                draining = true;
                if r.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
