//! The `api` suite: the served OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator),
//! and schemathesis, generating requests from it against a running `gatebell serve --demo`,
//! finds no 5xx and no answer the document does not describe (status, content type, schema).
//! Both tools live in a pinned Python venv in the tool cache (`~/.cache/gatebell`), made when absent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::process::{Steps, build_native, run, target_dir};

/// The pinned tools; the venv's folder is named after the schemathesis version.
const SCHEMATHESIS: &str = "4.32.5";
const SPEC_VALIDATOR: &str = "0.9.0";
/// Examples per operation and phase: enough to find the usual 5xx in about a minute in all.
const MAX_EXAMPLES: &str = "25";
/// The checks that fail the suite: no 5xx, every answer as the document describes it, and no
/// secured operation that answers without its credentials.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance,ignored_auth";
const SERVICE_KEY: &str = "api-suite-service-key-0123456789";
const DEMO_PASSWORD: &str = "gatebell-demo";

/// Adds the suite's steps.
pub fn test_steps(steps: &mut Steps) -> Result<(), String> {
    let venv = venv_dir()?;
    steps.step(
        &format!("api: schemathesis {SCHEMATHESIS} venv (made when absent)"),
        || ensure_venv(&venv),
    )?;
    steps.step("api: build native crates (as the rust suite does)", || {
        run(&mut build_native())
    })?;
    let server = Server::start()?;
    let url = server.url.clone();
    let doc = format!("{url}/api/v1/openapi.json");
    steps.step("api: openapi-spec-validator on the served document", || {
        run(Command::new(venv.join("bin/python")).args([
            "-c",
            "import json, sys, urllib.request\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(urllib.request.urlopen(sys.argv[1])))\n\
             print('valid OpenAPI', sys.argv[1])",
            &doc,
        ]))
    })?;
    let resident = login(&server.addr, "asha@demo.gatebell")?;
    let guard = login(&server.addr, "guard@demo.gatebell")?;
    write_config(&server, &resident, &guard)?;
    // Logging out would end the run's session, and the event stream never ends.
    let user_ops = [
        "--exclude-operation-id",
        "logout",
        "--exclude-operation-id",
        "streamEvents",
        "--exclude-operation-id",
        "internalNotify",
    ];
    let internal_ops = [
        "--include-operation-id",
        "internalNotify",
        "--include-operation-id",
        "putUser",
        "--include-operation-id",
        "handOverWalkin",
        "--include-operation-id",
        "handOverCheckin",
    ];
    for (who, token, filter) in [
        ("a resident", resident.as_str(), &user_ops[..]),
        ("the guard", guard.as_str(), &user_ops[..]),
        (
            "the service key on /internal",
            SERVICE_KEY,
            &internal_ops[..],
        ),
    ] {
        steps.step(&format!("api: schemathesis as {who}"), || {
            run(Command::new(venv.join("bin/schemathesis"))
                .current_dir(&server.dir)
                .args([
                    "run",
                    &doc,
                    "--checks",
                    CHECKS,
                    "--max-examples",
                    MAX_EXAMPLES,
                ])
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args(["--request-timeout", "10", "--no-color"])
                .args(filter))
        })?;
    }
    Ok(())
}

/// `schemathesis-VERSION` in the tool cache.
fn venv_dir() -> Result<PathBuf, String> {
    Ok(crate::process::cache_dir().join(format!("schemathesis-{SCHEMATHESIS}")))
}

/// Makes the venv unless a finished one is there (a stamp is written last, so an interrupted
/// install is redone rather than used).
fn ensure_venv(venv: &Path) -> Result<(), String> {
    let stamp = venv.join(".gatebell-installed");
    if stamp.exists() {
        println!("{} is ready", venv.display());
        return Ok(());
    }
    if venv.exists() {
        std::fs::remove_dir_all(venv).map_err(|e| format!("removing {}: {e}", venv.display()))?;
    }
    let made = run(Command::new("python3").arg("-m").arg("venv").arg(venv));
    if made.is_err() {
        // Debian's python3 leaves venv (ensurepip) to a package of its own.
        let _ = std::fs::remove_dir_all(venv);
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get").args([
            "install",
            "-y",
            "--no-install-recommends",
            "python3-venv",
        ]))?;
        run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    }
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--disable-pip-version-check",
        "--quiet",
        &format!("schemathesis=={SCHEMATHESIS}"),
        &format!("openapi-spec-validator=={SPEC_VALIDATOR}"),
    ]))?;
    std::fs::write(&stamp, "").map_err(|e| format!("writing {}: {e}", stamp.display()))
}

/// `gatebell serve --demo` on a fresh SQLite file and a port of the system's choosing; stopped
/// and its folder removed on drop.
struct Server {
    child: Child,
    addr: String,
    url: String,
    dir: PathBuf,
}

