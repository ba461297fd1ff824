//! The one loop that performs the state machine's effects, shared by the web and mobile shells.
//!
//! A shell implements [`Shell`] — its HTTP stack, its storage, its timer, its UI callbacks, its
//! clock and random numbers — and hands events to a [`Runner`]. The runner feeds them to
//! [`PushClient::handle`], performs every effect in order through the shell, and feeds each
//! HTTP answer back as [`Event::HttpResponse`] until nothing is left to do. The shells keep
//! only their platform plumbing and their public API.
//!
//! # Errors
//!
//! - A request that gets no answer is not an error of the call: the shell reports it as
//!   [`HttpOutcome::NetworkError`], the core records it in [`Status::last_error`] and schedules
//!   a retry, and [`Runner::run`] returns `Ok` with the status.
//! - Any `Err` from the shell (storage failed, the host's transport threw something other
//!   than "no answer") does not stop the loop, because an unanswered request would stall the
//!   core: the first one is returned once the queue is empty. An `Err` from
//!   [`Shell::http`] is also fed to the core as a network error, so the request is retried.

use std::collections::VecDeque;
use std::fmt::Display;
use std::sync::{Mutex, MutexGuard};

use super::{Config, Effect, Event, HttpOutcome, HttpRequest, PersistedState, PushClient, Status};

/// What a platform does for the client. Futures need not be `Send`: the web's are not, and
/// the mobile shell's are `Send` through its concrete types.
// `async fn` in a public trait cannot promise `Send` futures; no caller needs that promise.
#[allow(async_fn_in_trait)]
pub trait Shell {
    /// The shell's own error type, returned by [`Runner::run`].
    type Error: Display;

    /// The stored state; `None` when nothing (or nothing readable) is stored.
    async fn load(&self) -> Result<Option<PersistedState>, Self::Error>;
    /// Stores `state`, replacing the previous one.
    async fn persist(&self, state: &PersistedState) -> Result<(), Self::Error>;
    /// Sends `request`. Any HTTP status is a [`HttpOutcome::Response`]; no answer (offline,
    /// DNS, TLS, timeout) is [`HttpOutcome::NetworkError`]. `Err` is for anything else (a bug
    /// in the host's transport): the core then sees a network error and the call fails.
    async fn http(&self, request: &HttpRequest) -> Result<HttpOutcome, Self::Error>;
    /// The server refused the session (401): forget it and tell the app.
    async fn session_ended(&self) -> Result<(), Self::Error>;
    /// Replace the one timer: call [`Runner::run`] with [`Event::TimerFired`] at `at_ms`.
    fn wake_at(&self, at_ms: i64);
    /// What a UI shows changed.
    fn status_changed(&self, status: &Status);
    /// Now, in epoch milliseconds.
    fn now_ms(&self) -> i64;
    /// A number uniform in `[0, 1)`, for retry jitter.
    fn random(&self) -> f64;
}

/// Runs the state machine against a [`Shell`]. It reads the stored state on its first run and
/// then sends [`Event::AppStarted`] before anything else.
///
/// Only one [`Runner::run`] may be in progress at a time (the core has one request in flight):
/// the shell serialises its calls (the mobile shell with an async mutex; the web shell queues
/// events with [`Runner::enqueue`] and lets the run in progress drain them). The runner is
/// `Send + Sync`; its locks are never held across an `await`.
#[derive(Debug)]
pub struct Runner {
    config: Config,
    /// `None` until the stored state has been read.
    core: Mutex<Option<PushClient>>,
    queue: Mutex<VecDeque<Event>>,
}

impl Runner {
    /// A runner that has read nothing yet.
    pub fn new(config: Config) -> Runner {
        Runner {
            config,
            core: Mutex::new(None),
            queue: Mutex::new(VecDeque::new()),
        }
    }

    /// What a UI shows (before the first run: a fresh client's status).
    pub fn status(&self) -> Status {
        match &*lock(&self.core) {
            Some(core) => core.status(),
            None => PushClient::new(self.config.clone()).status(),
        }
    }

    /// Queues `event` for the next (or the current) run.
    pub fn enqueue(&self, event: Event) {
        lock(&self.queue).push_back(event);
    }

    /// Runs the core until the queue is empty: every request the queued events caused has
    /// been answered. Returns the status then, or the first error of the shell (see the
    /// module docs).
    pub async fn run<S: Shell>(&self, shell: &S) -> Result<Status, S::Error> {
        let needs_state = lock(&self.core).is_none();
        if needs_state {
            let state = shell.load().await?.unwrap_or_default();
            // A run is the only writer; the check above cannot be outdated.
            lock(&self.core).get_or_insert_with(|| PushClient::restore(self.config.clone(), state));
            let started = Event::AppStarted {
                now_ms: shell.now_ms(),
            };
            lock(&self.queue).push_front(started);
        }
        let mut failure = None;
        loop {
            // Its own statement: the queue's guard must be dropped before effects enqueue.
            let next = lock(&self.queue).pop_front();
            let Some(event) = next else { break };
            let effects = lock(&self.core)
                .as_mut()
                .map_or_else(Vec::new, |core| core.handle(event));
            for effect in effects {
                if let Err(e) = self.perform(shell, effect).await {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or_else(|| Ok(self.status()), Err)
    }

    async fn perform<S: Shell>(&self, shell: &S, effect: Effect) -> Result<(), S::Error> {
        match effect {
            Effect::Persist { state } => shell.persist(&state).await?,
            Effect::Http { request } => {
                let (outcome, failure) = match shell.http(&request).await {
                    Ok(outcome) => (outcome, None),
                    Err(e) => {
                        let message = e.to_string();
                        (HttpOutcome::NetworkError { message }, Some(e))
                    }
                };
                self.enqueue(Event::HttpResponse {
                    now_ms: shell.now_ms(),
                    request_id: request.id,
                    outcome,
                    random: shell.random(),
                });
                if let Some(e) = failure {
                    return Err(e);
                }
            }
            Effect::WakeAt { at_ms } => shell.wake_at(at_ms),
            Effect::SessionEnded => shell.session_ended().await?,
            Effect::StatusChanged { status } => shell.status_changed(&status),
        }
        Ok(())
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (each critical section
/// is one assignment or one `handle` call).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
