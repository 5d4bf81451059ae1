//! The real `parlor` binary in a temporary working directory: `migrate`, `user add`, `serve`
//! with graceful SIGTERM shutdown, configuration errors (exit code 2 naming the key), JSON logs,
//! first-run files, `/metrics` and the OpenAPI document.

use crate::common::process::{Server, parlor, text};
use serde_json::{Value, json};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const PASSWORD: &str = "a long password 123";

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/x.db", dir.display())
}

/// `parlor user add` with `stdin` written to a pipe that is then closed.
fn user_add(dir: &Path, db: &str, email: &str, role: &str, stdin: &str) -> Output {
    let mut child = parlor(dir)
        .env("PARLOR_DATABASE__URL", db)
        .args([
            "user", "add", "--email", email, "--name", "A", "--role", role,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.as_bytes()).unwrap();
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user add failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

async fn login(s: &Server, c: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
    c.post(s.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[test]
fn migrate_creates_the_sqlite_database_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = parlor(dir.path())
        .arg("migrate")
        .env("PARLOR_DATABASE__URL", sqlite_url(dir.path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        dir.path().join("x.db").is_file(),
        "the database file exists"
    );
    assert!(text(&out.stdout).contains("migrations applied"));
    let again = parlor(dir.path())
        .arg("migrate")
        .env("PARLOR_DATABASE__URL", sqlite_url(dir.path()))
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "migrate is idempotent: {}",
        text(&again.stderr)
    );
}

#[tokio::test]
async fn user_add_with_piped_password_then_serve_login_and_sigterm_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let out = user_add(
        dir.path(),
        &db,
        "a@x.org",
        "admin",
        &format!("{PASSWORD}\n"),
    );
    let stdout = text(&out.stdout);
    let id = stdout
        .split_once("(u_")
        .map(|(_, rest)| format!("u_{}", rest.split(')').next().unwrap()));
    let id = id.unwrap_or_else(|| panic!("user add prints the id: {stdout}"));
    assert!(
        !stdout.contains(PASSWORD) && !stdout.contains("shown once"),
        "{stdout}"
    );
    let mut s = Server::start(dir.path(), &[("PARLOR_DATABASE__URL", &db)]).await;
    let c = reqwest::Client::new();
    let r = login(&s, &c, "a@x.org", PASSWORD).await;
    assert_eq!(r.status(), 200, "{}", s.logs());
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["user"]["id"], id.as_str());
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(
        login(&s, &c, "a@x.org", "wrong password!!").await.status(),
        401
    );
    // The client keeps its idle keep-alive connection open while the server shuts down.
    let st = s.terminate(Duration::from_secs(10)).await;
    let st = st.unwrap_or_else(|| panic!("no exit within 10 s of SIGTERM: {}", s.logs()));
    assert_eq!(
        st.code(),
        Some(0),
        "graceful shutdown exits 0: {}",
        s.logs()
    );
}

#[tokio::test]
async fn user_add_without_a_password_prints_a_generated_one_that_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let out = user_add(dir.path(), &db, "coach@x.org", "coach", "");
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("password (shown once): "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let password = line.trim_start_matches("password (shown once): ").trim();
    assert!(password.len() >= 10, "{password:?}");
    let s = Server::start(dir.path(), &[("PARLOR_DATABASE__URL", &db)]).await;
    let r = login(&s, &reqwest::Client::new(), "coach@x.org", password).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["user"]["role"], "coach");
}

fn config_error(dir: &Path, configure: impl FnOnce(&mut Command)) -> String {
    let mut cmd = parlor(dir);
    cmd.env("PARLOR_DATABASE__URL", sqlite_url(dir));
    configure(&mut cmd);
    let out = cmd.output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "configuration errors exit 2: {stderr}"
    );
    assert!(stderr.contains("configuration error"), "{stderr}");
    assert!(!dir.join("x.db").exists(), "nothing ran: {stderr}");
    stderr
}

#[test]
fn unknown_environment_key_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = config_error(dir.path(), |c| {
        c.env("PARLOR_HTTP__PORTT", "1").arg("migrate");
    });
    assert!(e.contains("portt"), "{e}");
}

