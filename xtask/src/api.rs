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

/// The hooks that seed requests no generator can guess and record every answer's status.
const HOOKS: &str = include_str!("schemathesis_hooks.py");

/// What each run covers: its caller and operations. Every documented operation is in one run,
/// but for the three below, whose success would end the run's own session or never end.
const RUNS: &[(&str, &[&str])] = &[
    (
        "resident",
        &[
            "login",
            "getMe",
            "listSessions",
            "getPreferences",
            "putPreferences",
            "getVapidPublicKey",
            "registerDevice",
            "unregisterDevice",
            "unregisterDeviceByPost",
            "listNotifications",
            "markNotificationRead",
            "markAllNotificationsRead",
            "inviteVisitor",
            "listVisits",
            "getVisit",
            "approveVisit",
            "rejectVisit",
            "listMyRequests",
            "decideWithActionToken",
        ],
    ),
    (
        "guard",
        &[
            "getMe",
            "listSessions",
            "getPreferences",
            "registerDevice",
            "unregisterDevice",
            "unregisterDeviceByPost",
            "listNotifications",
            "markAllNotificationsRead",
            "listVisits",
            "getVisit",
            "listResidents",
            "checkInVisitor",
            "registerWalkin",
        ],
    ),
    (
        "service",
        &[
            "internalNotify",
            "putUser",
            "setUserDisabled",
            "deleteUser",
            "handOverWalkin",
            "handOverCheckin",
        ],
    ),
];

/// Called directly instead: `logout` and `logoutAll` end the caller's sessions (schemathesis
/// would then see only 401s), and the event stream never ends.
const DIRECT: &[&str] = &["logout", "logoutAll", "streamEvents"];

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
    let record = server.dir.join("statuses.jsonl");
    let hooks = server.dir.join("gatebell_hooks.py");
    std::fs::write(&hooks, HOOKS).map_err(|e| format!("writing {}: {e}", hooks.display()))?;
    let mut direct = Vec::new();
    steps.step("api: the requests no generator can guess", || {
        prepare(&server, &resident, &guard)?;
        direct = direct_calls(&server)?;
        Ok(())
    })?;
    for (who, ops) in RUNS {
        let token = match *who {
            "resident" => resident.as_str(),
            "guard" => guard.as_str(),
            _ => SERVICE_KEY,
        };
        let seeds = server.dir.join(format!("seeds-{who}.json"));
        steps.step(&format!("api: schemathesis as the {who}"), || {
            let mut command = Command::new(venv.join("bin/schemathesis"));
            command
                .current_dir(&server.dir)
                .env("SCHEMATHESIS_HOOKS", &hooks)
                .env("GATEBELL_API_SEEDS", &seeds)
                .env("GATEBELL_API_RECORD", &record)
                .args([
                    "run",
                    &doc,
                    "--checks",
                    CHECKS,
                    "--max-examples",
                    MAX_EXAMPLES,
                ])
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args(["--request-timeout", "10", "--no-color"]);
            for op in *ops {
                command.args(["--include-operation-id", op]);
            }
            let output = run_showing(&mut command)?;
            // A warning does not fail schemathesis; for this suite it is a failure: an
            // operation that only ever saw 401/403 tested nothing past the sign-in.
            if output.contains("Authentication failed") {
                return Err(format!(
                    "schemathesis as the {who}: some operations answered only 401/403"
                ));
            }
            Ok(())
        })?;
    }
    steps.step("api: every operation answered 2xx at least once", || {
        let text = std::fs::read_to_string(&record)
            .map_err(|e| format!("reading {}: {e}", record.display()))?;
        let answers: Vec<(String, u16)> = text.lines().filter_map(parse_record).collect();
        let documented = documented_operations(&server.addr)?;
        let (table, missing) = coverage(&documented, &answers, &direct);
        println!("{table}");
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("never answered 2xx: {}", missing.join(", ")))
        }
    })?;
    Ok(())
}

/// Runs a command, passing its output on as it comes; its whole standard output.
fn run_showing(command: &mut Command) -> Result<String, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    let mut all = String::new();
    for line in BufReader::new(child.stdout.take().expect("piped"))
        .lines()
        .map_while(Result::ok)
    {
        println!("{line}");
        all.push_str(&line);
        all.push('\n');
    }
    let status = child.wait().map_err(|e| format!("waiting: {e}"))?;
    if status.success() {
        Ok(all)
    } else {
        Err(format!("{command:?} failed: {status}"))
    }
}

