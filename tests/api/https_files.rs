//! HTTPS from certificate files (`http.tls`): the API and the `/rtc` WebSocket over TLS for
//! a client that trusts the CA; a renewed certificate renamed into place is served without a
//! restart, a broken file keeps the last good certificate; a client trusting another CA and
//! plain HTTP on the HTTPS port get nothing; the redirect listener sends plain HTTP to the
//! HTTPS address. The real binary: a bad file stops the start naming the file, and SIGHUP
//! reloads (and, without certificate files, is noted and does not kill the process, as it
//! would by default).

use crate::common;

use common::process::{Server, free_port, parlor, text};
use common::tls::{self, TestCa};
use common::{Backend, TestApp};
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `cert`/`key` to the two files as a renewal tool does: new files renamed into place.
fn install(dir: &Path, cert: &str, key: &str) {
    for (name, pem) in [("key.pem", key), ("cert.pem", cert)] {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, pem).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_from_files_serves_the_api_and_rtc_and_picks_up_a_renewed_certificate() {
    let ca = TestCa::new("parlor test CA");
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = ca.leaf(&["localhost"], "first");
    install(certs.path(), &cert, &key);
    let (cert_path, key_path) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let redirect_port = free_port();
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.http.tls.cert_path = cert_path.clone();
        c.http.tls.key_path = key_path.clone();
        c.http.tls.redirect_addr = format!("127.0.0.1:{redirect_port}");
        c.http.public_url = format!("https://localhost:{}", c.http.addr.port());
        c.rtc.udp_ports = common::udp_ports(4);
    })
    .await;
    let port = app.state.config.http.addr.port();
    let trusting = tls::client_config(&[&ca.pem()]);

    let ready = tls::get(port, "localhost", "/readyz", &trusting)
        .await
        .unwrap();
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
    assert_eq!(tls::common_name(&ready.leaf), "first");
    let token = common::sfu::token(&app, "tls-room", "tess", "Tess");
    let joined = tls::rtc_first_answer(
        port,
        "localhost",
        &trusting,
        &format!(r#"{{"type":"join","token":"{token}"}}"#),
    )
    .await
    .unwrap();
    assert!(joined.contains(r#""type":"joined""#), "{joined}");

    let stranger = tls::client_config(&[&TestCa::new("another CA").pem()]);
    assert!(
        tls::get(port, "localhost", "/readyz", &stranger)
            .await
            .is_err(),
        "a client that does not trust the CA gets no answer"
    );
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| r.status() != 200),
        "plain HTTP on the HTTPS port is not served"
    );

    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{redirect_port}/r/some-room?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("https://localhost:{port}/r/some-room?x=1").as_str()
    );

    // A renewal lands: served to new connections without a restart.
    let (cert2, key2) = ca.leaf(&["localhost"], "second");
    install(certs.path(), &cert2, &key2);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let f = tls::get(port, "localhost", "/healthz", &trusting)
            .await
            .unwrap();
        if tls::common_name(&f.leaf) == "second" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate is never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A broken file: the last good certificate stays.
    std::fs::write(&cert_path, "not a certificate").unwrap();
    tokio::time::sleep(parlor::server::tls::files::POLL * 2).await;
    let f = tls::get(port, "localhost", "/healthz", &trusting)
        .await
        .unwrap();
    assert_eq!(
        (f.status, tls::common_name(&f.leaf).as_str()),
        (200, "second")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_names_a_bad_certificate_file_and_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/x.db", dir.path().display());
    let missing = dir.path().join("no-such-cert.pem");
    let out = parlor(dir.path())
        .arg("serve")
        .env("PARLOR_DATABASE__URL", &db)
        .env("PARLOR_HTTP__ADDR", format!("127.0.0.1:{}", free_port()))
        .env("PARLOR_HTTP__PUBLIC_URL", "https://localhost")
        .env("PARLOR_HTTP__TLS__CERT_PATH", &missing)
        .env("PARLOR_HTTP__TLS__KEY_PATH", dir.path().join("key.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("No such file"),
        "names the file and why: {err}"
    );

    // Without certificate files SIGHUP (`systemctl reload`) is noted and changes nothing: it
    // must not end the process, as the signal's default action would.
    let plain = Server::start(dir.path(), &[("PARLOR_DATABASE__URL", &db)]).await;
    plain.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !plain.logs().contains("SIGHUP: nothing to reload") {
        assert!(
            Instant::now() < deadline,
            "SIGHUP not noted: {}",
            plain.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = reqwest::get(plain.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), 200, "still serving after SIGHUP");
    drop(plain);

    let ca = TestCa::new("parlor test CA");
    let (cert, key) = ca.leaf(&["localhost"], "first");
    install(dir.path(), &cert, &key);
    let port = free_port();
    let public = format!("https://localhost:{port}");
    let cert_path = dir.path().join("cert.pem").display().to_string();
    let key_path = dir.path().join("key.pem").display().to_string();
    let server = Server::spawn_on(
        dir.path(),
        port,
        &[
            ("PARLOR_DATABASE__URL", &db),
            ("PARLOR_HTTP__PUBLIC_URL", &public),
            ("PARLOR_HTTP__TLS__CERT_PATH", &cert_path),
            ("PARLOR_HTTP__TLS__KEY_PATH", &key_path),
        ],
    );
    let trusting = tls::client_config(&[&ca.pem()]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while tls::get(port, "localhost", "/readyz", &trusting)
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "no HTTPS: {}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.logs().contains("why=\"SIGHUP\"") {
        assert!(
            Instant::now() < deadline,
            "no reload on SIGHUP: {}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        server.logs().contains("TLS certificate reloaded"),
        "{}",
        server.logs()
    );
    let f = tls::get(port, "localhost", "/readyz", &trusting)
        .await
        .unwrap();
    assert_eq!(
        f.status,
        200,
        "still serving after SIGHUP: {}",
        server.logs()
    );
}
