//! The API behind the admin console, on SQLite and PostgreSQL: the audit log filtered by
//! event, actor and time (and bad filters refused with 400, changing nothing), the live
//! rooms, and inactive coaches listed for admins only.

use crate::common;

use common::{Backend, TestApp};
use serde_json::{Value, json};

both_backends!(
    the_audit_log_filters_by_event_actor_and_time,
    inactive_coaches_and_live_rooms_are_for_admins_only,
);

async fn audit(app: &TestApp, admin: &reqwest::Client, query: &str) -> (u16, Value) {
    let r = admin
        .get(app.url(&format!("/api/admin/audit?{query}")))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn the_audit_log_filters_by_event_actor_and_time(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, alice) = app.client_user("alice@example.org").await;
    let (_, bruno) = app.client_user("bruno@example.org").await;
    let r = admin
        .put(app.url(&format!("/api/admin/users/{bruno}/role")))
        .json(&json!({"role": "coach"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let (st, v) = audit(&app, &admin, "event=role_changed").await;
    assert_eq!(st, 200, "{v}");
    let entries = v.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{v}");
    assert_eq!(entries[0]["target"], bruno.as_str());

    let (st, v) = audit(&app, &admin, &format!("actor={alice}")).await;
    assert_eq!(st, 200);
    let entries = v.as_array().unwrap();
    assert!(!entries.is_empty(), "alice's login is there");
    assert!(
        entries.iter().all(|e| e["actor_id"] == alice.as_str()),
        "{v}"
    );

    let (st, v) = audit(&app, &admin, &format!("actor={alice}&event=login")).await;
    assert_eq!(st, 200);
    assert!(v.as_array().unwrap().iter().all(|e| e["event"] == "login"));

    // Time: everything so far happened at the app clock's now.
    let now = app.clock.now();
    let enc = |t: chrono::DateTime<chrono::Utc>| common::enc(&t.to_rfc3339());
    let hour = chrono::Duration::hours(1);
    let (_, all) = audit(&app, &admin, "limit=500").await;
    let (st, v) = audit(
        &app,
        &admin,
        &format!("limit=500&since={}", enc(now - hour)),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v.as_array().unwrap().len(), all.as_array().unwrap().len());
    let (_, v) = audit(&app, &admin, &format!("since={}", enc(now + hour))).await;
    assert!(v.as_array().unwrap().is_empty(), "nothing after now: {v}");
    let (_, v) = audit(&app, &admin, &format!("until={}", enc(now - hour))).await;
    assert!(v.as_array().unwrap().is_empty(), "nothing an hour ago: {v}");

    let (st, v) = audit(
        &app,
        &admin,
        &format!("since={}&until={}", enc(now), enc(now - hour)),
    )
    .await;
    assert_eq!(
        (st, v.as_array().unwrap().len()),
        (200, 0),
        "an empty range matches nothing"
    );

    for bad in [
        "actor=".to_string(),
        "since=yesterday".to_string(),
        format!("event={}", "x".repeat(101)),
    ] {
        let (st, v) = audit(&app, &admin, &bad).await;
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(v["error"]["code"].is_string(), "{v}");
    }
}

async fn inactive_coaches_and_live_rooms_are_for_admins_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, coach_id) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let r = admin
        .patch(app.url(&format!("/api/coaches/{coach_id}")))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list = |c: &reqwest::Client, q: &'static str| {
        let c = c.clone();
        let url = app.url(&format!("/api/coaches{q}"));
        async move {
            let r = c.get(url).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (st, v) = list(&admin, "").await;
    assert_eq!((st, v.as_array().unwrap().len()), (200, 0), "{v}");
    let (st, v) = list(&admin, "?include_inactive=true").await;
    assert_eq!(st, 200);
    assert_eq!(v[0]["id"], coach_id.as_str());
    assert_eq!(v[0]["active"], false);
    let (st, _) = list(&client, "?include_inactive=true").await;
    assert_eq!(st, 403);
    let (st, _) = list(&reqwest::Client::new(), "?include_inactive=true").await;
    assert_eq!(st, 403, "anonymous");

    let r = admin.get(app.url("/api/admin/live")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let live: Value = r.json().await.unwrap();
    assert_eq!(
        live,
        json!({"rooms": [], "voice_sessions": 0, "draining": false})
    );
    let r = client.get(app.url("/api/admin/live")).send().await.unwrap();
    assert_eq!(r.status(), 403);
}
