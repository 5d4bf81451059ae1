//! Certificates over ACME from Let's Encrypt's test CA, Pebble (Debian `pebble`), started
//! here with `pebble-challtestsrv` as its DNS (every name is 127.0.0.1). The real binary:
//! - TLS-ALPN-01 on the HTTPS port: parlor creates an account, proves `parlor.test`, serves
//!   the certificate (verified against Pebble's root) for the API and `/rtc`; the account and
//!   certificate files are 0600; a short-lived certificate is renewed by itself and served
//!   without a restart; after a restart the stored certificate is served without a new order.
//! - HTTP-01 on the redirect listener gets a certificate too.
//! - A name the CA refuses is logged with the CA's own words, and the server keeps running.
//!
//! Pebble runs on the real clock (a Go binary: libfaketime cannot move it), so under
//! `suite_at_times.sh` certificate validity cannot agree with the test's clock: the test says
//! so and skips there. Without Pebble it skips loudly, except in CI, where it fails.

use crate::common;

use common::process::{Server, free_port};
use common::tls::{self, TestCa};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Pebble's certificates live: parlor renews a third before the end (after ~27 s).
const VALIDITY_SECS: u64 = 40;

struct Pebble {
    children: Vec<Child>,
    dir: PathBuf,
    port: u16,
    management: u16,
    /// The CA of Pebble's own HTTPS (not the issuing root).
    own_ca: String,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Pebble {
    /// Starts Pebble validating TLS-ALPN-01 on `tls_port` and HTTP-01 on `http_port`.
    async fn start(dir: &Path, tls_port: u16, http_port: u16) -> Pebble {
        let ca = TestCa::new("pebble's own test CA");
        let (cert, key) = ca.leaf(&["localhost"], "localhost");
        std::fs::write(dir.join("pebble.pem"), cert).unwrap();
        std::fs::write(dir.join("pebble.key"), key).unwrap();
        let (port, management, dns, dns_mgmt) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.join("pebble.pem"),
            "privateKey": dir.join("pebble.key"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "domainBlocklist": ["blocked.test"],
            "certificateValidityPeriod": VALIDITY_SECS,
        }});
        std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let dns_server = Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv starts");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble starts");
        let p = Pebble {
            children: vec![dns_server, pebble],
            dir: dir.to_path_buf(),
            port,
            management,
            own_ca: ca.pem(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !p.log().contains("ACME directory available") {
            assert!(
                Instant::now() < deadline,
                "Pebble did not start: {}",
                p.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pebble.log")).unwrap_or_default()
    }

    fn directory(&self) -> String {
        format!("https://localhost:{}/dir", self.port)
    }

    /// The root Pebble issues under (new at every start).
    async fn issuing_root(&self) -> String {
        let own = tls::client_config(&[&self.own_ca]);
        let f = tls::get(self.management, "localhost", "/roots/0", &own)
            .await
            .expect("Pebble's management API answers");
        assert_eq!(f.status, 200);
        f.body
    }
}

fn pebble_missing(test: &str) -> bool {
    if std::env::var_os("FAKETIME").is_some() {
        eprintln!(
            "\n*** SKIPPED {test}: under libfaketime; Pebble (Go) keeps the real clock, so the \
             validity of its certificates cannot agree with the test's ***\n"
        );
        return true;
    }
    let found = ["pebble", "pebble-challtestsrv"].iter().all(|b| {
        Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found {
        return false;
    }
    assert!(
        std::env::var("CI").is_err(),
        "Pebble is required in CI (apt-get install pebble)"
    );
    eprintln!("\n*** SKIPPED {test}: no pebble (apt-get install pebble) ***\n");
    true
}

/// A `parlor serve` on `port` getting its certificate for `domain` from `pebble`.
fn acme_server(
    dir: &Path,
    port: u16,
    pebble: &Pebble,
    domain: &str,
    extra: &[(&str, &str)],
) -> Server {
    let ca_path = pebble.dir.join("pebble-own-ca.pem");
    std::fs::write(&ca_path, &pebble.own_ca).unwrap();
    let db = format!("sqlite://{}/x.db", dir.display());
    let public = format!("https://{domain}:{port}");
    let directory = pebble.directory();
    let ca = ca_path.display().to_string();
    let domains = format!("[\"{domain}\"]");
    let mut env: Vec<(&str, &str)> = vec![
        ("PARLOR_DATABASE__URL", &db),
        ("PARLOR_HTTP__PUBLIC_URL", &public),
        ("PARLOR_HTTP__ACME__DOMAINS", &domains),
        ("PARLOR_HTTP__ACME__CONTACT", "[\"mailto:ops@parlor.test\"]"),
        ("PARLOR_HTTP__ACME__DIRECTORY_URL", &directory),
        ("PARLOR_HTTP__ACME__DIRECTORY_CA_PATH", &ca),
    ];
    env.extend_from_slice(extra);
    Server::spawn_on(dir, port, &env)
}

/// Waits until `https://domain:port/path` answers 200 with a certificate verified against
/// `root`; returns the leaf served.
async fn served(port: u16, domain: &str, root: &str, server: &Server, limit: Duration) -> Vec<u8> {
    let client = tls::client_config(&[root]);
    let deadline = Instant::now() + limit;
    loop {
        match tls::get(port, domain, "/readyz", &client).await {
            Ok(f) if f.status == 200 => return f.leaf,
            r => assert!(
                Instant::now() < deadline,
                "no verified HTTPS for {domain} within {limit:?} ({r:?}): {}",
                server.logs()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn serial(der: &[u8]) -> String {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    c.raw_serial_as_string()
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_with_pebble_issues_renews_and_reuses_and_names_a_refusal() {
    if pebble_missing("acme_with_pebble_issues_renews_and_reuses_and_names_a_refusal") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (port, http01_port) = (free_port(), free_port());
    let pebble = Pebble::start(work.path(), port, http01_port).await;
    let root = pebble.issuing_root().await;

    // TLS-ALPN-01 on the HTTPS port.
    let main_dir = tempfile::tempdir().unwrap();
    let mut main = acme_server(main_dir.path(), port, &pebble, "parlor.test", &[]);
    // HTTP-01 on another server's redirect listener (where Pebble sends HTTP-01).
    let h_dir = tempfile::tempdir().unwrap();
    let h_port = free_port();
    let redirect = format!("127.0.0.1:{http01_port}");
    let h = acme_server(
        h_dir.path(),
        h_port,
        &pebble,
        "http01.parlor.test",
        &[
            ("PARLOR_HTTP__ACME__CHALLENGE", "http-01"),
            ("PARLOR_HTTP__TLS__REDIRECT_ADDR", &redirect),
        ],
    );
    // A name the CA refuses.
    let r_dir = tempfile::tempdir().unwrap();
    let refused = acme_server(r_dir.path(), free_port(), &pebble, "blocked.test", &[]);

    let first = served(port, "parlor.test", &root, &main, Duration::from_secs(30)).await;
    let answer = tls::rtc_first_answer(
        port,
        "parlor.test",
        &tls::client_config(&[&root]),
        r#"{"type":"join","token":"not-a-token"}"#,
    )
    .await
    .expect("/rtc over the ACME certificate");
    assert!(answer.contains("invalid_token"), "{answer}");
    let acme = main_dir.path().join("data/acme");
    let files: Vec<PathBuf> = std::fs::read_dir(&acme)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.iter().any(|f| f.ends_with("cert.pem")), "{files:?}");
    assert!(
        files.iter().any(|f| f
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("account-")),
        "{files:?}"
    );
    for f in &files {
        assert_eq!(mode(f), 0o600, "{} is 0600", f.display());
    }
    assert_eq!(mode(&acme), 0o700);

    served(
        h_port,
        "http01.parlor.test",
        &root,
        &h,
        Duration::from_secs(30),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(15);
    while !refused
        .logs()
        .contains("could not obtain a certificate over ACME")
    {
        assert!(
            Instant::now() < deadline,
            "no refusal logged: {}",
            refused.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = refused.logs();
    assert!(
        logs.contains("blocked.test") && logs.contains("rejectedIdentifier"),
        "the CA's own words are in the log: {logs}"
    );

    // Renewal: the short-lived certificate is replaced before it expires, without a restart.
    let deadline = Instant::now() + Duration::from_secs(VALIDITY_SECS + 10);
    let renewed = loop {
        let leaf = served(port, "parlor.test", &root, &main, Duration::from_secs(10)).await;
        if serial(&leaf) != serial(&first) {
            break leaf;
        }
        assert!(Instant::now() < deadline, "never renewed: {}", main.logs());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // A restart serves the stored certificate at once, without a new order.
    let orders_before = pebble.log().matches("POST /order-plz").count();
    assert!(
        orders_before >= 3,
        "Pebble logged the orders (two of parlor.test, one of http01): {}",
        pebble.log()
    );
    assert!(main.terminate(Duration::from_secs(10)).await.is_some());
    let main = acme_server(main_dir.path(), port, &pebble, "parlor.test", &[]);
    let leaf = served(port, "parlor.test", &root, &main, Duration::from_secs(10)).await;
    assert_eq!(serial(&leaf), serial(&renewed), "{}", main.logs());
    assert!(main.logs().contains("serving the stored ACME certificate"));
    assert_eq!(
        pebble.log().matches("POST /order-plz").count(),
        orders_before,
        "no new order after the restart"
    );
}
