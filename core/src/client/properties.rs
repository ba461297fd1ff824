//! Random event sequences against a simulated server, checking the client's invariants.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use super::tests::{T0, device_body, error_body};
use super::*;

/// How the simulated server (or the network) answers a request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Honest,
    Network,
    ServerError,
    TooMany,
    /// A 422: the client gives up on that operation.
    Refused,
    /// The session is revoked, then the request is answered honestly (401).
    Revoke,
}

#[derive(Debug, Clone)]
enum Step {
    SignIn(u8),
    SignOut,
    Token(u8),
    Answer(Reply, f64),
    StaleAnswer(u64),
    Advance(i64),
    AppStarted,
    /// The server drops the current token and the shell learns it (`DeviceUnknown`).
    ServerForgets,
    /// The app is killed and restored from the last Persist; the request in flight may or may
    /// not have reached the server.
    Restart {
        reached_server: bool,
    },
}

/// A server with multi-session auth and devices upserted by token, deleted only by their owner.
#[derive(Debug, Clone, Default)]
struct Server {
    sessions: BTreeMap<String, String>,
    devices: BTreeMap<String, String>,
}

impl Server {
    fn apply(&mut self, request: &HttpRequest) -> HttpOutcome {
        let Some(user) = self.sessions.get(&request.bearer_token).cloned() else {
            return response(401, error_body("unauthorized"));
        };
        match &request.body {
            RequestBody::Register(r) => {
                self.devices.insert(r.token.clone(), user);
                response(200, device_body(&r.token))
            }
            RequestBody::Unregister(u) => {
                if self.devices.get(&u.token) == Some(&user) {
                    self.devices.remove(&u.token);
                    response(204, String::new())
                } else {
                    response(404, error_body(ERROR_DEVICE_NOT_FOUND))
                }
            }
        }
    }
}

fn response(status: u16, body: String) -> HttpOutcome {
    HttpOutcome::Response { status, body }
}

/// The client, the server, and what a shell would know, with the invariants checked on every
/// batch of effects.
#[derive(Debug, Clone)]
struct World {
    client: PushClient,
    server: Server,
    now: i64,
    outstanding: Option<HttpRequest>,
    /// The session the shell believes is signed in.
    session: Option<String>,
    last_persist: PersistedState,
    last_id: Option<u64>,
    wake: Option<i64>,
    register_times: Vec<i64>,
    sessions_made: u32,
    /// A 422 made the client give up an operation: the server may keep any stale device.
    refused: bool,
    /// Users with a revoked session: their devices may stay (the client cannot remove them).
    revoked_users: BTreeSet<String>,
}

impl World {
    fn new(config: Config) -> World {
        World {
            client: PushClient::new(config),
            server: Server::default(),
            now: T0,
            outstanding: None,
            session: None,
            last_persist: PersistedState::default(),
            last_id: None,
            wake: None,
            register_times: Vec::new(),
            sessions_made: 0,
            refused: false,
            revoked_users: BTreeSet::new(),
        }
    }

    fn feed(&mut self, event: Event) {
        let effects = self.client.handle(event);
        let mut persisted_at = None;
        for (i, effect) in effects.iter().enumerate() {
            match effect {
                Effect::Persist { state } => {
                    self.last_persist = (**state).clone();
                    persisted_at = Some(i);
                }
                Effect::Http { request } => {
                    assert!(
                        self.outstanding.is_none(),
                        "two requests in flight: {:?} and {request:?}",
                        self.outstanding
                    );
                    assert!(
                        persisted_at.is_some_and(|p| p < i),
                        "persist before sending"
                    );
                    assert!(self.last_id.is_none_or(|last| request.id > last));
                    self.last_id = Some(request.id);
                    if matches!(request.body, RequestBody::Register(_)) {
                        assert_eq!(
                            Some(&request.bearer_token),
                            self.session.as_ref(),
                            "register only for the signed-in session"
                        );
                        self.register_times.push(self.now);
                        let config = self.client.config();
                        let window_start = self.now - config.rate_window_ms;
                        let recent = self
                            .register_times
                            .iter()
                            .filter(|t| **t > window_start)
                            .count();
                        assert!(recent <= config.max_registers_per_window as usize);
                    }
                    self.outstanding = Some(request.clone());
                }
                Effect::WakeAt { at_ms } => {
                    assert!(*at_ms > self.now, "wake in the past");
                    self.wake = Some(*at_ms);
                }
                Effect::SessionEnded => self.session = None,
                Effect::StatusChanged { status } => assert_eq!(status, &self.client.status()),
            }
        }
        assert_eq!(
            self.client.state(),
            &self.last_persist,
            "every change is persisted"
        );
    }

    fn answer(&mut self, reply: Reply, random: f64) {
        let Some(request) = self.outstanding.take() else {
            return;
        };
        let outcome = match reply {
            Reply::Honest => self.server.apply(&request),
            Reply::Network => HttpOutcome::NetworkError {
                message: "reset".into(),
            },
            Reply::ServerError => response(503, String::new()),
            Reply::TooMany => response(429, error_body("rate_limited")),
            Reply::Refused => {
                self.refused = true;
                response(422, error_body("validation"))
            }
            Reply::Revoke => {
                if let Some(user) = self.server.sessions.remove(&request.bearer_token) {
                    self.revoked_users.insert(user);
                }
                self.server.apply(&request)
            }
        };
        self.feed(Event::HttpResponse {
            now_ms: self.now,
            request_id: request.id,
            outcome,
            random,
        });
    }