impl Server {
    fn start() -> Result<Server, String> {
        let dir = target_dir().join(format!("tmp/api-suite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        // A copy, so that a build of another checkout sharing the target folder cannot
        // replace the binary between the build step and the start.
        let binary = dir.join("gatebell");
        std::fs::copy(target_dir().join("debug/gatebell"), &binary)
            .map_err(|e| format!("copying the gatebell binary: {e}"))?;
        let mut child = Command::new(&binary)
            .args([
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
            ])
            .arg(format!("sqlite://{}/gatebell.db?mode=rwc", dir.display()))
            .args(["--service-key", SERVICE_KEY])
            .env("RUST_LOG", "gatebell_server=warn")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let mut server = Server {
            child,
            addr: String::new(),
            url: String::new(),
            dir,
        };
        // The server prints its address once it listens; its later lines are passed on.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("Gatebell listening on ") {
                    let _ = tx.send(url.to_owned());
                } else {
                    println!("gatebell: {line}");
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "gatebell serve did not start listening within 30 s".to_owned())?;
        server.addr = url.trim_start_matches("http://").to_owned();
        server.url = url;
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Real ids for the operations that take one, so that schemathesis reaches past their 404s:
/// a pending walk-in for Asha (approve, reject, get) and its notification (mark read). The
/// file is read from schemathesis's working folder.
fn write_config(server: &Server, resident: &str, guard: &str) -> Result<(), String> {
    let walkin = format!(
        r#"{{"visitorName":"Ravi","hostId":"{}","purpose":"parcel"}}"#,
        first_string(
            &call(&server.addr, "GET", "/api/v1/residents?q=asha", guard, None)?,
            "id"
        )?
    );
    let visit = first_string(
        &call(
            &server.addr,
            "POST",
            "/api/v1/visits/walkin",
            guard,
            Some(&walkin),
        )?,
        "id",
    )?;
    let notification = first_string(
        &call(&server.addr, "GET", "/api/v1/notifications", resident, None)?,
        "id",
    )?;
    let mut config = String::new();
    for op in ["getVisit", "approveVisit", "rejectVisit"] {
        config.push_str(&operation_id_config(op, &visit));
    }
    config.push_str(&operation_id_config("markNotificationRead", &notification));
    let path = server.dir.join("schemathesis.toml");
    std::fs::write(&path, config).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn operation_id_config(operation: &str, id: &str) -> String {
    format!(
        "[[operations]]\ninclude-operation-id = \"{operation}\"\nparameters = {{ \"path.id\" = \"{id}\" }}\n\n"
    )
}

/// Signs a demo account in; returns its bearer token.
fn login(addr: &str, email: &str) -> Result<String, String> {
    let body = format!(r#"{{"email":"{email}","password":"{DEMO_PASSWORD}"}}"#);
    let response = call(addr, "POST", "/api/v1/auth/login", "", Some(&body))?;
    first_string(&response, "token").map_err(|e| format!("signing in {email}: {e}"))
}

/// One request over plain HTTP/1.1 (a bearer token unless empty, a JSON body when given);
/// the whole answer, status line first.
fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> Result<String, String> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !token.is_empty() {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connecting {addr}: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("sending {method} {path}: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("reading the answer to {method} {path}: {e}"))?;
    Ok(response)
}

/// The first string value of `"key"` in a 2xx answer's JSON. Enough for ids and tokens (UUIDs
/// and base64url: no escapes to undo), and it keeps the xtask free of dependencies.
fn first_string(response: &str, key: &str) -> Result<String, String> {
    let status_ok = response
        .split(' ')
        .nth(1)
        .is_some_and(|status| status.starts_with('2'));
    let value = status_ok
        .then(|| response.split_once(&format!(r#""{key}":""#)))
        .flatten()
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| value.to_owned());
    value.ok_or_else(|| format!("no \"{key}\" in the answer: {response}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_from_successful_answers_only() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n\
                  {\"token\":\"abc-_9\",\"user\":{\"id\":\"u\"},\"expiresAt\":1}";
        assert_eq!(first_string(ok, "token").as_deref(), Ok("abc-_9"));
        assert_eq!(first_string(ok, "id").as_deref(), Ok("u"));
        let refused = "HTTP/1.1 401 Unauthorized\r\n\r\n{\"error\":{\"code\":\"unauthorized\"}}";
        assert!(first_string(refused, "code").is_err());
    }

    #[test]
    fn operation_config_pins_the_path_id() {
        assert_eq!(
            operation_id_config("getVisit", "v-1"),
            "[[operations]]\ninclude-operation-id = \"getVisit\"\nparameters = { \"path.id\" = \"v-1\" }\n\n"
        );
    }
}
