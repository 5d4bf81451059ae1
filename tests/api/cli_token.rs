//! `parlor token`: an operator mints a join link from the command line. The link's token is
//! signed with the server's own key (the generated `data/signing.key`, mode 0600, or
//! `PARLOR_AUTH__SIGNING_SECRET`), is scoped to the room, carries name, role and the requested
//! validity, and a bad room name or role is refused with a message and a non-zero exit.

use parlor::auth::join_token::{self, RoomRole};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn parlor(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parlor"))
        .current_dir(dir)
        .env_clear()
        .env("PARLOR_HTTP__PUBLIC_URL", "https://meet.example.org")
        .args(args)
        .output()
        .unwrap()
}

fn token_of(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = stdout.trim();
    let (page, token) = link.split_once("#token=").expect("a join link");
    assert_eq!(page, "https://meet.example.org/r/coaching-42");
    token.to_string()
}

/// The `iat` claim of a token, read without verifying it.
fn issued_at(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON claims");
    v["iat"].as_i64().expect("an iat claim")
}

#[test]
fn a_minted_link_carries_a_verifiable_room_scoped_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = parlor(
        dir.path(),
        &[
            "token",
            "--room",
            "coaching-42",
            "--name",
            "Ana Coach",
            "--role",
            "coach",
            "--ttl-minutes",
            "5",
        ],
    );
    let token = token_of(&out);
    let key_file = dir.path().join("data/signing.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the generated key is private");
    let key = std::fs::read_to_string(&key_file).unwrap();
    // The CLI runs on its own clock: check the token at the instant it says it was issued,
    // never against this test's wall clock.
    let now = issued_at(&token);
    let claims = join_token::verify(key.trim().as_bytes(), &token, "coaching-42", now)
        .expect("signed with the server's key");
    assert_eq!(claims.name, "Ana Coach");
    assert_eq!(claims.role, RoomRole::Coach);
    assert_eq!(claims.exp - claims.iat, 300, "valid 5 minutes: {claims:?}");
    assert!(
        join_token::verify(key.trim().as_bytes(), &token, "another-room", now).is_err(),
        "scoped to its room"
    );
    assert!(
        join_token::verify(key.trim().as_bytes(), &token, "coaching-42", now + 301).is_err(),
        "expires"
    );
    // Guests get fresh identities: two links never share one.
    let a = token_of(&parlor(
        dir.path(),
        &["token", "--room", "coaching-42", "--name", "G"],
    ));
    let b = token_of(&parlor(
        dir.path(),
        &["token", "--room", "coaching-42", "--name", "G"],
    ));
    let sub = |t: &str| {
        join_token::verify(key.trim().as_bytes(), t, "coaching-42", issued_at(t)).unwrap()
    };
    assert_eq!(sub(&a).role, RoomRole::Guest);
    assert_ne!(sub(&a).sub, sub(&b).sub);
}

#[test]
fn bad_room_names_and_roles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["token", "--room", "../etc", "--name", "X"][..],
        &["token", "--room", "ok", "--name", "X", "--role", "emperor"][..],
        &["token", "--room", "ok", "--name", ""][..],
    ] {
        let out = parlor(dir.path(), args);
        assert!(!out.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.trim().is_empty(), "{args:?}: no message");
        assert!(out.stdout.is_empty(), "{args:?}: printed a link");
    }
}

/// The operator is told which configuration the link's host came from (on stderr; stdout
/// keeps only the link): the file, or none, and the `PARLOR_*` overrides.
#[test]
fn the_token_command_says_which_configuration_it_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = parlor(
        dir.path(),
        &["token", "--room", "coaching-42", "--name", "Ana Coach"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("http.public_url = https://meet.example.org"),
        "{err}"
    );
    assert!(err.contains("no config file"), "{err}");
    assert!(err.contains("PARLOR_HTTP__PUBLIC_URL"), "{err}");
    assert!(
        token_of(&out).len() > 20,
        "stdout still holds the link alone"
    );
    std::fs::write(
        dir.path().join("site.toml"),
        "[http]\npublic_url = \"https://file.example.org\"\n",
    )
    .unwrap();
    let out = parlor(
        dir.path(),
        &[
            "--config",
            "site.toml",
            "token",
            "--room",
            "coaching-42",
            "--name",
            "Ana Coach",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("configuration: site.toml, overridden by PARLOR_HTTP__PUBLIC_URL"),
        "{err}"
    );
}