    fn step(&mut self, step: &Step) {
        let now_ms = self.now;
        match *step {
            Step::SignIn(user) => {
                self.sessions_made += 1;
                let session = format!("s{}", self.sessions_made);
                self.server
                    .sessions
                    .insert(session.clone(), format!("u{user}"));
                self.session = Some(session.clone());
                self.feed(Event::SignedIn {
                    now_ms,
                    session_token: session,
                    user_id: format!("u{user}"),
                });
            }
            Step::SignOut => {
                self.session = None;
                self.feed(Event::SigningOut { now_ms });
            }
            Step::Token(t) => self.feed(Event::TokenIssued {
                now_ms,
                token: format!("t{t}"),
                platform: Platform::Android,
                subscription: None,
                keys: None,
            }),
            Step::Answer(reply, random) => self.answer(reply, random),
            Step::StaleAnswer(id) => {
                if self.outstanding.as_ref().is_some_and(|r| r.id == id) {
                    return;
                }
                let before = self.client.state().clone();
                let effects = self.client.handle(Event::HttpResponse {
                    now_ms,
                    request_id: id,
                    outcome: response(200, String::new()),
                    random: 0.5,
                });
                assert_eq!(effects, Vec::new(), "stale answers are ignored");
                assert_eq!(self.client.state(), &before);
            }
            Step::Advance(ms) => {
                self.now += ms;
                self.feed(Event::TimerFired { now_ms: self.now });
            }
            Step::AppStarted => self.feed(Event::AppStarted { now_ms }),
            Step::ServerForgets => {
                if let Some(token) = self.client.status().token {
                    self.server.devices.remove(&token);
                    self.feed(Event::DeviceUnknown { now_ms });
                }
            }
            Step::Restart { reached_server } => self.restart(reached_server),
        }
    }

    fn restart(&mut self, reached_server: bool) {
        if let Some(request) = self.outstanding.take()
            && reached_server
        {
            self.server.apply(&request);
        }
        self.client = PushClient::restore(self.client.config().clone(), self.last_persist.clone());
        self.wake = None;
        self.feed(Event::AppStarted { now_ms: self.now });
    }

    /// Lets the client finish its work against an honest server for a few hours.
    fn drain(&mut self) {
        let until = self.now + 8 * HOUR_MS;
        self.feed(Event::AppStarted { now_ms: self.now });
        for _ in 0..1_000 {
            if self.outstanding.is_some() {
                self.answer(Reply::Honest, 0.5);
                continue;
            }
            match self.wake.take() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.feed(Event::TimerFired { now_ms: self.now });
                }
                _ => return,
            }
        }
        panic!("the client did not settle");
    }
}

fn reply(faults: bool) -> impl Strategy<Value = Reply> {
    let fault = move |r: Reply| if faults { r } else { Reply::Honest };
    prop_oneof![
        6 => Just(Reply::Honest),
        1 => Just(Reply::Network),
        1 => Just(Reply::ServerError),
        1 => Just(Reply::TooMany),
        1 => Just(fault(Reply::Refused)),
        1 => Just(fault(Reply::Revoke)),
    ]
}

fn step(faults: bool) -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..3).prop_map(Step::SignIn),
        2 => Just(Step::SignOut),
        3 => (0u8..3).prop_map(Step::Token),
        10 => (reply(faults), 0.0f64..1.0).prop_map(|(r, x)| Step::Answer(r, x)),
        1 => (0u64..40).prop_map(Step::StaleAnswer),
        4 => prop_oneof![0i64..5_000, 0i64..2 * HOUR_MS, Just(8 * DAY_MS)].prop_map(Step::Advance),
        1 => Just(Step::AppStarted),
        1 => Just(Step::ServerForgets),
        1 => any::<bool>().prop_map(|reached_server| Step::Restart { reached_server }),
    ]
}

/// Half the scenarios have no 422s and no revocations, so that the strict end check applies.
fn scenario() -> impl Strategy<Value = Vec<Step>> {
    any::<bool>().prop_flat_map(|faults| prop::collection::vec(step(faults), 1..60))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Per step: one request at a time, registers only for the signed-in session, the rate
    /// limit holds, every change is persisted before a request goes out, stale answers change
    /// nothing. At the end, both for the client that kept running and for one restored from the
    /// last Persist (its request in flight lost): after settling against an honest server, the
    /// server holds the signed-in user's current token, and no other device except those of
    /// users whose session was revoked (unless a 422 made the client give something up).
    #[test]
    fn random_sequences_keep_the_invariants(steps in scenario()) {
        let config = Config { max_pending_unregisters: 1_000, ..Config::default() };
        let mut world = World::new(config.clone());
        for step in &steps {
            world.step(step);
        }

        let mut restored = world.clone();
        restored.restart(false);
        for mut world in [world, restored] {
            world.drain();
            if world.refused {
                continue;
            }
            let status = world.client.status();
            let current = status.user_id.zip(status.token);
            if let Some((user, token)) = &current {
                prop_assert_eq!(world.server.devices.get(token), Some(user));
            }
            for (token, user) in &world.server.devices {
                let is_current = current.as_ref() == Some(&(user.clone(), token.clone()));
                prop_assert!(
                    is_current || world.revoked_users.contains(user),
                    "{} still delivers to {}", token, user
                );
            }
        }
    }
}
