//! The browser files in `web/`, compiled into the binary (rust-embed), served with a strict
//! Content-Security-Policy: only this server's own scripts, styles and connections.
//!
//! Every file carries a validator, `ETag: W/"<first 128 bits of its SHA-256>"` (computed at
//! compile time), with `Cache-Control: no-cache`: a browser revalidates on each page load and
//! gets `304 Not Modified` without a body while the file is unchanged, and the new file at once
//! after an upgrade. The tag is weak because the same file also goes out compressed: responses
//! are gzip- or Brotli-encoded when the client accepts it (tower-http's compression layer).

use super::AppState;
use super::error::ApiError;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;

#[derive(rust_embed::RustEmbed)]
#[folder = "web/"]
struct Web;

/// CSP for pages: nothing from other origins, no inline script.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: https:; connect-src 'self'; media-src 'self' blob:; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/login", get(|h: HeaderMap| page("login", h)))
        .route("/signup", get(|h: HeaderMap| page("signup", h)))
        .route(
            "/reset-password",
            get(|h: HeaderMap| page("reset-password", h)),
        )
        .route("/verify-email", get(|h: HeaderMap| page("verify-email", h)))
        .route("/book", get(|h: HeaderMap| page("book", h)))
        .route("/upcoming", get(|h: HeaderMap| page("upcoming", h)))
        .route("/voice", get(|h: HeaderMap| page("voice", h)))
        .route("/voice/{id}", get(voice_session_page))
        .route("/coach", get(|h: HeaderMap| page("coach", h)))
        .route("/account", get(|h: HeaderMap| page("account", h)))
        .route("/admin", get(|h: HeaderMap| page("admin", h)))
        .route("/r/{room}", get(room_page))
        .route("/assets/{*path}", get(asset))
        // The Web Push service worker: at the root, so its scope is the whole site.
        .route(
            "/sw.js",
            get(|h: HeaderMap| async move { serve("sw.js", &h) }),
        )
        .layer(CompressionLayer::new())
}

/// The room page; the join token travels in the URL fragment, which never reaches the server.
async fn room_page(Path(room): Path<String>, h: HeaderMap) -> Result<Response, ApiError> {
    if !crate::auth::join_token::valid_room_name(&room) {
        return Err(ApiError::not_found("room"));
    }
    serve("room.html", &h)
}

/// The voice page opened at one session's link (`join_url` of `POST /api/voice/sessions`);
/// the page rejoins the session if it is live and shows it from the history otherwise.
async fn voice_session_page(Path(id): Path<String>, h: HeaderMap) -> Result<Response, ApiError> {
    if !valid_voice_session_id(&id) {
        return Err(ApiError::not_found("voice session"));
    }
    serve("voice.html", &h)
}

/// Whether `id` has the shape of a voice session id: `v_` and 26 lower-case base32 characters.
fn valid_voice_session_id(id: &str) -> bool {
    id.strip_prefix("v_").is_some_and(|rest| {
        rest.len() == 26
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    })
}

async fn index(h: HeaderMap) -> Result<Response, ApiError> {
    serve("index.html", &h)
}

/// A signed-in page of the browser client (`/book` serves `book.html`); each page checks the
/// session itself through the API and sends a logged-out visitor to `/login`.
async fn page(name: &'static str, h: HeaderMap) -> Result<Response, ApiError> {
    serve(&format!("{name}.html"), &h)
}

async fn asset(Path(path): Path<String>, h: HeaderMap) -> Result<Response, ApiError> {
    serve(&format!("assets/{path}"), &h)
}

/// The weak entity tag of an embedded file: its SHA-256, shortened to 128 bits.
fn etag(file: &rust_embed::EmbeddedFile) -> String {
    let hash = file.metadata.sha256_hash();
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// Whether `If-None-Match` names `tag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
fn not_modified(request: &HeaderMap, tag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || bare(t) == bare(tag))
}

fn serve(path: &str, request: &HeaderMap) -> Result<Response, ApiError> {
    let file = Web::get(path).ok_or_else(|| ApiError::not_found("file"))?;
    let tag = etag(&file);
    let validators = |h: &mut HeaderMap| {
        h.insert(
            header::ETAG,
            HeaderValue::from_str(&tag).expect("hex in quotes is a valid header"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    };
    if not_modified(request, &tag) {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        validators(res.headers_mut());
        return Ok(res);
    }
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let textual =
        mime.type_() == "text" || mime.subtype() == "javascript" || mime.subtype() == "json";
    let content_type = if textual {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    let mut res = file.data.into_owned().into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).expect("MIME types are ASCII"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    validators(h);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::VoiceSessionId;

    #[test]
    fn if_none_match_is_compared_weakly_and_in_lists() {
        let file = Web::get("index.html").unwrap();
        let tag = etag(&file);
        assert!(tag.starts_with("W/\"") && tag.len() == 2 + 2 + 32, "{tag}");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(not_modified(&with(&tag), &tag));
        assert!(not_modified(&with(tag.trim_start_matches("W/")), &tag));
        assert!(not_modified(&with(&format!("\"x\", {tag}")), &tag));
        assert!(not_modified(&with("*"), &tag));
        assert!(!not_modified(&with("\"0123\""), &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
        assert_ne!(etag(&Web::get("login.html").unwrap()), tag);
    }

    #[test]
    fn voice_session_ids_are_recognised_by_shape() {
        for _ in 0..20 {
            assert!(valid_voice_session_id(VoiceSessionId::generate().as_str()));
        }
        let good = VoiceSessionId::generate().0;
        for bad in [
            "".to_string(),
            "v_".to_string(),
            good.to_uppercase(),
            good.replace("v_", "u_"),
            format!("{good}a"),
            good[..good.len() - 1].to_string(),
            format!("v_{}", "1".repeat(26)),
            format!("v_{}", "a".repeat(25) + "-"),
        ] {
            assert!(!valid_voice_session_id(&bad), "{bad:?}");
        }
    }
}
