//! Who may read `/metrics`: loopback by default; with `http.metrics_allow` set elsewhere, a
//! loopback client is refused (403 `forbidden`) unless it sends the bearer token
//! `http.metrics_token` (a wrong token is refused too); behind a trusted proxy the forwarded
//! client's address is what counts.

use crate::common;

use common::{Backend, TestApp};
use parlor::config::Secret;
use serde_json::Value;

async fn get(app: &TestApp, headers: &[(&str, &str)]) -> (u16, String) {
    let mut r = reqwest::Client::new().get(app.url("/metrics"));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_go_to_allowed_addresses_or_the_bearer_token_only() {
    let open = TestApp::start(Backend::Sqlite).await;
    let (status, body) = get(&open, &[]).await;
    assert_eq!(status, 200, "loopback reads them by default");
    assert!(body.contains("parlor_build_info"));

    let closed = TestApp::start_with(Backend::Sqlite, |c| {
        c.http.metrics_allow = vec!["10.0.0.0/8".into()];
        c.http.metrics_token = Secret::new("scrape-token-0123456789");
    })
    .await;
    let (status, body) = get(&closed, &[]).await;
    assert_eq!(status, 403, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "forbidden", "{v}");
    assert!(!body.contains("parlor_"), "no metric leaks in the refusal");
    let (status, _) = get(&closed, &[("authorization", "Bearer wrong-token")]).await;
    assert_eq!(status, 403);
    let (status, body) = get(
        &closed,
        &[("authorization", "Bearer scrape-token-0123456789")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("parlor_build_info"));

    let proxied = TestApp::start_with(Backend::Sqlite, |c| {
        c.http.trust_proxy = true;
        c.http.metrics_allow = vec!["10.1.2.0/24".into()];
    })
    .await;
    let (status, _) = get(&proxied, &[("x-forwarded-for", "10.1.2.3")]).await;
    assert_eq!(status, 200, "the forwarded client is in the list");
    let (status, _) = get(&proxied, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(status, 403, "an outside client behind the proxy is refused");
}
