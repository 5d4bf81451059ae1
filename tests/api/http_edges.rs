//! The HTTP edge against slow, idle and hostile clients, over real sockets: connections that
//! send nothing, half a request line, unfinished headers or a stalled body are closed or
//! answered 408 within their deadlines; a body announced as 10^15 bytes gets 413; idle
//! kept-alive connections are closed; 2,000 idle connections against a cap of 500 do not keep
//! a normal client from being served; out-of-range dates get 422; a panicking handler's 500
//! is counted and carries the security headers.

use crate::common;

use common::{Backend, TestApp};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

both_backends!(dates_out_of_range_get_422_and_never_a_500);

/// Short deadlines so the test runs in seconds.
async fn quick_app(max_connections: usize) -> TestApp {
    TestApp::start_with(Backend::Sqlite, move |c| {
        c.http.header_timeout_secs = 1;
        c.http.body_timeout_secs = 1;
        c.http.idle_timeout_secs = 2;
        c.http.request_timeout_secs = 3;
        c.http.max_connections = max_connections;
    })
    .await
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the socket (or `limit` passes); returns what was read and
/// how long the close took.
async fn until_closed(s: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&out).into(), Some(start.elapsed()));
            }
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into(), None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_at_their_deadlines() {
    let app = quick_app(4096).await;
    let a = addr(&app);
    let cases: [(&str, &[u8]); 3] = [
        ("nothing at all", b""),
        ("half a request line", b"GET /heal"),
        (
            "unfinished headers",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1",
        ),
    ];
    for (what, bytes) in cases {
        let mut s = TcpStream::connect(&a).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let (_, closed) = until_closed(&mut s, Duration::from_secs(5)).await;
        let took = closed.unwrap_or_else(|| panic!("{what}: still open after 5 s"));
        assert!(
            took >= Duration::from_millis(900),
            "{what}: closed too soon ({took:?})"
        );
    }

    // A body that stalls: 408 from the body deadline, then the connection closes.
    let mut s = TcpStream::connect(&a).await.unwrap();
    s.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let (reply, closed) = until_closed(&mut s, Duration::from_secs(6)).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "stalled body: {reply}");
    assert!(reply.contains("body_timeout"), "stalled body: {reply}");
    assert!(closed.is_some(), "the stalled connection is closed");

    // 10^15 announced bytes and none sent: refused at once, not waited for.
    let mut s = TcpStream::connect(&a).await.unwrap();
    s.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 1000000000000000\r\n\r\n",
    )
    .await
    .unwrap();
    let t = Instant::now();
    let (reply, _) = until_closed(&mut s, Duration::from_secs(6)).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "huge length: {reply}");
    assert!(t.elapsed() < Duration::from_secs(3), "413 came at once");

    // A kept-alive connection is served, then closed after the idle timeout (2 s).
    let mut s = TcpStream::connect(&a).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let (_, closed) = until_closed(&mut s, Duration::from_secs(6)).await;
    let took = closed.expect("idle keep-alive closed");
    assert!(
        took >= Duration::from_millis(1500),
        "idle closed too soon: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_do_not_lock_out_a_normal_client() {
    let cap = 500;
    // Long deadlines: only the cap and eviction can make room here.
    let app = TestApp::start_with(Backend::Sqlite, move |c| {
        c.http.max_connections = cap;
        c.http.header_timeout_secs = 600;
        c.http.idle_timeout_secs = 600;
    })
    .await;
    let a = addr(&app);
    let mut idle = Vec::with_capacity(2000);
    for i in 0..2000 {
        let mut s = TcpStream::connect(&a).await.expect("connect");
        if i % 2 == 0 {
            // Half of them start a request and never finish it.
            s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        }
        idle.push(s);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let r = http.get(app.url("/healthz")).send().await.expect("served");
        assert_eq!(r.status(), 200);
        worst = worst.max(t.elapsed());
        // Fresh connections each time (reqwest would reuse one).
        let r = reqwest::Client::new()
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("served");
        assert_eq!(r.status(), 200);
    }
    let open = idle.len();
    eprintln!(
        "FIGURES: {open} idle connections opened against a cap of {cap}; \
         slowest of 20 /healthz requests while they were held: {worst:?}"
    );
    assert!(worst < Duration::from_secs(2), "slowest request {worst:?}");
}

async fn dates_out_of_range_get_422_and_never_a_500(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    for q in [
        "from=-262143-01-01",
        "from=%2B262142-12-31",
        "to=%2B262142-12-31",
        "from=1969-12-31",
    ] {
        let r = client
            .get(app.url(&format!("/api/coaches/{coach}/slots?{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{q}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "out_of_range", "{q}");
    }
    for at in [
        "+262142-01-01T00:00:00Z",
        "-262142-01-01T00:00:00Z",
        "1900-01-01T00:00:00Z",
    ] {
        let r = client
            .post(app.url("/api/bookings"))
            .json(&serde_json::json!({"coach_id": coach, "starts_at": at, "session_type": "video"}))
            .send()
            .await
            .unwrap();
        // Years beyond ±9999 are not RFC 3339: the body is refused as invalid (400); the
        // rest are refused as out of range (422). Never a 500.
        assert!(
            matches!(r.status().as_u16(), 400 | 422),
            "{at}: {}",
            r.status()
        );
    }
    let list: Vec<serde_json::Value> =
        crate::common::get_json(&client, app.url("/api/bookings")).await;
    assert!(list.is_empty(), "nothing was booked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_counted_and_keeps_the_security_headers() {
    use axum::routing::get;
    let app = TestApp::start(Backend::Sqlite).await;
    let routes = axum::Router::new().route(
        "/boom",
        get(|| async {
            if std::hint::black_box(true) {
                panic!("a bug");
            }
            "unreachable"
        }),
    );
    let svc = parlor::http::with_edge_layers(routes, app.state.clone());
    let res = tower::ServiceExt::oneshot(
        svc,
        axum::http::Request::get("/boom")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 500);
    for h in [
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
    ] {
        assert!(res.headers().contains_key(h), "{h} missing on the 500");
    }
    let metrics = app.state.metrics.render();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("parlor_http_requests_total")
                && l.contains("route=\"/boom\"")
                && l.contains("status=\"500\"")
        })
        .unwrap_or_else(|| panic!("the 500 is not counted:\n{metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
}
