//! A faithful stand-in for Twilio's Programmable Messaging API, for the SMS tests and for
//! trying SMS reminders without an account (`parlor dev fake-twilio`).
//!
//! It serves `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` as Twilio documents it:
//! HTTP Basic authentication with the account SID and auth token (401, error 20003,
//! otherwise; 404, error 20404, for another account's path), a form body with `To`, `From`
//! or `MessagingServiceSid` and `Body` (400 with 21604, 21603, 21602 when one is missing;
//! 21211 for a `To` that is not E.164; 21617 for a body over 1,600 characters), and
//! `201 Created` with the message resource (`sid` `SM…`, `status` `queued`, `num_segments`,
//! …). Errors have Twilio's shape: `{"code", "message", "more_info", "status"}`. Tests can make
//! it answer 429 (20429) or 500, refuse numbers that replied STOP (21610), or stall.
//! Everything accepted is kept for tests to read. It never calls out.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use parlor::cli::FakeTwilioArgs;
use serde_json::json;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// A message the double accepted.
#[derive(Debug, Clone)]
pub struct Sent {
    pub sid: String,
    pub to: String,
    /// `From` or the Messaging Service SID it was sent through.
    pub from: String,
    pub body: String,
}

#[derive(Default)]
struct Behaviour {
    /// Answer the next N requests with 429 (20429).
    rate_limited: u32,
    /// Answer the next N requests with 500.
    failing: u32,
    /// Never answer.
    stalled: bool,
    /// Numbers that replied STOP (21610).
    stopped: HashSet<String>,
}

struct Shared {
    account_sid: String,
    auth_token: String,
    behaviour: Mutex<Behaviour>,
    sent: Mutex<Vec<Sent>>,
    requests: Mutex<u32>,
}

/// A running double; stops when dropped.
pub struct FakeTwilio {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeTwilio {
    /// Listens on `listen` for requests of `account_sid` authenticated with `auth_token`.
    pub async fn start(
        listen: SocketAddr,
        account_sid: &str,
        auth_token: &str,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            behaviour: Mutex::new(Behaviour::default()),
            sent: Mutex::new(Vec::new()),
            requests: Mutex::new(0),
        });
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                post(create_message),
            )
            .with_state(shared.clone());
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// The base URL to configure as `notify.sms.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The messages accepted so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.sent.lock().expect("lock").clone()
    }

    /// How many requests came in (accepted or not).
    pub fn requests(&self) -> u32 {
        *self.shared.requests.lock().expect("lock")
    }

    /// Answers the next `n` requests with 429 Too Many Requests.
    pub fn rate_limit(&self, n: u32) {
        self.shared.behaviour.lock().expect("lock").rate_limited = n;
    }

    /// Answers the next `n` requests with 500.
    pub fn fail(&self, n: u32) {
        self.shared.behaviour.lock().expect("lock").failing = n;
    }

    /// Stops answering (or starts again).
    pub fn stall(&self, on: bool) {
        self.shared.behaviour.lock().expect("lock").stalled = on;
    }

    /// `number` replied STOP: sends to it are refused with 21610.
    pub fn stop(&self, number: &str) {
        let mut b = self.shared.behaviour.lock().expect("lock");
        b.stopped.insert(number.to_string());
    }
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })),
    )
        .into_response()
}

fn authorised(headers: &HeaderMap, shared: &Shared) -> bool {
    let Some(raw) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = B64.decode(raw.trim()) else {
        return false;
    };
    decoded == format!("{}:{}", shared.account_sid, shared.auth_token).as_bytes()
}

/// E.164: `+`, a non-zero digit, at most 15 digits in all.
fn e164(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// Segments of a body: 160 GSM-7 characters in one, 153 per part beyond; 70 and 67 for
/// anything else (UCS-2). The GSM-7 test here is ASCII, a slight under-count of GSM-7.
fn segments(body: &str) -> usize {
    let n = body.chars().count();
    let (one, part) = if body.is_ascii() {
        (160, 153)
    } else {
        (70, 67)
    };
    if n <= one { 1 } else { n.div_ceil(part) }
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    *shared.requests.lock().expect("lock") += 1;
    if !authorised(&headers, &shared) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if sid != shared.account_sid {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!(
                "The requested resource /2010-04-01/Accounts/{sid}/Messages.json was not found"
            ),
        );
    }
    let stalled = {
        let mut b = shared.behaviour.lock().expect("lock");
        if b.rate_limited > 0 {
            b.rate_limited -= 1;
            return error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
        }
        if b.failing > 0 {
            b.failing -= 1;
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error",
            );
        }
        b.stalled
    };
    if stalled {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return error(
            StatusCode::BAD_REQUEST,
            20001,
            "Content-Type must be form encoded",
        );
    }
    let mut to = None;
    let mut from = None;
    let mut service = None;
    let mut text = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "To" => to = Some(v.into_owned()),
            "From" => from = Some(v.into_owned()),
            "MessagingServiceSid" => service = Some(v.into_owned()),
            "Body" => text = Some(v.into_owned()),
            _ => {}
        }
    }
    let Some(to) = to.filter(|t| !t.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    };
    let Some(sender) = from.clone().or(service.clone()).filter(|f| !f.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        );
    };
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    };
    if !e164(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("Invalid 'To' Phone Number: {to}"),
        );
    }
    if text.chars().count() > 1600 {
        return error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    if shared.behaviour.lock().expect("lock").stopped.contains(&to) {
        return error(
            StatusCode::BAD_REQUEST,
            21610,
            "Attempt to send to unsubscribed recipient",
        );
    }
    let hex: String = parlor::ids::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let message_sid = format!("SM{hex}");
    let now = chrono::Utc::now().to_rfc2822();
    let account = &shared.account_sid;
    let resource = json!({
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": text,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": service,
        "num_media": "0",
        "num_segments": segments(&text).to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": message_sid,
        "status": if service.is_some() { "accepted" } else { "queued" },
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{account}/Messages/{message_sid}/Media.json"),
        },
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{message_sid}.json"),
    });
    shared.sent.lock().expect("lock").push(Sent {
        sid: message_sid,
        to,
        from: sender,
        body: text,
    });
    (StatusCode::CREATED, axum::Json(resource)).into_response()
}

/// `parlor dev fake-twilio`: serves until SIGINT/SIGTERM; prints `listening on URL` once ready.
pub async fn run(args: FakeTwilioArgs) -> anyhow::Result<()> {
    let fake = FakeTwilio::start(args.listen, &args.account_sid, &args.auth_token).await?;
    println!("listening on {}", fake.base_url());
    parlor::server::shutdown_signal().await;
    for m in fake.sent() {
        tracing::info!(sid = %m.sid, to = %m.to, "fake Twilio: accepted");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_segments() {
        assert!(e164("+447700900123"));
        for bad in [
            "447700900123",
            "+0123",
            "+1",
            "+44 7700",
            "+1234567890123456",
        ] {
            assert!(!e164(bad), "{bad}");
        }
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"é".repeat(71)), 2);
    }
}
