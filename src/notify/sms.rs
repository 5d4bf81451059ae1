//! SMS through Twilio's Messages API: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`
//! with a form body (`To`, `From` or `MessagingServiceSid`, `Body`) and HTTP Basic
//! authentication (the account SID and the auth token, `PARLOR_NOTIFY__SMS__AUTH_TOKEN`).
//! A `201 Created` answer is a delivery to the provider (its own later delivery report is not
//! followed). The base URL is configurable, for a regional edge or the test double
//! (`parlor dev fake-twilio`).
//!
//! What the answer means is decided by [`judge`], from Twilio's documented error shape
//! (`{"code", "message", "more_info", "status"}`): a refused number (21211 invalid, 21614 not a
//! mobile, 21612 unreachable route, 21408 region not enabled, 21610 the person replied STOP)
//! and any other 400 are final; 429 (20429, too many requests), 5xx, and the answers an
//! operator fixes by correcting the configuration (401 bad credentials, 403, 404 unknown
//! account) are tried again until the message runs out of time.
//!
//! Twilio's Messages API has no idempotency key: a crash between Twilio's answer and the
//! outbox recording it sends the reminder again (at least once, as every channel).

use super::SendError;
use super::http::{Answer, HttpClient};
use crate::config::SmsConfig;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body_util::Full;
use serde::Deserialize;
use std::time::Duration;

/// The error code of a recipient who replied STOP to the sender: their SMS reminders are
/// turned off when it comes back.
pub const UNSUBSCRIBED: i64 = 21610;

/// Twilio's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

/// Why an SMS was not accepted.
#[derive(Debug)]
pub struct SmsFailure {
    pub error: SendError,
    /// The provider's error code, when it gave one.
    pub code: Option<i64>,
}

/// What a provider answer means for the message.
pub fn judge(a: &Answer) -> Result<(), SmsFailure> {
    if (200..300).contains(&a.status) {
        return Ok(());
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(&a.body).ok();
    let code = parsed.as_ref().and_then(|b| b.code);
    let said = match &parsed {
        Some(ErrorBody {
            code: Some(c),
            message: Some(m),
        }) => format!("Twilio error {c}: {m}"),
        _ => a.excerpt(),
    };
    let what = format!("HTTP {}: {said}", a.status);
    let error = match a.status {
        401 | 403 | 404 => SendError::Retry(format!(
            "{what} (check notify.sms.account_sid, the auth token and notify.sms.base_url)"
        )),
        429 => SendError::Retry(match a.retry_after {
            Some(s) => format!("{what} (retry after {s} s)"),
            None => what,
        }),
        400..=499 => SendError::Final(what),
        _ => SendError::Retry(what),
    };
    Err(SmsFailure { error, code })
}

/// Sends SMS through the configured account.
pub struct SmsSender {
    http: HttpClient,
    url: url::Url,
    authorization: String,
    from: String,
    messaging_service_sid: String,
}

impl SmsSender {
    /// A sender for `cfg`, which [`Config::validate`](crate::config::Config::validate) has
    /// checked (a base URL that parses, an account SID and token, a sender).
    pub fn new(cfg: &SmsConfig) -> Result<Self, String> {
        let mut base =
            url::Url::parse(&cfg.base_url).map_err(|e| format!("notify.sms.base_url: {e}"))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let url = base
            .join(&format!(
                "2010-04-01/Accounts/{}/Messages.json",
                cfg.account_sid
            ))
            .map_err(|e| format!("notify.sms.base_url: {e}"))?;
        let credentials = format!("{}:{}", cfg.account_sid, cfg.auth_token.expose());
        Ok(Self {
            http: HttpClient::new(Duration::from_secs(cfg.timeout_secs)),
            url,
            authorization: format!("Basic {}", B64.encode(credentials)),
            from: cfg.from.clone(),
            messaging_service_sid: cfg.messaging_service_sid.clone(),
        })
    }

    /// Sends `body` to `to` (E.164).
    pub async fn send(&self, to: &str, body: &str) -> Result<(), SmsFailure> {
        let retry = |e: String| SmsFailure {
            error: SendError::Retry(e),
            code: None,
        };
        let form = {
            let mut f = url::form_urlencoded::Serializer::new(String::new());
            f.append_pair("To", to);
            if self.messaging_service_sid.is_empty() {
                f.append_pair("From", &self.from);
            } else {
                f.append_pair("MessagingServiceSid", &self.messaging_service_sid);
            }
            f.append_pair("Body", body);
            f.finish()
        };
        let request = HttpClient::request(hyper::Method::POST, &self.url)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::AUTHORIZATION, &self.authorization)
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| SmsFailure {
                error: SendError::Final(e.to_string()),
                code: None,
            })?;
        // The provider is the operator's choice: its address is not vetted like a webhook's.
        let addr = super::webhook::resolve(&self.url, true)
            .await
            .map_err(retry)?;
        let answer = self
            .http
            .send(&self.url, addr, request)
            .await
            .map_err(|error| SmsFailure { error, code: None })?;
        judge(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: Bytes::from(body.to_string()),
        }
    }

    fn error(status: u16, code: i64, msg: &str) -> Answer {
        answer(
            status,
            &format!(
                r#"{{"code": {code}, "message": "{msg}", "more_info": "https://www.twilio.com/docs/errors/{code}", "status": {status}}}"#
            ),
        )
    }

    #[test]
    fn created_is_delivered() {
        assert!(judge(&answer(201, r#"{"sid": "SM1", "status": "queued"}"#)).is_ok());
    }

    #[test]
    fn refused_numbers_are_final_with_their_code() {
        for code in [21211, 21614, 21612, 21408, UNSUBSCRIBED] {
            let f = judge(&error(400, code, "refused")).unwrap_err();
            assert!(matches!(f.error, SendError::Final(_)), "{code}");
            assert_eq!(f.code, Some(code));
            assert!(f.error.to_string().contains(&code.to_string()));
        }
    }

    #[test]
    fn rate_limits_server_errors_and_configuration_are_retried() {
        let mut limited = error(429, 20429, "Too Many Requests");
        limited.retry_after = Some(3);
        let f = judge(&limited).unwrap_err();
        assert!(matches!(f.error, SendError::Retry(_)));
        assert!(f.error.to_string().contains("retry after 3 s"));
        for a in [
            answer(500, "<html>oops</html>"),
            answer(503, ""),
            error(401, 20003, "Authenticate"),
            error(404, 20404, "The requested resource was not found"),
        ] {
            assert!(matches!(judge(&a).unwrap_err().error, SendError::Retry(_)));
        }
    }
}