/// `{"op": "getMe", "status": 200}` → (`getMe`, 200).
fn parse_record(line: &str) -> Option<(String, u16)> {
    let op = line.split_once(r#""op": ""#)?.1.split_once('"')?.0;
    let status = line.split_once(r#""status": "#)?.1.trim_end_matches('}');
    Some((op.to_owned(), status.trim().parse().ok()?))
}

/// The table of answers per operation, and the operations with no 2xx among them. `direct`
/// holds the statuses of the operations called directly.
fn coverage(
    documented: &[String],
    answers: &[(String, u16)],
    direct: &[(String, u16)],
) -> (String, Vec<String>) {
    let mut table = format!(
        "{:<26} {:>6} {:>5}  statuses\n",
        "operation", "calls", "2xx"
    );
    let mut missing = Vec::new();
    for op in documented {
        let mut statuses: Vec<u16> = answers
            .iter()
            .chain(direct)
            .filter(|(o, _)| o == op)
            .map(|(_, s)| *s)
            .collect();
        let ok = statuses.iter().filter(|s| (200..300).contains(*s)).count();
        if ok == 0 {
            missing.push(op.clone());
        }
        let how = if DIRECT.contains(&op.as_str()) {
            " (called directly)"
        } else {
            ""
        };
        statuses.sort_unstable();
        statuses.dedup();
        let statuses: Vec<String> = statuses.iter().map(u16::to_string).collect();
        table.push_str(&format!(
            "{op:<26} {:>6} {ok:>5}  {}{how}\n",
            answers
                .iter()
                .chain(direct)
                .filter(|(o, _)| o == op)
                .count(),
            statuses.join(" ")
        ));
    }
    (table, missing)
}

/// Every `operationId` of the served document.
fn documented_operations(addr: &str) -> Result<Vec<String>, String> {
    let doc = call(addr, "GET", "/api/v1/openapi.json", "", None)?;
    let mut ops: Vec<String> = doc
        .split(r#""operationId":""#)
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(op, _)| op.to_owned()))
        .collect();
    ops.sort();
    ops.dedup();
    if ops.len() < 10 {
        return Err(format!("only {} operations in the document", ops.len()));
    }
    let listed: Vec<&str> = RUNS
        .iter()
        .flat_map(|(_, ops)| ops.iter().copied())
        .chain(DIRECT.iter().copied())
        .collect();
    let unlisted: Vec<&String> = ops
        .iter()
        .filter(|op| !listed.contains(&op.as_str()))
        .collect();
    if !unlisted.is_empty() {
        return Err(format!("no run of the api suite covers {unlisted:?}"));
    }
    Ok(ops)
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
    /// `gatebell-fakes` (FCM and its OAuth), which serves until its standard input closes.
    fakes: Child,
    /// The fakes' control address (`host:port`).
    control: String,
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
        let (fakes, fcm_endpoint, control) = start_fakes(&dir)?;
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
            .arg("--fcm-credentials")
            .arg(dir.join("fcm.json"))
            .args(["--fcm-endpoint", &fcm_endpoint])
            // Schemathesis signs in far more often than a person; the limits are not tested here.
            .args(["--login-per-ip", "100000", "--login-per-account", "100000"])
            .args([
                "--decisions-per-ip",
                "100000",
                "--walkins-per-guard",
                "100000",
            ])
            .env("RUST_LOG", "gatebell_server=warn")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let mut server = Server {
            child,
            fakes,
            control,
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

impl Server {
    /// The action token of the walk-in `visit`'s push to Asha's phone, as the fake FCM got it
    /// (the first walk-in made after her phone was registered).
    fn action_token_for(&self, visit: &str) -> Result<String, String> {
        for _ in 0..200 {
            let received = call(&self.control, "GET", "/fcm/received", "", None)?;
            // Only this walk-in was pushed to a phone: its message holds the only token.
            if received.contains(&format!(r#""visitId":"{visit}""#))
                && let Ok(token) = first_string(&received, "actionToken")
            {
                return Ok(token);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "no push with an action token for visit {visit} reached the fake FCM"
        ))
    }
}

/// Starts `gatebell-fakes`, which writes the service-account key to `dir/fcm.json`: the
/// process, the FCM endpoint and the control address.
fn start_fakes(dir: &Path) -> Result<(Child, String, String), String> {
    let binary = target_dir().join("debug/gatebell-fakes");
    let mut child = Command::new(&binary)
        .arg(dir.join("fcm.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .map_err(|e| format!("reading gatebell-fakes: {e}"))?;
    let field = |key: &str| {
        first_string(&format!("HTTP/1.1 200 OK\r\n\r\n{first}"), key)
            .map_err(|_| format!("gatebell-fakes printed {first:?}"))
    };
    let fcm = field("fcmEndpoint")?;
    let control = field("control")?.trim_start_matches("http://").to_owned();
    Ok((child, fcm, control))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.fakes.kill();
        let _ = self.fakes.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Makes what the seeded requests need — walk-ins to approve, reject, view and decide by
/// action token (read from the fake FCM), an inbox entry, OTPs, devices to unregister,
/// backend users to disable and delete — and writes one seeds file per run.
fn prepare(server: &Server, resident: &str, guard: &str) -> Result<(), String> {
    let addr = server.addr.as_str();
    let asha = first_string(
        &call(addr, "GET", "/api/v1/residents?q=asha", guard, None)?,
        "id",
    )?;
    let walkin = format!(r#"{{"visitorName":"Ravi","hostId":"{asha}","purpose":"parcel"}}"#);
    let new_walkin = || -> Result<String, String> {
        first_string(
            &call(addr, "POST", "/api/v1/visits/walkin", guard, Some(&walkin))?,
            "id",
        )
    };
    // Two each to decide: a stateful run may decide one through a link before its seed is used.
    let to_approve = [new_walkin()?, new_walkin()?];
    let to_reject = [new_walkin()?, new_walkin()?];
    let to_view = new_walkin()?;
    let notification = first_string(
        &call(addr, "GET", "/api/v1/notifications", resident, None)?,
        "id",
    )?;
    for (token, who) in [
        ("api-suite-asha-fcm", resident),
        ("api-suite-asha-a", resident),
        ("api-suite-asha-b", resident),
        ("api-suite-guard-a", guard),
        ("api-suite-guard-b", guard),
    ] {
        let body = format!(r#"{{"token":"{token}","platform":"android"}}"#);
        expect_2xx(call(
            addr,
            "POST",
            "/api/v1/notifications/register-device",
            who,
            Some(&body),
        )?)?;
    }
    // Asha's phone now gets the walk-in's push, which carries her action token.
    let to_decide = new_walkin()?;
    let action_token = server.action_token_for(&to_decide)?;
    let mut otps = Vec::new();
    for _ in 0..4 {
        let invite = call(
            addr,
            "POST",
            "/api/v1/visits",
            resident,
            Some(r#"{"visitorName":"Meera"}"#),
        )?;
        otps.push(first_string(&invite, "otp")?);
    }
    for (id, body) in [
        (
            "ext-api-host",
            r#"{"name":"Host From Backend","role":"resident","unit":"A-101"}"#,
        ),
        ("ext-api-dis", r#"{"name":"To Disable","role":"guard"}"#),
        ("ext-api-del", r#"{"name":"To Delete","role":"guard"}"#),
    ] {
        expect_2xx(call(
            addr,
            "PUT",
            &format!("/api/v1/internal/users/{id}"),
            SERVICE_KEY,
            Some(body),
        )?)?;
    }

    let seed = |op: &str, seeds: &[String]| format!(r#""{op}":[{}]"#, seeds.join(","));
    let path = |id: &str| format!(r#"{{"path":{{"id":"{id}"}}}}"#);
    let body = |json: &str| format!(r#"{{"body":{json}}}"#);
    let path_and_body =
        |id: &str, json: &str| format!(r#"{{"path":{{"id":"{id}"}},"body":{json}}}"#);
    let resident_seeds = [
        seed(
            "login",
            &[body(&format!(
                r#"{{"email":"bina@demo.gatebell","password":"{DEMO_PASSWORD}"}}"#
            ))],
        ),
        seed("putPreferences", &[body(r#"{"household":"household"}"#)]),
        seed(
            "registerDevice",
            &[body(
                r#"{"token":"api-suite-asha-new","platform":"android"}"#,
            )],
        ),
        seed(
            "unregisterDevice",
            &[body(r#"{"token":"api-suite-asha-a"}"#)],
        ),
        seed(
            "unregisterDeviceByPost",
            &[body(r#"{"token":"api-suite-asha-b"}"#)],
        ),
        seed("inviteVisitor", &[body(r#"{"visitorName":"Meera"}"#)]),
        seed("getVisit", &[path(&to_view)]),
        seed("approveVisit", &to_approve.map(|id| path(&id))),
        seed("rejectVisit", &to_reject.map(|id| path(&id))),
        seed("markNotificationRead", &[path(&notification)]),
        seed(
            "decideWithActionToken",
            &[path_and_body(
                &to_decide,
                &format!(r#"{{"decision":"approve","actionToken":"{action_token}"}}"#),
            )],
        ),
    ];
    let guard_seeds = [
        seed(
            "registerDevice",
            &[body(
                r#"{"token":"api-suite-guard-new","platform":"android"}"#,
            )],
        ),
        seed(
            "unregisterDevice",
            &[body(r#"{"token":"api-suite-guard-a"}"#)],
        ),
        seed(
            "unregisterDeviceByPost",
            &[body(r#"{"token":"api-suite-guard-b"}"#)],
        ),
        seed("getVisit", &[path(&to_view)]),
        seed(
            "checkInVisitor",
            &otps
                .iter()
                .map(|otp| body(&format!(r#"{{"otp":"{otp}"}}"#)))
                .collect::<Vec<_>>(),
        ),
        seed("registerWalkin", &[body(&walkin), body(&walkin)]),
    ];
    let service_seeds = [
        seed(
            "internalNotify",
            &[body(&format!(
                r#"{{"userId":"{asha}","type":"parcel_arrived","title":"Parcel","body":"At the gate."}}"#
            ))],
        ),
        seed(
            "putUser",
            &[path_and_body(
                "ext-api-put",
                r#"{"name":"Put User","role":"guard"}"#,
            )],
        ),
        seed(
            "setUserDisabled",
            &[path_and_body("ext-api-dis", r#"{"disabled":true}"#)],
        ),
        seed("deleteUser", &[path("ext-api-del")]),
        seed(
            "handOverWalkin",
            &[body(
                r#"{"externalVisitId":"api-w-1","hostExternalId":"ext-api-host","visitorName":"Ravi"}"#,
            )],
        ),
        seed(
            "handOverCheckin",
            &[body(
                r#"{"externalVisitId":"api-c-1","hostExternalId":"ext-api-host","visitorName":"Meera"}"#,
            )],
        ),
    ];
    for (who, seeds) in [
        ("resident", &resident_seeds[..]),
        ("guard", &guard_seeds[..]),
        ("service", &service_seeds[..]),
    ] {
        let file = server.dir.join(format!("seeds-{who}.json"));
        std::fs::write(&file, format!("{{{}}}", seeds.join(",")))
            .map_err(|e| format!("writing {}: {e}", file.display()))?;
    }
    Ok(())
}

/// The operations schemathesis leaves out, called once each as a user of their own (Bharat),
/// so the run's sessions live on: their statuses.
fn direct_calls(server: &Server) -> Result<Vec<(String, u16)>, String> {
    let addr = server.addr.as_str();
    let mut statuses = Vec::new();
    let bharat = login(addr, "bharat@demo.gatebell")?;
    statuses.push(("streamEvents".to_owned(), stream_status(addr, &bharat)?));
    for (op, path) in [
        ("logout", "/api/v1/auth/logout"),
        ("logoutAll", "/api/v1/auth/logout-all"),
    ] {
        let session = login(addr, "bharat@demo.gatebell")?;
        let status = status_of(&call(addr, "POST", path, &session, None)?);
        statuses.push((op.to_owned(), status));
        // The session it ended is refused afterwards.
        let after = status_of(&call(addr, "GET", "/api/v1/me", &session, None)?);
        if after != 401 {
            return Err(format!("{op} left its session working ({after})"));
        }
    }
    Ok(statuses)
}

/// The status of the event stream's answer, read from its first line (the stream never ends).
fn stream_status(addr: &str, token: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connecting {addr}: {e}"))?;
    let request = format!(
        "GET /api/v1/notifications/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("opening the stream: {e}"))?;
    let mut first = String::new();
    BufReader::new(stream)
        .read_line(&mut first)
        .map_err(|e| format!("reading the stream: {e}"))?;
    Ok(status_of(&first))
}

/// The status code of an HTTP/1.1 answer (0 when there is none).
fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Ok for a 2xx answer; else the answer, as a set-up failure.
fn expect_2xx(response: String) -> Result<(), String> {
    if (200..300).contains(&status_of(&response)) {
        Ok(())
    } else {
        Err(format!("setting up the api suite: {response}"))
    }
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
    fn records_are_read_as_the_hooks_write_them() {
        assert_eq!(
            parse_record(r#"{"op": "getMe", "status": 200}"#),
            Some(("getMe".to_owned(), 200))
        );
        assert_eq!(parse_record("not json"), None);
    }

    #[test]
    fn an_operation_without_a_2xx_is_missing() {
        let documented = ["getMe".to_owned(), "logout".to_owned(), "login".to_owned()];
        let answers = [
            ("getMe".to_owned(), 401),
            ("getMe".to_owned(), 200),
            ("login".to_owned(), 401),
            ("login".to_owned(), 403),
        ];
        let direct = [("logout".to_owned(), 204)];
        let (table, missing) = coverage(&documented, &answers, &direct);
        assert_eq!(missing, ["login"]);
        assert!(table.contains("(called directly)"), "{table}");
    }
}
