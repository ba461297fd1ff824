//! A real SMTP server on 127.0.0.1: Python's `aiosmtpd` (`tests/smtp/smtp_sink.py`), which
//! parses each message it receives with Python's `email` package and reports it as JSON.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running SMTP server and the messages it received.
pub struct SmtpSink {
    child: Child,
    /// Its port.
    pub port: u16,
    received: Arc<Mutex<Vec<Value>>>,
}

impl SmtpSink {
    /// Starts the server on a free port.
    pub fn start() -> SmtpSink {
        static PYTHON: OnceLock<std::path::PathBuf> = OnceLock::new();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp");
        let python =
            PYTHON.get_or_init(|| super::python::venv("smtp-sink", &dir.join("requirements.txt")));
        let mut child = Command::new(python)
            .arg(dir.join("smtp_sink.py"))
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
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).expect("the sink prints JSON");
                sink.lock().unwrap().push(v);
            }
        });
        SmtpSink {
            child,
            port,
            received,
        }
    }

    /// `smtp://127.0.0.1:PORT`, for `--smtp-url` (plain: a local relay).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message so far.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
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
