//! Races and lifetimes, on SQLite and PostgreSQL: parallel retries with one `Idempotency-Key`
//! all get the one booking; a join token dies with its booking, its person and its voice
//! session, and room tokens are minted only around the session; two `parlor migrate` on one
//! fresh database both succeed; a full disk makes `/readyz` fail and writes answer 503; a
//! read-only data directory at start is named with its cause.

use crate::common;

use chrono::Duration;
use common::sfu::{transport, ws};
use common::{Backend, TestApp};
use parlor::client::signal::Client;
use serde_json::{Value, json};

both_backends!(
    parallel_retries_with_one_key_all_get_the_same_booking,
    room_tokens_are_minted_only_around_the_session,
    a_token_stops_working_when_its_booking_or_person_is_gone,
    two_migrations_at_once_on_a_fresh_database_both_succeed,
);

async fn parallel_retries_with_one_key_all_get_the_same_booking(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let (_, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    for (n, key) in [(20, "retry-20"), (50, "retry-50")] {
        let slot = app.free_slot(&coach, Duration::days(2)).await.to_rfc3339();
        let mut tasks = Vec::new();
        for _ in 0..n {
            let (c, url, coach, slot) = (
                client.clone(),
                app.url("/api/bookings"),
                coach.clone(),
                slot.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let r = c
                    .post(url)
                    .header("idempotency-key", key)
                    .json(&json!({"coach_id": coach, "starts_at": slot, "session_type": "video"}))
                    .send()
                    .await
                    .unwrap();
                let replayed = r.headers().contains_key("idempotent-replayed");
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                (status, replayed, body["id"].as_str().map(str::to_string))
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut fresh = 0;
        for t in tasks {
            let (status, replayed, id) = t.await.unwrap();
            assert_eq!(status, 201, "{n} parallel: every request gets the booking");
            fresh += usize::from(!replayed);
            ids.insert(id.expect("a booking id"));
        }
        assert_eq!(ids.len(), 1, "{n} parallel: one booking");
        assert_eq!(fresh, 1, "{n} parallel: one created, the rest replayed");
    }
}

/// A video booking of the test's client with the test's coach, starting `ahead` from now.
async fn booking(app: &TestApp, ahead: Duration) -> (reqwest::Client, reqwest::Client, Value) {
    let admin = app.admin().await;
    let (coach_c, coach) = app.coach(&admin, "coach@example.org").await;
    let (client, _) = app.client_user("client@example.org").await;
    let at = app.free_slot(&coach, ahead).await;
    let b: Value = crate::common::post_json(
        &client,
        app.url("/api/bookings"),
        &json!({"coach_id": coach, "starts_at": at.to_rfc3339(), "session_type": "video"}),
    )
    .await;
    (client, coach_c, b)
}

/// The room of a booking, the last segment of its join link.
fn room_of(b: &Value) -> String {
    let url = b["join_url"]
        .as_str()
        .expect("a video booking has a join link");
    url.rsplit('/').next().unwrap().to_string()
}

async fn mint(app: &TestApp, c: &reqwest::Client, room: &str) -> (u16, Value) {
    let r = c
        .post(app.url(&format!("/api/rooms/{room}/token")))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn room_tokens_are_minted_only_around_the_session(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (client, _, b) = booking(&app, Duration::days(2)).await;
    let room = room_of(&b);
    let room = room.as_str();
    let starts: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    let ends: chrono::DateTime<chrono::Utc> = b["ends_at"].as_str().unwrap().parse().unwrap();
    let (status, v) = mint(&app, &client, room).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("too_early"))
    );
    // 15 minutes before the start the room opens.
    app.clock
        .advance(starts - app.clock.now() - Duration::minutes(15));
    let (status, v) = mint(&app, &client, room).await;
    assert_eq!(status, 200, "{v}");
    let exp: chrono::DateTime<chrono::Utc> = v["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        exp <= ends + Duration::minutes(30),
        "never valid past the grace: {exp}"
    );
    // Past the end plus the grace period: over.
    app.clock
        .advance(ends - app.clock.now() + Duration::minutes(31));
    let (status, v) = mint(&app, &client, room).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("session_over"))
    );
}

/// Joins with `token`; the server's refusal code, or `None` when the join succeeded.
async fn join_refusal(app: &TestApp, token: &str) -> Option<String> {
    match Client::join(&ws(app), token, &transport(20)).await {
        Ok(c) => {
            c.close().await;
            None
        }
        Err(e) => Some(e.to_string()),
    }
}

