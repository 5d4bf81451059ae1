//! The embedded browser files: served with a strict CSP, correct types, and no way out of
//! `web/`; the voice page also at a session's link `/voice/{id}`, for id-shaped ids only.

use crate::common;

use common::{Backend, TestApp};

#[tokio::test]
async fn landing_page_and_assets_are_served_with_a_strict_csp() {
    let app = TestApp::start(Backend::Sqlite).await;
    let r = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(r.text().await.unwrap().contains("/assets/pages/index.js"));
    let css = reqwest::get(app.url("/assets/base.css")).await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let js = reqwest::get(app.url("/assets/lib/api.js")).await.unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
}

#[tokio::test]
async fn unknown_assets_and_traversal_are_json_404s() {
    let app = TestApp::start(Backend::Sqlite).await;
    for path in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/src/main.rs",
        "/assets/..%2f..%2fCargo.toml",
    ] {
        let r = reqwest::Client::new()
            .get(app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

#[tokio::test]
async fn every_page_route_is_html_with_the_strict_csp() {
    let app = TestApp::start(Backend::Sqlite).await;
    for path in [
        "/",
        "/login",
        "/signup",
        "/book",
        "/upcoming",
        "/voice",
        "/coach",
        "/account",
        "/r/some-room",
        "/voice/v_abcdefghijklmnopqrstuvwxyz",
        "/voice/v_234567abcdefghijklmnopqrst",
    ] {
        let r = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(r.text().await.unwrap().contains("<html"), "{path}");
    }
}

#[tokio::test]
async fn voice_session_links_need_a_session_id_shape() {
    let app = TestApp::start(Backend::Sqlite).await;
    for path in [
        "/voice/nope",
        "/voice/v_ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "/voice/v_abcdefghijklmnopqrstuvwxy",
        "/voice/v_abcdefghijklmnopqrstuvwxyz1",
        "/voice/u_abcdefghijklmnopqrstuvwxyz",
        "/voice/v_abcdefghijklmnopqrstuvwxyz/extra",
    ] {
        let r = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

#[tokio::test]
async fn an_unchanged_file_is_revalidated_with_a_304_and_text_goes_out_compressed() {
    let app = TestApp::start(Backend::Sqlite).await;
    let http = reqwest::Client::new();
    for path in ["/assets/lib/api.js", "/login", "/assets/base.css"] {
        let first = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        assert_eq!(first.headers()["cache-control"], "no-cache", "{path}");
        let tag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(tag.starts_with("W/\""), "{path}: {tag}");
        let body = first.bytes().await.unwrap();
        assert!(!body.is_empty());

        // The browser revalidates: unchanged, so no body.
        let again = http
            .get(app.url(path))
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], tag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        // Another tag (an older version of the file): the file itself.
        let stale = http
            .get(app.url(path))
            .header("if-none-match", "W/\"00000000000000000000000000000000\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{path}");
        assert_eq!(stale.bytes().await.unwrap(), body);

        // Compressed for a client that accepts gzip; the same bytes once inflated.
        let gz = http
            .get(app.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.headers()["content-encoding"], "gzip", "{path}");
        assert!(
            gz.headers()["vary"]
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("accept-encoding")
        );
        let packed = gz.bytes().await.unwrap();
        assert!(
            packed.len() < body.len(),
            "{path}: {} >= {}",
            packed.len(),
            body.len()
        );
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&packed[..]),
            &mut inflated,
        )
        .unwrap();
        assert_eq!(inflated, body, "{path}");
        let br = http
            .get(app.url(path))
            .header("accept-encoding", "br")
            .send()
            .await
            .unwrap();
        assert_eq!(br.headers()["content-encoding"], "br", "{path}");
    }
    // Errors stay JSON and uncompressed-or-not, with no validator.
    let missing = http
        .get(app.url("/assets/nope.js"))
        .header("if-none-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get("etag").is_none());
}