#[test]
fn a_media_socket_buffer_out_of_range_exits_2_naming_it() {
    for (key, value) in [
        ("PARLOR_RTC__RECV_BUFFER_BYTES", "1000"),
        ("PARLOR_RTC__SEND_BUFFER_BYTES", "999999999"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let e = config_error(dir.path(), |c| {
            c.env(key, value).arg("migrate");
        });
        let name = key.trim_start_matches("PARLOR_RTC__").to_ascii_lowercase();
        assert!(e.contains(&format!("rtc.{name}")), "{e}");
    }
}

#[test]
fn unknown_key_in_the_config_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("file.toml"),
        "[http]\nadress = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let e = config_error(dir.path(), |c| {
        c.args(["--config", "file.toml", "migrate"]);
    });
    assert!(e.contains("adress"), "{e}");
}

#[test]
fn secret_in_the_config_file_is_refused_naming_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file.toml"), "[jitsi]\napp_secret=\"x\"\n").unwrap();
    let e = config_error(dir.path(), |c| {
        c.args(["--config", "file.toml", "migrate"]);
    });
    assert!(e.contains("PARLOR_JITSI__APP_SECRET"), "{e}");
    assert!(
        !e.contains("=\"x\"") && !e.contains("\"x\""),
        "the secret is not echoed: {e}"
    );
}

#[test]
fn elevenlabs_api_key_in_the_config_file_is_refused_naming_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("file.toml"),
        "[voice.elevenlabs]\nagent_id = \"agent_1\"\napi_key = \"sk_in_file\"\n",
    )
    .unwrap();
    let e = config_error(dir.path(), |c| {
        c.args(["--config", "file.toml", "migrate"]);
    });
    assert!(e.contains("PARLOR_VOICE__ELEVENLABS__API_KEY"), "{e}");
    assert!(!e.contains("sk_in_file"), "the key is not echoed: {e}");
}

#[test]
fn config_file_named_by_parlor_config_is_used() {
    // `--config` documents `PARLOR_CONFIG` as its environment form.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.toml");
    std::fs::write(
        &file,
        format!("[database]\nurl = \"{}\"\n", sqlite_url(dir.path())),
    )
    .unwrap();
    let out = parlor(dir.path())
        .env("PARLOR_CONFIG", &file)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    assert!(
        dir.path().join("x.db").is_file(),
        "the file's database URL was used"
    );
}

#[tokio::test]
async fn log_json_true_makes_serve_log_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let s = Server::start(
        dir.path(),
        &[("PARLOR_DATABASE__URL", &db), ("PARLOR_LOG__JSON", "true")],
    )
    .await;
    let out = std::fs::read_to_string(dir.path().join("serve.out")).unwrap();
    let err = std::fs::read_to_string(dir.path().join("serve.err")).unwrap();
    let lines: Vec<&str> = out
        .lines()
        .chain(err.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!lines.is_empty(), "serve logged something: {}", s.logs());
    for l in &lines {
        let v: Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
    }
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(first["fields"]["message"].is_string(), "{first}");
    assert!(
        lines.iter().any(|l| l.contains("parlor listening")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn first_run_creates_data_dir_with_a_0600_signing_key_and_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]).await;
    let key = dir.path().join("data/signing.key");
    let meta =
        std::fs::metadata(&key).unwrap_or_else(|e| panic!("{}: {e}; {}", key.display(), s.logs()));
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "signing.key is private"
    );
    assert!(std::fs::read_to_string(&key).unwrap().trim().len() >= 32);
    assert!(
        dir.path().join("data/parlor.db").is_file(),
        "default database in the cwd: {}",
        s.logs()
    );
    assert!(
        !s.logs()
            .contains(std::fs::read_to_string(&key).unwrap().trim()),
        "the key is never logged"
    );
    assert_eq!(reqwest::get(s.url("/readyz")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_with_latency_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[("PARLOR_DATABASE__URL", &sqlite_url(dir.path()))],
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            reqwest::get(s.url("/api/coaches")).await.unwrap().status(),
            200
        );
    }
    assert_eq!(
        reqwest::get(s.url("/api/coaches/c_nope"))
            .await
            .unwrap()
            .status(),
        404
    );
    let r = reqwest::get(s.url("/metrics")).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let m = r.text().await.unwrap();
    let counter = m
        .lines()
        .find(|l| {
            l.starts_with("parlor_http_requests_total{")
                && l.contains("route=\"/api/coaches\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no request counter for /api/coaches: {m}"));
    assert!(counter.ends_with(" 3"), "{counter}");
    assert!(
        m.lines()
            .any(|l| l.starts_with("parlor_http_requests_total{")
                && l.contains("route=\"/api/coaches/{id}\"")),
        "{m}"
    );
    assert!(
        m.lines()
            .any(|l| l.starts_with("parlor_http_request_duration_seconds_bucket{")),
        "{m}"
    );
    // For operators: the process itself, and which build is running.
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(
            m.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name}: {m}"
        );
    }
    let build = m
        .lines()
        .find(|l| l.starts_with("parlor_build_info{"))
        .unwrap_or_else(|| panic!("no build info: {m}"));
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
            && build.contains("libopus=\"1.6.1\"")
            && build.contains("revision=\"")
            && build.ends_with(" 1"),
        "{build}"
    );
    // Every metric the Grafana dashboard in docs/ queries is one the server exports.
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/grafana-dashboard.json"
    ))
    .unwrap();
    let names = regex::Regex::new(r"\b((?:parlor|process)_[a-z_]+)").unwrap();
    let mut queried = 0;
    for c in names.captures_iter(&dashboard) {
        let base = c[1].strip_suffix("_bucket").unwrap_or(&c[1]);
        assert!(
            m.contains(&format!("# TYPE {base} ")),
            "the dashboard queries {base}, which /metrics does not export"
        );
        queried += 1;
    }
    assert!(queried >= 20, "{queried}");
}