async fn a_token_stops_working_when_its_booking_or_person_is_gone(backend: Backend) {
    let ports = crate::common::udp_ports(20);
    let app = TestApp::start_with(backend, move |c| {
        c.rtc.udp_ports = ports;
    })
    .await;
    let (client, coach, b) = booking(&app, Duration::days(2)).await;
    let room = room_of(&b);
    let starts: chrono::DateTime<chrono::Utc> = b["starts_at"].as_str().unwrap().parse().unwrap();
    app.clock
        .advance(starts - app.clock.now() + Duration::minutes(5));
    let (_, t) = mint(&app, &client, &room).await;
    let client_token = t["token"].as_str().unwrap().to_string();
    let (_, t) = mint(&app, &coach, &room).await;
    let coach_token = t["token"].as_str().unwrap().to_string();
    assert_eq!(
        join_refusal(&app, &client_token).await,
        None,
        "joins while live"
    );

    // An admin disables the client mid-session: their token is refused in words until the
    // account is enabled again.
    let (admin, _) = app
        .user(
            parlor::model::account::AccountRole::Admin,
            "admin2@example.org",
            "Second Admin",
        )
        .await;
    let client_id = b["client"]["id"].as_str().unwrap();
    for (action, refusal) in [("disable", Some("account_disabled")), ("enable", None)] {
        let r = admin
            .post(app.url(&format!("/api/admin/users/{client_id}/{action}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{action}");
        let got = join_refusal(&app, &client_token).await;
        match refusal {
            Some(code) => assert!(got.as_deref().is_some_and(|g| g.contains(code)), "{got:?}"),
            None => assert_eq!(got, None, "joins again once enabled"),
        }
    }

    // The client erases their account mid-session (disabling ended their login session, so
    // they log in again first): their token no longer joins.
    let r = client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "client@example.org", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client.delete(app.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let refused = join_refusal(&app, &client_token).await.expect("refused");
    assert!(refused.contains("account_gone"), "{refused}");

    // The booking is cancelled (by its coach): the coach's token no longer joins either.
    let r = coach
        .post(app.url(&format!(
            "/api/bookings/{}/cancel",
            b["id"].as_str().unwrap()
        )))
        .json(&json!({"reason": "ill"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let refused = join_refusal(&app, &coach_token).await.expect("refused");
    assert!(refused.contains("cancelled"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_sessions_token_dies_with_the_session() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.rtc.udp_ports = crate::common::udp_ports(20)
    })
    .await;
    let (c, _) = app.client_user("voice@example.org").await;
    let s: Value = crate::common::post_json(&c, app.url("/api/voice/sessions"), &json!({})).await;
    let id = s["session"]["id"].as_str().expect("a session id");
    let token = s["token"].as_str().expect("a join token").to_string();
    let r = c
        .post(app.url(&format!("/api/voice/sessions/{id}/end")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Ending is asynchronous (202): the agent hangs up, then the record says so.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v: Value =
            crate::common::get_json(&c, app.url(&format!("/api/voice/sessions/{id}"))).await;
        if !v["ended_at"].is_null() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the session ends within 10 s: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let refused = join_refusal(&app, &token).await.expect("refused");
    assert!(refused.contains("session_over"), "{refused}");
}

async fn two_migrations_at_once_on_a_fresh_database_both_succeed(backend: Backend) {
    for trial in 0..8 {
        let db = common::TestDb::create(backend).await;
        let run = || {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_parlor"))
                .arg("migrate")
                .current_dir(db.data_dir())
                .env("PARLOR_DATABASE__URL", &db.url)
                .env("PARLOR_DATA_DIR", db.data_dir())
                .output()
        };
        let (a, b) = tokio::join!(run(), run());
        for out in [a.unwrap(), b.unwrap()] {
            assert!(
                out.status.success(),
                "trial {trial}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Mounts a tmpfs of `size` at a fresh directory (`ro` for read-only); `None` when this
/// machine does not allow it (not root): the caller then skips, loudly.
fn tmpfs(size: &str, ro: bool) -> Option<(tempfile::TempDir, Mount)> {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = format!("size={size}");
    if ro {
        opts.push_str(",ro");
    }
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("CI must be able to mount a tmpfs (root)");
        }
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return None;
    }
    let m = Mount(dir.path().to_path_buf());
    Some((dir, m))
}

/// Unmounts on drop.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_readiness_and_writes_answer_503() {
    let Some((dir, _mount)) = tmpfs("4m", false) else {
        return;
    };
    let db = dir.path().join("parlor.db");
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.database.url = parlor::config::Secret::new(format!("sqlite://{}", db.display()));
    })
    .await;
    let (c, _) = app.client_user("full@example.org").await;
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        200
    );
    // Fill the file system.
    let filler = dir.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let r = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(r.status(), 503, "readiness sees the full disk");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "storage_unavailable");
    // A write that needs space gets 503, not 500.
    let big = "x".repeat(60_000);
    let mut statuses = Vec::new();
    for i in 0..40 {
        let r = c
            .post(app.url("/api/commitments"))
            .json(&json!({"text": format!("{i}{}", &big[..1900])}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(
        !statuses.contains(&500),
        "no 500 on a full disk: {statuses:?}"
    );
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        200,
        "ready again once there is room"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_directory_is_named_with_its_cause() {
    let Some((dir, _mount)) = tmpfs("1m", true) else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("migrate")
        .env("PARLOR_DATA_DIR", dir.path())
        .env(
            "PARLOR_DATABASE__URL",
            format!("sqlite://{}/parlor.db", dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&dir.path().display().to_string()),
        "names the path: {err}"
    );
    assert!(
        err.to_lowercase().contains("read-only"),
        "names the cause: {err}"
    );
}
