//! A real SMTP server for the notification tests: `tests/common/smtp_sink.py` on aiosmtpd
//! (Debian's `python3-aiosmtpd`), run by Debian's own Python. Received mail is parsed with
//! `mail-parser`, a MIME parser independent of the lettre that wrote it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the sink should behave.
#[derive(Default, Clone)]
pub struct SinkOptions {
    pub fail: u32,
    pub reject: u32,
    pub stall_secs: f64,
    /// (certificate PEM path, key PEM path): STARTTLS required.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// (user, password): AUTH required.
    pub auth: Option<(String, String)>,
}

/// A running SMTP sink; stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// The Python with aiosmtpd: Debian's, whatever `python3` is first on PATH.
fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl SmtpSink {
    pub fn start(opts: SinkOptions) -> SmtpSink {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/smtp_sink.py");
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir.path())
            .arg("--fail")
            .arg(opts.fail.to_string())
            .arg("--reject")
            .arg(opts.reject.to_string())
            .arg("--stall")
            .arg(opts.stall_secs.to_string());
        if let Some((cert, key)) = &opts.tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        if let Some((u, p)) = &opts.auth {
            cmd.arg("--auth").arg(format!("{u}:{p}"));
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start the SMTP sink (needs python3-aiosmtpd: apt install python3-aiosmtpd): {e}")
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the sink's first line");
        assert_eq!(
            line.trim(),
            "READY",
            "the SMTP sink did not start (is python3-aiosmtpd installed?)"
        );
        SmtpSink { port, dir, child }
    }

    /// The raw messages received so far, in order.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("read sink dir")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read(p).expect("read message"))
            .collect()
    }

    /// Waits until at least `n` messages have arrived (panics after `limit`).
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + limit;
        loop {
            let raw = self.raw();
            if raw.len() >= n {
                return raw.iter().map(|r| Mail::parse(r)).collect();
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages within {limit:?}, got {}",
                raw.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the sink has started stalling on a message.
    pub fn stalling(&self) -> bool {
        self.dir.path().join("stalling").exists()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received message, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub message_id: String,
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// (Content-Type as written, body) of each `text/calendar` part.
    pub calendars: Vec<(String, String)>,
    pub list_unsubscribe: Option<String>,
    pub list_unsubscribe_post: Option<String>,
    pub content_type: String,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        use mail_parser::{MessageParser, MimeHeaders};
        let m = MessageParser::default()
            .parse(raw)
            .expect("a parseable MIME message");
        let addr = |a: Option<&mail_parser::Address>| {
            a.and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string()
        };
        let header = |name: &str| m.header_raw(name).map(|v| v.trim().to_string());
        let mut calendars = Vec::new();
        for part in m.parts.iter() {
            if let Some(ct) = part.content_type()
                && ct.ctype() == "text"
                && ct.subtype() == Some("calendar")
            {
                let mut written = "text/calendar".to_string();
                if let Some(attrs) = ct.attributes() {
                    for a in attrs {
                        written.push_str(&format!("; {}={}", a.name, a.value));
                    }
                }
                let body = String::from_utf8_lossy(part.contents()).to_string();
                calendars.push((written, body));
            }
        }
        Mail {
            message_id: m.message_id().unwrap_or_default().to_string(),
            to: addr(m.to()),
            from: addr(m.from()),
            subject: m.subject().unwrap_or_default().to_string(),
            text: m.body_text(0).map(|t| t.to_string()).unwrap_or_default(),
            html: m.body_html(0).map(|t| t.to_string()).unwrap_or_default(),
            calendars,
            list_unsubscribe: header("List-Unsubscribe"),
            list_unsubscribe_post: header("List-Unsubscribe-Post"),
            content_type: m
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
                .unwrap_or_default(),
        }
    }
}
