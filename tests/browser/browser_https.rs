//! The room and voice pages over parlor's built-in HTTPS (certificate files from a test CA,
//! whose key Chromium is told to trust — the same as installing the CA, and nothing else is
//! ignored): two Chromium pages in a room decode each other's video, and a logged-in client
//! starts a voice session whose agent listens and is heard.

use crate::common;

use common::TestApp;
use common::browser::{Chromium, Launch};
use common::tls::TestCa;
use parlor::auth::join_token::{self, RoomRole};

const KEY: &[u8] = b"test-signing-secret-0123456789abcdef";

/// base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, for Chromium's SPKI list.
fn spki_hash(cert_pem: &str) -> &'static str {
    use base64::Engine;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::Digest;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    let hash = sha2::Sha256::digest(cert.public_key().raw);
    Box::leak(
        base64::engine::general_purpose::STANDARD
            .encode(hash)
            .into_boxed_str(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_and_voice_pages_work_over_the_built_in_https() {
    if common::browser::skip_without_chromium("room_and_voice_pages_work_over_the_built_in_https") {
        return;
    }
    let ca = TestCa::new("parlor browser test CA");
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = ca.leaf(&["localhost"], "localhost");
    std::fs::write(certs.path().join("cert.pem"), &cert).unwrap();
    std::fs::write(certs.path().join("key.pem"), &key).unwrap();
    let dir = certs.path().to_path_buf();
    let app = TestApp::for_browser(move |c| {
        c.http.tls.cert_path = dir.join("cert.pem");
        c.http.tls.key_path = dir.join("key.pem");
        c.http.public_url = format!("https://localhost:{}", c.http.addr.port());
        c.rtc.udp_ports = common::udp_ports(100);
    })
    .await;
    let base = app.state.config.http.public_url.clone();
    let launch = Launch {
        trust_spki: Some(spki_hash(&cert)),
        ..Launch::default()
    };

    let now = chrono::Utc::now().timestamp();
    let link = |who: &str, role| {
        let t = join_token::mint(KEY, "https-room", who, who, role, now, 600);
        format!("{base}/r/https-room#token={t}")
    };
    let mut coach = Chromium::open_with(&link("Coach", RoomRole::Coach), launch).await;
    let mut client = Chromium::open_with(&link("Client", RoomRole::Client), launch).await;
    for b in [&mut coach, &mut client] {
        assert_eq!(b.eval("location.protocol").await, "https:");
        assert_eq!(b.eval("window.isSecureContext").await, true);
        b.wait_until(
            "document.getElementById('join').disabled === false",
            20,
            "camera and microphone",
        )
        .await;
        b.eval("document.getElementById('join').click(), true")
            .await;
    }
    for b in [&mut coach, &mut client] {
        b.wait_until(
            "window.parlorStats().then(s => s.framesDecoded > 0 && s.videoWidth > 0 && s.audioEnergy > 0)",
            20,
            "each decodes the other's video and hears the other",
        )
        .await;
    }
    drop((coach, client));

    let signup = parlor::auth::Signup {
        email: "https.voice@example.org",
        name: "Vera",
        password: "correct horse battery",
        time_zone: "Europe/London",
        role: parlor::model::account::AccountRole::Client,
    };
    app.state
        .accounts
        .create_user(&signup, app.clock.now())
        .await
        .unwrap();
    let mut b = Chromium::open_with(&format!("{base}/login"), launch).await;
    let status = b
        .eval(
            "fetch('/api/auth/login', {method: 'POST', headers: {'content-type': 'application/json'}, \
             body: JSON.stringify({email: 'https.voice@example.org', password: 'correct horse battery'})}).then(r => r.status)",
        )
        .await;
    assert_eq!(status, 200, "the browser logs in over HTTPS");
    b.navigate(&format!("{base}/voice")).await;
    b.wait_until(
        "document.getElementById('voice-start').disabled === false",
        15,
        "the voice page to be ready",
    )
    .await;
    b.eval("document.getElementById('voice-start').click(), true")
        .await;
    b.wait_until(
        "window.parlorVoiceStats().then(s => s.live && s.agentState === 'listening')",
        20,
        "the agent to listen over the built-in HTTPS",
    )
    .await;
    assert!(b.page_errors().await.is_empty());
}
