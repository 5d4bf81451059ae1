//! Commitments as coach and client keep them, on SQLite and PostgreSQL: a coach adds and
//! reads commitments for their own clients only (a client they never had, or whose only
//! booking was cancelled, is answered 404 as if unknown); a client adds, reads and deletes
//! their own; nobody deletes anyone else's.

use crate::common;

use chrono::Duration;
use common::{Backend, TestApp};
use serde_json::{Value, json};

both_backends!(
    a_coach_keeps_commitments_for_their_own_clients_only,
    a_client_deletes_their_own_commitments_and_nobody_elses,
);

async fn a_coach_keeps_commitments_for_their_own_clients_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (coach, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, client_id) = app.client_user("client@example.org").await;
    let (_stranger, stranger_id) = app.client_user("stranger@example.org").await;
    let (cancelled, cancelled_id) = app.client_user("cancelled@example.org").await;

    // Before any booking the client is nobody to this coach.
    let r = coach
        .post(app.url("/api/commitments"))
        .json(&json!({"text": "call the mentor", "client_id": client_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "not yet a client");

    let at = app.free_slot(&coach_id, Duration::days(2)).await;
    let r = client
        .post(app.url("/api/bookings"))
        .json(&json!({"coach_id": coach_id, "starts_at": at.to_rfc3339(), "session_type": "video"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A booking that was cancelled does not make its client the coach's client.
    let at2 = app.free_slot(&coach_id, Duration::days(4)).await;
    let b: Value = common::post_json(
        &cancelled,
        app.url("/api/bookings"),
        &json!({"coach_id": coach_id, "starts_at": at2.to_rfc3339(), "session_type": "video"}),
    )
    .await;
    let id = b["id"].as_str().unwrap();
    let r = cancelled
        .post(app.url(&format!("/api/bookings/{id}/cancel")))
        .json(&json!({"reason": "changed my mind"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let r = coach
        .post(app.url("/api/commitments"))
        .json(&json!({"text": "call the mentor", "due_date": "2031-05-01", "client_id": client_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let added: Value = r.json().await.unwrap();
    assert_eq!(added["user_id"], client_id.as_str(), "it is the client's");

    // The client sees it as theirs; the coach sees it under the client's id.
    let own: Value = common::get_json(&client, app.url("/api/commitments")).await;
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["text"], "call the mentor");
    let seen: Value = common::get_json(
        &coach,
        app.url(&format!("/api/commitments?client_id={client_id}")),
    )
    .await;
    assert_eq!(seen, own);
    // The coach's own list does not hold it.
    let coach_own: Value = common::get_json(&coach, app.url("/api/commitments")).await;
    assert_eq!(coach_own, json!([]));

    for other in [&stranger_id, &cancelled_id, &"nobody-at-all".to_string()] {
        for r in [
            coach
                .get(app.url(&format!("/api/commitments?client_id={other}")))
                .send()
                .await
                .unwrap(),
            coach
                .post(app.url("/api/commitments"))
                .json(&json!({"text": "x", "client_id": other}))
                .send()
                .await
                .unwrap(),
        ] {
            assert_eq!(r.status(), 404, "{other} is not this coach's client");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "not_found");
        }
    }
    // A client cannot reach another client's commitments either.
    let r = client
        .get(app.url(&format!("/api/commitments?client_id={stranger_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Admins reach anyone's.
    let any: Value = common::get_json(
        &admin,
        app.url(&format!("/api/commitments?client_id={client_id}")),
    )
    .await;
    assert_eq!(any, own);
    // Nothing was written by the refused requests.
    for (c, n) in [(&cancelled, 0), (&client, 1)] {
        let v: Value = common::get_json(c, app.url("/api/commitments")).await;
        assert_eq!(v.as_array().unwrap().len(), n);
    }
}

async fn a_client_deletes_their_own_commitments_and_nobody_elses(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (client, _) = app.client_user("client@example.org").await;
    let (other, _) = app.client_user("other@example.org").await;
    let c: Value = common::post_json(
        &client,
        app.url("/api/commitments"),
        &json!({"text": "walk every morning"}),
    )
    .await;
    let id = c["id"].as_str().unwrap();
    let url = app.url(&format!("/api/commitments/{id}"));

    let r = other.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 404, "someone else's commitment");
    let still: Value = common::get_json(&client, app.url("/api/commitments")).await;
    assert_eq!(still.as_array().unwrap().len(), 1, "untouched");

    let r = client.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let gone: Value = common::get_json(&client, app.url("/api/commitments")).await;
    assert_eq!(gone, json!([]));
    let r = client.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 404, "deleting twice");
}
