//! The runner against a scripted shell: no network, no clock, no executor beyond a poll loop.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::client::REGISTER_DEVICE_PATH;
use crate::client::tests::{T0, device_body, error_body, sign_in, token};

/// Runs a future whose every await is ready at once (the fake shell never waits).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the fake shell never waits"),
    }
}

/// How the fake transport answers one request.
enum Answer {
    Status(u16, String),
    Offline,
    /// The host's transport failed in a way it reports as an error.
    Fails(&'static str),
}

/// A shell that records what it was asked to do and answers from a script.
#[derive(Default)]
struct FakeShell {
    stored: RefCell<Option<PersistedState>>,
    answers: RefCell<VecDeque<Answer>>,
    log: RefCell<Vec<String>>,
    fail_persist: bool,
    /// Queued into this runner while the first request is in flight.
    enqueue_during_http: RefCell<Option<(Rc<Runner>, Event)>>,
}

impl FakeShell {
    fn answering(answers: impl IntoIterator<Item = Answer>) -> FakeShell {
        FakeShell {
            answers: RefCell::new(answers.into_iter().collect()),
            ..FakeShell::default()
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }

    fn did(&self, what: impl Into<String>) {
        self.log.borrow_mut().push(what.into());
    }
}

impl Shell for FakeShell {
    type Error = String;

    async fn load(&self) -> Result<Option<PersistedState>, String> {
        self.did("load");
        Ok(self.stored.borrow().clone())
    }

    async fn persist(&self, state: &PersistedState) -> Result<(), String> {
        self.did("persist");
        if self.fail_persist {
            return Err("disk full".into());
        }
        *self.stored.borrow_mut() = Some(state.clone());
        Ok(())
    }

    async fn http(&self, request: &HttpRequest) -> Result<HttpOutcome, String> {
        self.did(format!("{} {}", request.method.as_str(), request.path));
        if let Some((runner, event)) = self.enqueue_during_http.take() {
            runner.enqueue(event);
        }
        match self.answers.borrow_mut().pop_front() {
            Some(Answer::Status(status, body)) => Ok(HttpOutcome::Response { status, body }),
            Some(Answer::Offline) => Ok(HttpOutcome::NetworkError {
                message: "offline".into(),
            }),
            Some(Answer::Fails(why)) => Err(why.into()),
            None => panic!("unscripted request {request:?}"),
        }
    }

    async fn session_ended(&self) -> Result<(), String> {
        self.did("session ended");
        Ok(())
    }

    fn wake_at(&self, at_ms: i64) {
        self.did(format!("wake at +{}", at_ms - T0));
    }

    fn status_changed(&self, status: &Status) {
        self.did(format!("status registered={}", status.registered));
    }

    fn now_ms(&self) -> i64 {
        T0
    }

    fn random(&self) -> f64 {
        0.5
    }
}

fn signed_in_with_token(runner: &Runner, shell: &FakeShell) -> Result<Status, String> {
    runner.enqueue(sign_in(T0, "s", "u"));
    ready(runner.run(shell))?;
    runner.enqueue(token(T0, "t"));
    ready(runner.run(shell))
}

#[test]
fn network_error_resolves_with_a_retrying_status() {
    let shell = FakeShell::answering([Answer::Offline]);
    let runner = Runner::new(Config::default());
    let status = signed_in_with_token(&runner, &shell).expect("no answer is not an error");
    assert!(!status.registered);
    let last_error = status.last_error.expect("recorded");
    assert!(last_error.will_retry);
    assert_eq!(last_error.status, None);
    assert_eq!(last_error.message, "offline");
    assert!(shell.log().iter().any(|l| l.starts_with("wake at +")));
    // The failure is stored, so a restart keeps the backoff.
    let stored = shell.stored.borrow().clone().expect("persisted");
    assert!(stored.last_error.is_some());
}

#[test]
fn transport_failure_is_retried_and_returned() {
    let shell = FakeShell::answering([Answer::Fails("bug in the host")]);
    let runner = Runner::new(Config::default());
    let result = signed_in_with_token(&runner, &shell);
    assert_eq!(result, Err("bug in the host".into()));
    let last_error = runner
        .status()
        .last_error
        .expect("recorded as a network error");
    assert!(last_error.will_retry);
    assert_eq!(last_error.message, "bug in the host");
    assert!(shell.log().iter().any(|l| l.starts_with("wake at +")));
}

#[test]
fn success_registers_and_persists_before_sending() {
    let shell = FakeShell::answering([Answer::Status(200, device_body("t"))]);
    let runner = Runner::new(Config::default());
    let status = signed_in_with_token(&runner, &shell).expect("status");
    assert!(status.registered);
    let log = shell.log();
    let sent = log
        .iter()
        .position(|l| l == &format!("POST {REGISTER_DEVICE_PATH}"))
        .expect("sent");
    assert_eq!(log[sent - 1], "persist", "{log:?}");
    assert_eq!(
        log.last().map(String::as_str),
        Some("status registered=true")
    );
}

#[test]
fn first_run_restores_stored_state_once() {
    let mut earlier = PushClient::new(Config::default());
    earlier.handle(sign_in(T0, "s", "u"));
    let shell = FakeShell::default();
    *shell.stored.borrow_mut() = Some(earlier.state().clone());
    let runner = Runner::new(Config::default());
    assert!(
        !runner.status().signed_in,
        "nothing read before the first run"
    );

    let status = ready(runner.run(&shell)).expect("status");
    assert!(status.signed_in);
    runner.enqueue(Event::TimerFired { now_ms: T0 });
    ready(runner.run(&shell)).expect("status");
    let loads = shell.log().iter().filter(|l| *l == "load").count();
    assert_eq!(loads, 1);
}

#[test]
fn storage_failure_does_not_leave_a_request_unanswered() {
    let shell = FakeShell {
        fail_persist: true,
        ..FakeShell::answering([Answer::Status(200, device_body("t"))])
    };
    let runner = Runner::new(Config::default());
    runner.enqueue(sign_in(T0, "s", "u"));
    runner.enqueue(token(T0, "t"));
    assert_eq!(ready(runner.run(&shell)), Err("disk full".into()));
    assert!(
        runner.status().registered,
        "the answer still reached the core"
    );
    assert!(
        shell
            .log()
            .contains(&format!("POST {REGISTER_DEVICE_PATH}"))
    );
}

#[test]
fn refused_session_is_ended_through_the_shell() {
    let shell = FakeShell::answering([Answer::Status(401, error_body("unauthorized"))]);
    let runner = Runner::new(Config::default());
    let status = signed_in_with_token(&runner, &shell).expect("status");
    assert!(!status.signed_in);
    assert!(shell.log().contains(&"session ended".to_owned()));
}

#[test]
fn events_queued_during_a_run_are_drained_by_it() {
    let runner = Rc::new(Runner::new(Config::default()));
    let shell = FakeShell::answering([
        Answer::Status(200, device_body("t")),
        Answer::Status(204, String::new()),
    ]);
    *shell.enqueue_during_http.borrow_mut() =
        Some((runner.clone(), Event::SigningOut { now_ms: T0 }));
    let status = signed_in_with_token(&runner, &shell).expect("status");
    assert!(!status.signed_in);
    assert_eq!(status.pending_unregisters, 0);
    assert!(
        shell
            .log()
            .contains(&format!("DELETE {REGISTER_DEVICE_PATH}"))
    );
}
