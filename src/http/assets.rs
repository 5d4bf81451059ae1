//! The browser files in `web/`, compiled into the binary (rust-embed), served with a strict
//! Content-Security-Policy: only this server's own scripts, styles and connections.

use super::AppState;
use super::error::ApiError;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

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
        .route("/login", get(|| page("login")))
        .route("/signup", get(|| page("signup")))
        .route("/book", get(|| page("book")))
        .route("/upcoming", get(|| page("upcoming")))
        .route("/voice", get(|| page("voice")))
        .route("/voice/{id}", get(voice_session_page))
        .route("/coach", get(|| page("coach")))
        .route("/account", get(|| page("account")))
        .route("/r/{room}", get(room_page))
        .route("/assets/{*path}", get(asset))
}

/// The room page; the join token travels in the URL fragment, which never reaches the server.
async fn room_page(Path(room): Path<String>) -> Result<Response, ApiError> {
    if !crate::auth::join_token::valid_room_name(&room) {
        return Err(ApiError::not_found("room"));
    }
    serve("room.html")
}

/// The voice page opened at one session's link (`join_url` of `POST /api/voice/sessions`);
/// the page rejoins the session if it is live and shows it from the history otherwise.
async fn voice_session_page(Path(id): Path<String>) -> Result<Response, ApiError> {
    if !valid_voice_session_id(&id) {
        return Err(ApiError::not_found("voice session"));
    }
    serve("voice.html")
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

async fn index() -> Result<Response, ApiError> {
    serve("index.html")
}

/// A signed-in page of the browser client (`/book` serves `book.html`); each page checks the
/// session itself through the API and sends a logged-out visitor to `/login`.
async fn page(name: &'static str) -> Result<Response, ApiError> {
    serve(&format!("{name}.html"))
}

async fn asset(Path(path): Path<String>) -> Result<Response, ApiError> {
    serve(&format!("assets/{path}"))
}

fn serve(path: &str) -> Result<Response, ApiError> {
    let file = Web::get(path).ok_or_else(|| ApiError::not_found("file"))?;
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
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::valid_voice_session_id;
    use crate::ids::VoiceSessionId;

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
