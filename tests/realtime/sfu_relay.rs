//! A client whose network allows only relayed traffic reaches the SFU through a real coturn:
//! the server hands out time-limited TURN credentials (coturn REST-API scheme) in the join
//! reply, the client restricts itself to relay candidates, and media flows both ways with the
//! selected path on a relay candidate.
//!
//! coturn (Debian package `coturn`, installed by `.ci/run`) is started by the test on loopback
//! with a shared secret. Without `turnserver` on the PATH the test fails, unless
//! `TEST_SKIP_TURN=1` is set, in which case it says loudly that it was skipped.

use crate::common;

use common::TestApp;
use common::sfu::*;
use parlor::client::signal::Client;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TURN_SECRET: &str = "turn-shared-secret-for-tests-0123456789";

/// A coturn process on loopback; killed on drop.
struct Coturn {
    child: Child,
    port: u16,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_coturn(port: u16, relay_ports: (u16, u16)) -> Option<Coturn> {
    let bin = which("turnserver")?;
    let child = Command::new(bin)
        .args([
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            &format!("--listening-port={port}"),
            &format!("--min-port={}", relay_ports.0),
            &format!("--max-port={}", relay_ports.1),
            "--use-auth-secret",
            &format!("--static-auth-secret={TURN_SECRET}"),
            "--realm=parlor.test",
            "--allow-loopback-peers",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--no-tcp-relay",
            "--log-file=stdout",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start turnserver");
    Some(Coturn { child, port })
}

/// Waits until a STUN Binding request to 127.0.0.1:`port` is answered; panics at `limit`.
async fn stun_answers(port: u16, limit: Duration) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Binding request: type 0x0001, length 0, the magic cookie, a transaction id.
    let mut req = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    req.extend_from_slice(b"parlor-probe");
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 512];
    while tokio::time::Instant::now() < deadline {
        let _ = socket.send_to(&req, ("127.0.0.1", port)).await;
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(100), socket.recv_from(&mut buf)).await
            && n >= 20
            && buf[..2] == [0x01, 0x01]
            && buf[8..20] == req[8..20]
        {
            return;
        }
    }
    panic!("coturn did not answer STUN on port {port} within {limit:?}");
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.is_file())
}

async fn relay_app(server_ports: &str, turn: &Coturn) -> TestApp {
    let ports = server_ports.to_string();
    let url = format!("turn:127.0.0.1:{}?transport=udp", turn.port);
    TestApp::start_with(common::Backend::Sqlite, move |c| {
        c.rtc.udp_ports = ports;
        c.rtc.turn_urls = vec![url];
        c.rtc.turn_secret = parlor::config::Secret::new(TURN_SECRET);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_client_connects_through_coturn_and_media_flows_both_ways() {
    let Some(turn) = start_coturn(
        // coturn also listens on the next port (its alternate port): a block of two.
        crate::common::udp_block(2).0,
        crate::common::udp_block(40),
    ) else {
        if std::env::var("TEST_SKIP_TURN").as_deref() == Ok("1") {
            eprintln!(
                "\n!!!!! SKIPPED: turnserver (coturn) is not installed; TEST_SKIP_TURN=1 !!!!!\n"
            );
            return;
        }
        panic!("turnserver (Debian package coturn) is not installed; set TEST_SKIP_TURN=1 to skip");
    };
    // coturn takes a variable time to start (seconds on a loaded machine): wait until it
    // answers a STUN Binding request on its port rather than for a fixed time.
    stun_answers(turn.port, Duration::from_secs(15)).await;
    let app = relay_app(&crate::common::udp_ports(20), &turn).await;

    let mut relayed = transport(20);
    relayed.relay_only = true;
    let direct = transport(20);

    let mut a = Client::join(&ws(&app), &token(&app, "relay-room", "a", "Ana"), &relayed)
        .await
        .expect("relay-only client joins");
    let parlor::signal::protocol::ServerMessage::Joined { ice_servers, .. } = &a.joined else {
        panic!("joined reply");
    };
    let turn_entry = ice_servers
        .iter()
        .find(|s| s.urls.iter().any(|u| u.starts_with("turn:")))
        .expect("the join reply hands out the TURN server");
    let user = turn_entry.username.as_deref().expect("TURN username");
    let (expiry, identity) = user.split_once(':').expect("username is expiry:identity");
    assert_eq!(identity, "a");
    // TURN credentials are checked by coturn against the real clock, so they are minted on it.
    assert!(expiry.parse::<i64>().unwrap() > chrono::Utc::now().timestamp());

    let mut b = join(&app, &direct, "relay-room", "b", "Ben").await;
    let (a_tracks, _) = publish_av(&mut a, 0x5100_0001, 0x5100_0002).await;
    let (b_tracks, _) = publish_av(&mut b, 0x5200_0001, 0x5200_0002).await;
    let senders = [spawn_sender(a_tracks, 12), spawn_sender(b_tracks, 12)];

    // Each side receives the other's audio and video, intact.
    let at_b = tracks_from(&mut b, 2).await;
    let at_a = tracks_from(&mut a, 2).await;
    for (who, tracks) in [("b receives a", &at_b), ("a receives b", &at_a)] {
        for (_, remote) in tracks.iter() {
            let kind = remote.kind().await;
            let n = intact_packets(remote, 20, kind).await;
            assert!(n >= 20, "{who}: {kind:?} got {n} intact packets");
        }
    }
    // Both of a's connections run over a relay candidate.
    let (up, down) = a.link_stats().await;
    assert_eq!(up.local_candidate_type.as_deref(), Some("relay"), "{up:?}");
    assert_eq!(
        down.local_candidate_type.as_deref(),
        Some("relay"),
        "{down:?}"
    );
    let (up, _) = b.link_stats().await;
    assert_ne!(up.local_candidate_type.as_deref(), Some("relay"), "{up:?}");

    for s in senders {
        s.abort();
    }
    a.close().await;
    b.close().await;
}
