//! Media socket buffers. webrtc-rs binds its UDP sockets itself and leaves them at the kernel's
//! default buffers (~208 KiB), which a keyframe burst of a busy room overflows: the packets
//! are dropped by the kernel and must be retransmitted. [`SizedSockets`] is the tokio runtime
//! webrtc-rs would use anyway, except that every UDP socket it wraps first gets the configured
//! receive and send buffers. Linux caps them at `net.core.rmem_max` / `wmem_max`; the first
//! capped socket logs a warning naming the sysctl to raise (once per process).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
};

/// The receive and send buffer sizes asked for (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferSizes {
    pub recv: usize,
    pub send: usize,
}

/// What the kernel granted, as it reports it (Linux reports twice the usable size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    pub recv: usize,
    pub send: usize,
}

impl Granted {
    /// Whether the kernel gave less than asked (Linux grants `min(asked, max) * 2`).
    pub fn capped(&self, asked: BufferSizes) -> bool {
        self.recv / 2 < asked.recv || self.send / 2 < asked.send
    }
}

/// Sets the buffers of `socket`; returns what the kernel granted.
pub fn size_buffers(socket: &std::net::UdpSocket, sizes: BufferSizes) -> io::Result<Granted> {
    let s = socket2::SockRef::from(socket);
    s.set_recv_buffer_size(sizes.recv)?;
    s.set_send_buffer_size(sizes.send)?;
    Ok(Granted {
        recv: s.recv_buffer_size()?,
        send: s.send_buffer_size()?,
    })
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// A webrtc-rs runtime that sizes every UDP socket's buffers before handing it on to `inner`.
#[derive(Debug)]
pub struct SizedSockets {
    inner: Arc<dyn Runtime>,
    sizes: BufferSizes,
}

impl SizedSockets {
    /// Wraps webrtc-rs's tokio runtime.
    pub fn tokio(sizes: BufferSizes) -> Self {
        Self {
            inner: webrtc::runtime::default_runtime().expect("webrtc is built with tokio"),
            sizes,
        }
    }
}

impl Runtime for SizedSockets {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        match size_buffers(&socket, self.sizes) {
            Ok(granted) if granted.capped(self.sizes) => {
                if !WARNED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        asked_recv = self.sizes.recv,
                        asked_send = self.sizes.send,
                        granted_recv = granted.recv / 2,
                        granted_send = granted.send / 2,
                        "the kernel capped the media socket buffers (rtc.recv_buffer_bytes, \
                         rtc.send_buffer_bytes): raise net.core.rmem_max and net.core.wmem_max"
                    );
                }
            }
            Ok(_) => {}
            Err(e) => {
                if !WARNED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "could not size the media socket buffers");
                }
            }
        }
        self.inner.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> std::time::Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio, sized media sockets"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rmem_max() -> Option<usize> {
        std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    #[test]
    fn buffers_are_set_and_a_cap_is_recognised() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let default = socket2::SockRef::from(&sock).recv_buffer_size().unwrap();
        // Below the smallest usual net.core.rmem_max / wmem_max (212992), above the default.
        let small = BufferSizes {
            recv: 160 << 10,
            send: 96 << 10,
        };
        let granted = size_buffers(&sock, small).unwrap();
        assert_eq!(granted.recv, 2 * small.recv, "Linux doubles what it grants");
        assert_eq!(granted.send, 2 * small.send);
        assert!(granted.recv > default, "{granted:?} vs default {default}");
        assert!(!granted.capped(small));
        // Asking beyond the system maximum is granted the maximum, and recognised as capped.
        if let Some(max) = rmem_max() {
            let huge = BufferSizes {
                recv: max + (1 << 20),
                send: 64 << 10,
            };
            let granted = size_buffers(&sock, huge).unwrap();
            assert!(granted.capped(huge), "{granted:?}");
            assert_eq!(granted.recv, 2 * max);
        }
    }

    #[tokio::test]
    async fn every_socket_the_runtime_wraps_is_sized() {
        // Within any usual net.core.rmem_max / wmem_max (212992 at the least).
        let sizes = BufferSizes {
            recv: 160 << 10,
            send: 96 << 10,
        };
        let rt = SizedSockets::tokio(sizes);
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // The same socket, seen through a second descriptor after it is handed over.
        let probe = sock.try_clone().unwrap();
        let before = socket2::SockRef::from(&probe).recv_buffer_size().unwrap();
        let _wrapped = rt.wrap_udp_socket(sock).unwrap();
        let after = socket2::SockRef::from(&probe);
        assert_eq!(
            after.recv_buffer_size().unwrap(),
            2 * sizes.recv,
            "was {before}"
        );
        assert_eq!(after.send_buffer_size().unwrap(), 2 * sizes.send);
    }
}
