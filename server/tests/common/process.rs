//! A real `gatebell serve` process, for crashes (`kill -9`) and several instances.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A `gatebell serve` process.
pub struct Process {
    child: Child,
    /// `http://ADDR`.
    pub url: String,
}

impl Process {
    /// Starts `gatebell serve` with the demo community on `database_url`, plus `flags`; returns
    /// once it prints its address.
    pub fn spawn(database_url: &str, flags: &[String]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatebell"))
            .arg("serve")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
                "--demo",
            ])
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start gatebell");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("gatebell printed its address").unwrap();
            if let Some(u) = line.strip_prefix("Gatebell listening on ") {
                break u.to_owned();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Process { child, url }
    }

    /// SIGKILL, then waits for the process to end.
    pub fn kill(mut self) {
        // SIGKILL: no graceful shutdown, in-flight claims are abandoned.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
