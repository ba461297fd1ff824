//! A real SMTP server on 127.0.0.1: Python's `aiosmtpd` (`tests/smtp/smtp_sink.py`), which
//! parses each message it receives with Python's `email` package and reports it as JSON. Plain
//! by default (a local relay); as a submission server it offers STARTTLS or implicit TLS with a
//! test CA's certificate, asks for AUTH, and refuses recipients with 4xx or 5xx as scripted.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gatebell_testkit::tls::TestCa;
use serde_json::Value;

/// How the sink speaks TLS.
#[derive(Clone, Copy, Default)]
pub enum SinkTls<'a> {
    /// Plain SMTP, as a local relay on port 25.
    #[default]
    None,
    /// STARTTLS required before mail and AUTH (`smtp://…?tls=required`).
    StartTls(&'a TestCa),
    /// TLS from the first byte (`smtps://`).
    Implicit(&'a TestCa),
}

/// What the sink asks of its clients.
#[derive(Default)]
pub struct SinkOptions<'a> {
    pub tls: SinkTls<'a>,
    /// The user and password AUTH must give; no mail is taken before it.
    pub credentials: Option<(&'a str, &'a str)>,
    /// `(address, code, times)`: `RCPT TO` that address is answered `code` the first `times`.
    pub refuse: Vec<(&'a str, u16, usize)>,
}

/// A running SMTP server and what it saw.
pub struct SmtpSink {
    child: Child,
    /// Its port.
    pub port: u16,
    scheme_and_query: (&'static str, &'static str),
    credentials: Option<(String, String)>,
    events: Arc<Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts a plain server (a local relay) on a port the system picks.
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(SinkOptions::default())
    }

    /// Starts a server with `options` on a port the system picks.
    pub fn start_with(options: SinkOptions) -> SmtpSink {
        static PYTHON: OnceLock<std::path::PathBuf> = OnceLock::new();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp");
        let python =
            PYTHON.get_or_init(|| super::python::venv("smtp-sink", &dir.join("requirements.txt")));
        let files = tempfile::tempdir().unwrap();
        let mut command = Command::new(python);
        command.arg(dir.join("smtp_sink.py"));
        let (mode, ca, scheme_and_query) = match options.tls {
            SinkTls::None => ("none", None, ("smtp", "")),
            SinkTls::StartTls(ca) => ("starttls", Some(ca), ("smtp", "?tls=required")),
            SinkTls::Implicit(ca) => ("implicit", Some(ca), ("smtps", "")),
        };
        command.args(["--tls", mode]);
        if let Some(ca) = ca {
            let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
            std::fs::write(&cert, ca.cert_pem()).unwrap();
            std::fs::write(&key, ca.key_pem()).unwrap();
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some((user, password)) = options.credentials {
            command.args(["--user", user, "--password", password]);
        }
        for (address, code, times) in &options.refuse {
            command
                .arg("--refuse")
                .arg(format!("{address}:{code}:{times}"));
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines
            .next()
            .expect("the SMTP server started or died")
            .unwrap();
        let port = first
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).expect("the sink prints JSON");
                sink.lock().unwrap().push(v);
            }
        });
        SmtpSink {
            child,
            port,
            scheme_and_query,
            credentials: options
                .credentials
                .map(|(u, p)| (u.to_owned(), p.to_owned())),
            events,
            _dir: files,
        }
    }

    /// The `--smtp-url` for this server, with the credentials it asks for.
    pub fn url(&self) -> String {
        match &self.credentials {
            Some((user, password)) => self.url_as(user, password),
            None => {
                let (scheme, query) = self.scheme_and_query;
                format!("{scheme}://127.0.0.1:{}{query}", self.port)
            }
        }
    }

    /// The `--smtp-url` for this server, signing in as `user` with `password`.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        let (scheme, query) = self.scheme_and_query;
        format!(
            "{scheme}://{user}:{password}@127.0.0.1:{}{query}",
            self.port
        )
    }

    fn events(&self, kind: &str) -> Vec<Value> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e["event"] == kind)
            .cloned()
            .collect()
    }

    /// Every message taken so far.
    pub fn received(&self) -> Vec<Value> {
        self.events("message")
    }

    /// Every scripted refusal so far: `{"rcpt", "code"}`.
    pub fn refusals(&self) -> Vec<Value> {
        self.events("refused")
    }

    /// Every AUTH attempt so far: `{"mechanism", "login", "success"}`.
    pub fn auths(&self) -> Vec<Value> {
        self.events("auth")
    }

    /// Waits until at least `n` messages arrived; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {n} emails, got {}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
