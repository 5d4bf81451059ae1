//! `POST /api/rooms/{room}/token` puts the booking's Jitsi Meet link in the token's
//! `fallback` claim, so the room page can offer it to whoever holds the join link (logged in
//! or not): the claim is exactly the `fallback_url` the booking shows the same viewer, for the
//! client and the coach alike, and the token still verifies as a join token for its room.

use crate::common;

use base64::Engine;
use common::{Backend, TestApp};
use parlor::auth::join_token;
use serde_json::{Value, json};

const KEY: &[u8] = b"test-signing-secret-0123456789abcdef";

/// The token's payload, read the way the browser reads it (base64url JSON, unverified).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

async fn json_of(r: reqwest::Response) -> Value {
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_api_token_carries_the_bookings_fallback_link() {
    let app = TestApp::start(Backend::Sqlite).await;
    let admin = app.admin().await;
    let (coach, coach_id) = app.coach(&admin, "coach.fb@example.org").await;
    let (client, _) = app.client_user("client.fb@example.org").await;
    let at = app.free_slot(&coach_id, chrono::Duration::days(1)).await;
    let booking = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": at.to_rfc3339(), "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(booking.status(), 201);
    let booking: Value = booking.json().await.unwrap();
    let room = booking["join_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let id = booking["id"].as_str().unwrap();
    // Room tokens are minted from 15 minutes before the start: move the server's clock there.
    {
        let start: chrono::DateTime<chrono::Utc> =
            booking["starts_at"].as_str().unwrap().parse().unwrap();
        app.clock
            .advance(start - app.clock.now() - chrono::Duration::minutes(10));
    }

    for (who, http) in [("client", &client), ("coach", &coach)] {
        let seen: Value = json_of(
            http.get(app.url(&format!("/api/bookings/{id}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let fallback = seen["fallback_url"].as_str().expect("a fallback link");
        assert!(fallback.starts_with("https://"), "{who}: {fallback}");
        let minted: Value = json_of(
            http.post(app.url(&format!("/api/rooms/{room}/token")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let token = minted["token"].as_str().unwrap();
        let claims = payload(token);
        assert_eq!(
            claims["fallback"].as_str(),
            Some(fallback),
            "{who}: the claim is the booking's link for this viewer"
        );
        assert_eq!(claims["role"], who);
        let now = app.clock.now().timestamp();
        let verified = join_token::verify(KEY, token, &room, now).expect("still a join token");
        assert_eq!(verified.room, room);
    }
}