#[test]
fn version_names_the_revision_and_the_codec() {
    let dir = tempfile::tempdir().unwrap();
    let out = parlor(dir.path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let v = text(&out.stdout);
    assert!(
        v.starts_with(&format!("parlor {} (revision ", env!("CARGO_PKG_VERSION")))
            && v.contains(", libopus 1.6.1)"),
        "{v}"
    );
}

#[tokio::test]
async fn openapi_lists_every_route_the_router_serves() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[("PARLOR_DATABASE__URL", &sqlite_url(dir.path()))],
    )
    .await;
    let doc: Value = reqwest::get(s.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    let routes: &[(&str, &[&str])] = &[
        ("/api/auth/signup", &["post"]),
        ("/api/auth/login", &["post"]),
        ("/api/auth/logout", &["post"]),
        ("/api/me", &["get", "patch", "delete"]),
        ("/api/me/export", &["get"]),
        ("/api/me/calendar-feed", &["post"]),
        ("/api/keys", &["get", "post"]),
        ("/api/keys/{id}", &["delete"]),
        ("/api/coaches", &["get", "post"]),
        ("/api/coaches/{id}", &["get", "patch"]),
        ("/api/coaches/{id}/availability", &["put"]),
        ("/api/coaches/{id}/slots", &["get"]),
        ("/api/bookings", &["get", "post"]),
        ("/api/bookings/{id}", &["get"]),
        ("/api/bookings/{id}/reschedule", &["post"]),
        ("/api/bookings/{id}/cancel", &["post"]),
        ("/api/bookings/{id}/rating", &["post"]),
        ("/api/bookings/{id}/notes", &["put"]),
        ("/api/bookings/{id}/status", &["put"]),
        ("/api/bookings/{id}/invite.ics", &["get"]),
        ("/api/commitments", &["get", "post"]),
        ("/api/commitments/{id}", &["patch", "delete"]),
        ("/api/admin/users", &["post"]),
        ("/api/admin/audit", &["get"]),
        ("/api/openapi.json", &["get"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/metrics", &["get"]),
        ("/cal/{file}", &["get"]),
    ];
    let mut missing = Vec::new();
    for (path, methods) in routes {
        for m in *methods {
            if paths.get(*path).and_then(|p| p.get(*m)).is_none() {
                missing.push(format!("{} {path}", m.to_uppercase()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in the OpenAPI document: {missing:?}"
    );
    // Every documented operation is actually served (none answers with the 404/405 fallbacks).
    let c = reqwest::Client::new();
    for (path, ops) in paths {
        for m in ops.as_object().unwrap().keys() {
            let url = s.url(&path.replace("{id}", "x_none").replace("{file}", "none.ics"));
            let r = c
                .request(
                    reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap(),
                    url,
                )
                .send()
                .await
                .unwrap();
            let code = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert!(
                code != 405 && !body.contains("route not found"),
                "{} {path} → {code} {body}",
                m.to_uppercase()
            );
        }
    }
}

/// A failed command says why once, in plain text (stderr is a pipe here, not a terminal:
/// no colour codes, as in a log file or journald).
#[test]
fn a_cli_error_is_said_once_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = parlor(dir.path())
        .args(["token", "--room", "no spaces allowed", "--name", "A"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(
        err.matches("room names use letters").count(),
        1,
        "said once: {err}"
    );
    assert!(!err.contains('\u{1b}'), "no ANSI escapes: {err:?}");
}

/// Log lines written to a pipe carry no colour codes either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]).await;
    let _ = s.terminate(Duration::from_secs(10)).await;
    let logs = std::fs::read_to_string(dir.path().join("serve.err")).unwrap();
    assert!(logs.contains("INFO"), "some log lines: {logs}");
    assert!(!logs.contains('\u{1b}'), "no ANSI escapes: {logs:?}");
}

#[test]
fn a_syntax_error_names_the_file_that_has_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.toml"), "[http\naddr = 1\n").unwrap();
    let e = config_error(dir.path(), |c| {
        c.args(["--config", "other.toml", "migrate"]);
    });
    assert!(e.contains("other.toml"), "{e}");
    assert!(!e.contains("config/parlor.toml"), "{e}");
}

#[test]
fn a_named_config_file_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = config_error(dir.path(), |c| {
        c.args(["--config", "missing.toml", "migrate"]);
    });
    assert!(e.contains("missing.toml"), "{e}");
    // The default path may be absent (environment only): that still runs.
    let out = parlor(dir.path())
        .env("PARLOR_DATABASE__URL", sqlite_url(dir.path()))
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn an_invalid_environment_value_names_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let e = config_error(dir.path(), |c| {
        c.env("PARLOR_HTTP__ADDR", "not an address").arg("migrate");
    });
    assert!(e.contains("http.addr"), "{e}");
    assert!(e.contains("PARLOR_HTTP__ADDR"), "{e}");
    let e = config_error(dir.path(), |c| {
        c.env("PARLOR_VOICE__ELEVENLABS__STALL_SECS", "0")
            .arg("migrate");
    });
    assert!(e.contains("PARLOR_VOICE__ELEVENLABS__STALL_SECS"), "{e}");
}

/// `serve` warns at start when the public URL is plain http on an address browsers do not
/// treat as secure (camera and microphone would be refused), and not on localhost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_warns_when_the_public_url_blocks_camera_and_microphone() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        dir.path(),
        &[("PARLOR_HTTP__PUBLIC_URL", "http://coaching.example.org")],
    )
    .await;
    let _ = s.terminate(Duration::from_secs(10)).await;
    let logs = std::fs::read_to_string(dir.path().join("serve.err")).unwrap();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("allow the camera and microphone only on https"),
        "{logs}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]).await;
    let _ = s.terminate(Duration::from_secs(10)).await;
    let logs = std::fs::read_to_string(dir.path().join("serve.err")).unwrap();
    assert!(
        !logs.contains("only on https"),
        "no warning on localhost: {logs}"
    );
}

/// `parlor config check` prints every effective value with its origin (default, file,
/// environment variable), secrets redacted; an invalid configuration exits 2 naming the key.
#[test]
fn config_check_shows_each_value_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        "[http]\npublic_url = \"https://coaching.example.org\"\n[rooms]\nmax_participants = 6\n",
    )
    .unwrap();
    let out = parlor(dir.path())
        .env("PARLOR_HTTP__ADDR", "127.0.0.1:9999")
        .env(
            "PARLOR_AUTH__SIGNING_SECRET",
            "a-signing-secret-that-is-long-enough-0123",
        )
        .args(["--config", "site.toml", "config", "check"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no line for {key}: {stdout}"))
            .to_string()
    };
    let public = line("http.public_url");
    assert!(
        public.contains("\"https://coaching.example.org\"") && public.ends_with("# file site.toml"),
        "{public}"
    );
    assert!(line("rooms.max_participants").ends_with("# file site.toml"));
    let addr = line("http.addr");
    assert!(
        addr.contains("127.0.0.1:9999") && addr.ends_with("# PARLOR_HTTP__ADDR"),
        "{addr}"
    );
    assert!(line("log.level").ends_with("# default"));
    let secret = line("auth.signing_secret");
    assert!(secret.contains("[redacted]"), "{secret}");
    assert!(
        !stdout.contains("a-signing-secret-that-is-long-enough"),
        "{stdout}"
    );
    assert!(line("jitsi.app_secret").contains("(not set)"));
    // Invalid: exit 2 naming the key and its variable, nothing printed as valid.
    let e = config_error(dir.path(), |c| {
        c.env("PARLOR_ROOMS__MAX_PARTICIPANTS", "0")
            .args(["config", "check"]);
    });
    assert!(e.contains("rooms.max_participants"), "{e}");
}

/// A forgotten password, the admin's included, is reset from the command line: `user passwd`
/// reads the new one from stdin (or generates it), the old one stops working, and `user
/// list` shows the accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_passwd_resets_a_forgotten_password_and_user_list_shows_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    user_add(
        dir.path(),
        &db,
        "root@example.org",
        "admin",
        &format!("{PASSWORD}\n"),
    );
    let mut child = parlor(dir.path())
        .env("PARLOR_DATABASE__URL", &db)
        .args(["user", "passwd", "--email", "root@example.org"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a replacement password 77\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("password set for root@example.org"));
    let list = parlor(dir.path())
        .env("PARLOR_DATABASE__URL", &db)
        .args(["user", "list"])
        .output()
        .unwrap();
    let listed = text(&list.stdout);
    assert!(listed.contains("\tadmin\troot@example.org\t"), "{listed}");
    let s = Server::start(dir.path(), &[("PARLOR_DATABASE__URL", &db)]).await;
    let c = reqwest::Client::new();
    assert_eq!(
        login(&s, &c, "root@example.org", PASSWORD).await.status(),
        401,
        "the old password stopped working"
    );
    assert_eq!(
        login(&s, &c, "root@example.org", "a replacement password 77")
            .await
            .status(),
        200
    );
    // An unknown email is refused with words, changing nothing.
    let out = parlor(dir.path())
        .env("PARLOR_DATABASE__URL", &db)
        .args(["user", "passwd", "--email", "nobody@example.org"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no account has the email"),
        "{}",
        text(&out.stderr)
    );
}

/// `user disable`, `user enable` and `user role` from the command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_disable_enable_and_role_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    user_add(
        dir.path(),
        &db,
        "member@example.org",
        "client",
        &format!("{PASSWORD}\n"),
    );
    let run = |args: &[&str]| {
        let out = parlor(dir.path())
            .env("PARLOR_DATABASE__URL", &db)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    assert!(run(&["user", "disable", "--email", "member@example.org"]).contains("disabled"));
    let s = Server::start(dir.path(), &[("PARLOR_DATABASE__URL", &db)]).await;
    let c = reqwest::Client::new();
    assert_eq!(
        login(&s, &c, "member@example.org", PASSWORD).await.status(),
        403
    );
    assert!(run(&["user", "enable", "--email", "member@example.org"]).contains("active"));
    assert_eq!(
        login(&s, &c, "member@example.org", PASSWORD).await.status(),
        200
    );
    assert!(
        run(&[
            "user",
            "role",
            "--email",
            "member@example.org",
            "--role",
            "coach"
        ])
        .starts_with("coach ")
    );
}

/// `parlor coach add` makes a bookable coach in one step: an account, a profile, opening
/// hours; the public list shows the coach and the slots endpoint has free slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coach_add_makes_a_bookable_coach_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(dir.path());
    let out = parlor(dir.path())
        .env("PARLOR_DATABASE__URL", &db)
        .args([
            "coach",
            "add",
            "--email",
            "cora@example.org",
            "--name",
            "Cora Coach",
            "--title",
            "Career coach",
            "--time-zone",
            "Europe/Berlin",
            "--hours",
            "Mon-Sun 08:00-12:00, Mon-Sun 13:00-20:00",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("created bookable coach Cora Coach"),
        "{stdout}"
    );
    assert!(stdout.contains("password (shown once): "), "{stdout}");
    // Bad hours are refused with words before anything is created.
    let bad = parlor(dir.path())
        .env("PARLOR_DATABASE__URL", &db)
        .args([
            "coach",
            "add",
            "--email",
            "x@example.org",
            "--name",
            "X",
            "--hours",
            "Funday 9-5",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("not a weekday"),
        "{}",
        text(&bad.stderr)
    );
    let s = Server::start(dir.path(), &[("PARLOR_DATABASE__URL", &db)]).await;
    let coaches: Value = reqwest::get(s.url("/api/coaches"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let coaches = coaches.as_array().unwrap();
    assert_eq!(coaches.len(), 1, "{coaches:?}");
    assert_eq!(coaches[0]["name"], "Cora Coach");
    let id = coaches[0]["id"].as_str().unwrap();
    let slots: Value = reqwest::get(s.url(&format!("/api/coaches/{id}/slots")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !slots["slots"].as_array().unwrap().is_empty(),
        "bookable at once: {slots}"
    );
}
