//! One test per rule of the client, driven by scripted events.

use super::*;
use crate::protocol::{Device, ErrorBody, ErrorDetail, WebPushKeys};

pub(crate) const T0: i64 = 1_700_000_000_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;

pub(super) fn sign_in(now_ms: i64, session: &str, user: &str) -> Event {
    Event::SignedIn {
        now_ms,
        session_token: session.into(),
        user_id: user.into(),
    }
}

pub(super) fn token(now_ms: i64, token: &str) -> Event {
    Event::TokenIssued {
        now_ms,
        token: token.into(),
        platform: Platform::Android,
        subscription: None,
        keys: None,
    }
}

pub(super) fn device_body(token: &str) -> String {
    serde_json::to_string(&Device {
        id: "d1".into(),
        token: token.into(),
        platform: Platform::Android,
        created_at: T0,
        updated_at: T0,
        last_seen_at: T0,
    })
    .unwrap()
}

pub(super) fn error_body(code: &str) -> String {
    serde_json::to_string(&ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message: "something".into(),
        },
    })
    .unwrap()
}

pub(super) fn answer(now_ms: i64, request: &HttpRequest, status: u16, body: String) -> Event {
    Event::HttpResponse {
        now_ms,
        request_id: request.id,
        outcome: HttpOutcome::Response { status, body },
        random: 0.5,
    }
}

fn ok(now_ms: i64, request: &HttpRequest) -> Event {
    let body = match (&request.method, &request.body) {
        (HttpMethod::Post, RequestBody::Register(r)) => device_body(&r.token),
        _ => String::new(),
    };
    let status = if request.method == HttpMethod::Post {
        200
    } else {
        204
    };
    answer(now_ms, request, status, body)
}

fn network_error(now_ms: i64, request: &HttpRequest, random: f64) -> Event {
    Event::HttpResponse {
        now_ms,
        request_id: request.id,
        outcome: HttpOutcome::NetworkError {
            message: "offline".into(),
        },
        random,
    }
}

pub(super) fn requests(effects: &[Effect]) -> Vec<HttpRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Http { request } => Some(request.clone()),
            _ => None,
        })
        .collect()
}

fn only_request(effects: &[Effect]) -> HttpRequest {
    let mut all = requests(effects);
    assert_eq!(all.len(), 1, "expected one request in {effects:#?}");
    all.remove(0)
}

fn wake(effects: &[Effect]) -> Option<i64> {
    effects.iter().find_map(|e| match e {
        Effect::WakeAt { at_ms } => Some(*at_ms),
        _ => None,
    })
}

fn persisted(effects: &[Effect]) -> Option<PersistedState> {
    effects.iter().find_map(|e| match e {
        Effect::Persist { state } => Some((**state).clone()),
        _ => None,
    })
}

fn assert_register(request: &HttpRequest, token: &str, session: &str) {
    assert_eq!(request.method, HttpMethod::Post);
    assert_eq!(request.path, REGISTER_DEVICE_PATH);
    assert_eq!(request.bearer_token, session);
    match &request.body {
        RequestBody::Register(r) => assert_eq!(r.token, token),
        other => panic!("expected a register body, got {other:?}"),
    }
}

fn assert_unregister(request: &HttpRequest, token: &str, session: &str) {
    assert_eq!(request.method, HttpMethod::Delete);
    assert_eq!(request.path, REGISTER_DEVICE_PATH);
    assert_eq!(request.bearer_token, session);
    assert_eq!(
        request.body,
        RequestBody::Unregister(UnregisterDeviceRequest {
            token: token.into()
        })
    );
}

/// A client signed in as `u1` (session `s1`) with token `t1` registered at [`T0`].
fn registered_client() -> PushClient {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    c.handle(ok(T0, &reg));
    assert!(c.status().registered);
    c
}

// --- rule 1: register once signed in and a token exists ---------------------------------------

#[test]
fn registers_when_token_arrives_before_sign_in() {
    let mut c = PushClient::new(Config::default());
    assert!(requests(&c.handle(token(T0, "t1"))).is_empty());
    let reg = only_request(&c.handle(sign_in(T0, "s1", "u1")));
    assert_register(&reg, "t1", "s1");
    c.handle(ok(T0, &reg));
    let status = c.status();
    assert!(status.registered);
    assert_eq!(status.last_registered_at_ms, Some(T0));
}

#[test]
fn registers_when_token_arrives_after_sign_in() {
    let mut c = PushClient::new(Config::default());
    assert!(requests(&c.handle(sign_in(T0, "s1", "u1"))).is_empty());
    let reg = only_request(&c.handle(token(T0, "t1")));
    assert_register(&reg, "t1", "s1");
}

#[test]
fn web_registration_carries_the_subscription() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let subscription = WebPushSubscription {
        endpoint: "https://push.example/abc".into(),
        expiration_time: None,
        keys: WebPushKeys {
            p256dh: "p".into(),
            auth: "a".into(),
        },
    };
    let reg = only_request(&c.handle(Event::TokenIssued {
        now_ms: T0,
        token: subscription.endpoint.clone(),
        platform: Platform::Web,
        subscription: Some(subscription.clone()),
        keys: None,
    }));
    assert_eq!(
        reg.body,
        RequestBody::Register(RegisterDeviceRequest {
            token: "https://push.example/abc".into(),
            platform: Platform::Web,
            subscription: Some(subscription),
            keys: None,
        })
    );
}

// --- rule 2: the same token again does nothing ----------------------------------------------

#[test]
fn same_token_reported_again_does_nothing() {
    let mut c = registered_client();
    assert_eq!(c.handle(token(T0 + DAY_MS, "t1")), Vec::new());
    assert_eq!(c.handle(sign_in(T0 + DAY_MS, "s1", "u1")), Vec::new());
    assert!(
        requests(&c.handle(Event::AppStarted {
            now_ms: T0 + DAY_MS
        }))
        .is_empty()
    );
}

#[test]
fn same_token_with_a_new_subscription_registers_again() {
    let mut c = registered_client();
    let reg = only_request(&c.handle(Event::TokenIssued {
        now_ms: T0,
        token: "t1".into(),
        platform: Platform::Android,
        subscription: Some(WebPushSubscription {
            endpoint: "https://push.example/t1".into(),
            expiration_time: None,
            keys: WebPushKeys {
                p256dh: "p2".into(),
                auth: "a2".into(),
            },
        }),
        keys: None,
    }));
    assert_register(&reg, "t1", "s1");
}

#[test]
fn mobile_registration_carries_its_encryption_keys_and_new_keys_register_again() {
    let mut c = registered_client();
    let keys = WebPushKeys {
        p256dh: "p".into(),
        auth: "a".into(),
    };
    let reg = only_request(&c.handle(Event::TokenIssued {
        now_ms: T0,
        token: "t1".into(),
        platform: Platform::Android,
        subscription: None,
        keys: Some(keys.clone()),
    }));
    assert_eq!(
        reg.body,
        RequestBody::Register(RegisterDeviceRequest {
            token: "t1".into(),
            platform: Platform::Android,
            subscription: None,
            keys: Some(keys),
        })
    );
}

// --- rule 3: re-register after 7 days -------------------------------------------------------

#[test]
fn reregisters_when_last_success_is_older_than_seven_days() {
    let mut c = registered_client();
    let week = Config::default().reregister_after_ms;
    assert!(
        requests(&c.handle(Event::AppStarted {
            now_ms: T0 + week - 1
        }))
        .is_empty()
    );
    let reg = only_request(&c.handle(Event::TimerFired { now_ms: T0 + week }));
    assert_register(&reg, "t1", "s1");
    c.handle(ok(T0 + week, &reg));
    assert_eq!(c.status().last_registered_at_ms, Some(T0 + week));
}

#[test]
fn registration_asks_to_wake_when_it_goes_stale() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    let effects = c.handle(ok(T0, &reg));
    assert_eq!(
        wake(&effects),
        Some(T0 + Config::default().reregister_after_ms)
    );
}

#[test]
fn reregisters_when_the_clock_went_back() {
    let mut c = registered_client();
    let reg = only_request(&c.handle(Event::AppStarted {
        now_ms: T0 - DAY_MS,
    }));
    assert_register(&reg, "t1", "s1");
}

// --- rule 4: a refreshed token replaces the old one -----------------------------------------

#[test]
fn refresh_replaces_old_token_on_server() {
    let mut c = registered_client();
    let reg = only_request(&c.handle(token(T0 + MINUTE_MS, "t2")));
    assert_register(&reg, "t2", "s1");
    let unreg = only_request(&c.handle(ok(T0 + MINUTE_MS, &reg)));
    assert_unregister(&unreg, "t1", "s1");
    assert!(requests(&c.handle(ok(T0 + MINUTE_MS, &unreg))).is_empty());
    let status = c.status();
    assert_eq!(status.token.as_deref(), Some("t2"));
    assert!(status.registered);
    assert_eq!(status.pending_unregisters, 0);
}

#[test]
fn refresh_while_signed_out_needs_no_server_call() {
    let mut c = PushClient::new(Config::default());
    c.handle(token(T0, "t1"));
    assert_eq!(requests(&c.handle(token(T0, "t2"))), Vec::new());
    assert_eq!(c.status().pending_unregisters, 0);
}

#[test]
fn token_that_comes_back_stays_registered() {
    let mut c = registered_client();
    let reg2 = only_request(&c.handle(token(T0, "t2")));
    // The platform hands out t1 again before anything was answered.
    assert!(requests(&c.handle(token(T0, "t1"))).is_empty());
    let next = only_request(&c.handle(ok(T0, &reg2)));
    assert_register(&next, "t1", "s1");
    let unreg = only_request(&c.handle(ok(T0, &next)));
    assert_unregister(&unreg, "t2", "s1");
    assert!(requests(&c.handle(ok(T0, &unreg))).is_empty());
    assert!(c.status().registered);
    assert_eq!(c.status().pending_unregisters, 0);
}

// --- rule 5: sign-out unregisters, with the session held at sign-out ------------------------

// --- opting out -------------------------------------------------------------------------------

#[test]
fn disabling_unregisters_keeps_the_session_and_survives_a_restart() {
    let mut c = registered_client();
    let effects = c.handle(Event::NotificationsDisabled { now_ms: T0 });
    let unreg = only_request(&effects);
    assert_unregister(&unreg, "t1", "s1");
    let state = persisted(&effects).expect("the choice is persisted");
    c.handle(ok(T0, &unreg));
    let status = c.status();
    assert!(status.signed_in && !status.registered && status.notifications_disabled);
    assert_eq!(status.token, None);

    // After a restart (a reload), the browser's still-live subscription and the weekly
    // refresh register nothing.
    let mut c = PushClient::restore(Config::default(), state);
    // The unregister persisted before its answer is sent again.
    let unreg = only_request(&c.handle(Event::AppStarted { now_ms: T0 }));
    assert_unregister(&unreg, "t1", "s1");
    c.handle(ok(T0, &unreg));
    assert!(requests(&c.handle(token(T0, "t1"))).is_empty());
    let week = Config::default().reregister_after_ms;
    assert!(requests(&c.handle(Event::TimerFired { now_ms: T0 + week })).is_empty());
    assert!(c.status().notifications_disabled);

    // Turned on again, the next token registers.
    assert!(requests(&c.handle(Event::NotificationsEnabled { now_ms: T0 + week })).is_empty());
    let reg = only_request(&c.handle(token(T0 + week, "t2")));
    assert_register(&reg, "t2", "s1");
    assert!(!c.status().notifications_disabled);
}

#[test]
fn disabling_before_sign_in_registers_nothing_at_sign_in() {
    let mut c = PushClient::new(Config::default());
    c.handle(token(T0, "t1"));
    assert!(requests(&c.handle(Event::NotificationsDisabled { now_ms: T0 })).is_empty());
    assert!(requests(&c.handle(sign_in(T0, "s1", "u1"))).is_empty());
    assert!(!c.status().registered);
}

#[test]
fn sign_out_unregisters_with_the_session_held_at_sign_out() {
    let mut c = registered_client();
    let unreg = only_request(&c.handle(Event::SigningOut { now_ms: T0 }));
    assert_unregister(&unreg, "t1", "s1");
    let status = c.status();
    assert!(!status.signed_in && !status.registered);
    assert_eq!(status.pending_unregisters, 1);
    c.handle(ok(T0, &unreg));
    assert_eq!(c.status().pending_unregisters, 0);
}

#[test]
fn failed_unregister_is_persisted_and_retried_with_the_old_session() {
    let mut c = registered_client();
    let unreg = only_request(&c.handle(Event::SigningOut { now_ms: T0 }));
    let effects = c.handle(answer(T0, &unreg, 503, String::new()));
    let retry_at = wake(&effects).expect("a retry is scheduled");
    let state = persisted(&effects).expect("the failure is persisted");

    // The app is killed; a new user signs in before the retry is due.
    let mut c = PushClient::restore(Config::default(), state);
    c.handle(Event::AppStarted { now_ms: T0 });
    let reg = only_request(&c.handle(sign_in(T0, "s2", "u2")));
    assert_register(&reg, "t1", "s2");
    // The new registration is refused, so the token may still be the old user's.
    c.handle(answer(T0, &reg, 422, error_body("validation")));
    let unreg = only_request(&c.handle(Event::TimerFired { now_ms: retry_at }));
    assert_unregister(&unreg, "t1", "s1");
}

#[test]
fn unauthorized_unregister_is_dropped() {
    let mut c = registered_client();
    let unreg = only_request(&c.handle(Event::SigningOut { now_ms: T0 }));
    let effects = c.handle(answer(T0, &unreg, 401, error_body("unauthorized")));
    assert!(requests(&effects).is_empty());
    assert_eq!(wake(&effects), None);
    let status = c.status();
    assert_eq!(status.pending_unregisters, 0);
    let error = status.last_error.unwrap();
    assert_eq!(
        (error.operation, error.status),
        (Operation::Unregister, Some(401))
    );
    assert!(!error.will_retry);
    // A signed-out session ending is not news for the UI.
    assert!(!effects.contains(&Effect::SessionEnded));
}

#[test]
fn unregister_of_unknown_device_counts_as_success() {
    let mut c = registered_client();
    let unreg = only_request(&c.handle(Event::SigningOut { now_ms: T0 }));
    let effects = c.handle(answer(T0, &unreg, 404, error_body(ERROR_DEVICE_NOT_FOUND)));
    assert!(requests(&effects).is_empty());
    assert_eq!(c.status().pending_unregisters, 0);
    assert_eq!(c.status().last_error, None);
}

// --- rule 6: the server forgot the device ---------------------------------------------------

#[test]
fn device_not_found_means_register_again() {
    let mut c = registered_client();
    let reg = only_request(&c.handle(Event::DeviceUnknown {
        now_ms: T0 + DAY_MS,
    }));
    assert_register(&reg, "t1", "s1");
}

#[test]
fn device_not_found_on_register_retries_it() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    let effects = c.handle(answer(T0, &reg, 404, error_body(ERROR_DEVICE_NOT_FOUND)));
    let at = wake(&effects).expect("retried");
    assert_register(
        &only_request(&c.handle(Event::TimerFired { now_ms: at })),
        "t1",
        "s1",
    );
}

// --- rule 7: backoff on network errors and 5xx, none on 4xx ---------------------------------

#[test]
fn network_errors_back_off_exponentially_with_jitter() {
    // Out of the rate limit's way: this test is about the delays.
    let mut c = PushClient::new(Config {
        max_registers_per_window: 100,
        ..Config::default()
    });
    c.handle(sign_in(T0, "s1", "u1"));
    let mut reg = only_request(&c.handle(token(T0, "t1")));
    let mut now = T0;
    let mut delays = Vec::new();
    for _ in 0..14 {
        // random = 0 gives the shortest delay of each step: half of base · 2^n.
        let effects = c.handle(network_error(now, &reg, 0.0));
        assert!(requests(&effects).is_empty(), "no retry before the delay");
        let at = wake(&effects).unwrap();
        delays.push(at - now);
        now = at;
        reg = only_request(&c.handle(Event::TimerFired { now_ms: now }));
    }
    assert_eq!(&delays[..4], &[500, 1_000, 2_000, 4_000]);
    assert_eq!(*delays.last().unwrap(), HOUR_MS / 2, "capped at 1 h");
    let error = c.status().last_error.unwrap();
    assert_eq!((error.status, error.will_retry), (None, true));
}

#[test]
fn jitter_spreads_the_delay_over_its_upper_half() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    let mut early = c.clone();
    assert_eq!(
        wake(&early.handle(network_error(T0, &reg, 0.0))),
        Some(T0 + 500)
    );
    assert_eq!(
        wake(&c.handle(network_error(T0, &reg, 0.999_999))),
        Some(T0 + 999)
    );
}

#[test]
fn server_errors_and_throttling_back_off() {
    for status in [500, 502, 503, 429, 408] {
        let mut c = PushClient::new(Config::default());
        c.handle(sign_in(T0, "s1", "u1"));
        let reg = only_request(&c.handle(token(T0, "t1")));
        let effects = c.handle(answer(T0, &reg, status, String::new()));
        assert!(requests(&effects).is_empty(), "{status}");
        let at = wake(&effects).unwrap();
        assert!((T0 + 500..=T0 + 1_000).contains(&at), "{status}");
        assert_register(
            &only_request(&c.handle(Event::TimerFired { now_ms: at })),
            "t1",
            "s1",
        );
    }
}

#[test]
fn client_error_gives_up_and_reports() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    let effects = c.handle(answer(T0, &reg, 422, error_body("validation")));
    assert!(requests(&effects).is_empty());
    assert_eq!(wake(&effects), None);
    let error = c.status().last_error.unwrap();
    assert_eq!(error.status, Some(422));
    assert_eq!(error.code.as_deref(), Some("validation"));
    assert!(!error.will_retry);
    assert!(
        requests(&c.handle(Event::TimerFired {
            now_ms: T0 + DAY_MS
        }))
        .is_empty()
    );
    // A new token is a new attempt.
    assert_register(
        &only_request(&c.handle(token(T0 + DAY_MS, "t2"))),
        "t2",
        "s1",
    );
}

#[test]
fn unauthorized_register_ends_the_session() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    let effects = c.handle(answer(T0, &reg, 401, error_body("unauthorized")));
    assert!(effects.contains(&Effect::SessionEnded));
    assert!(
        requests(&effects).is_empty(),
        "nothing to unregister with a dead session"
    );
    assert!(!c.status().signed_in);
}

// --- rule 8: a persisted rate limit ---------------------------------------------------------

#[test]
fn rate_limit_survives_restart() {
    let config = Config {
        max_registers_per_window: 2,
        ..Config::default()
    };
    let mut c = PushClient::new(config.clone());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    c.handle(ok(T0, &reg));
    let reg = only_request(&c.handle(token(T0 + 1, "t2")));
    let unreg = only_request(&c.handle(ok(T0 + 1, &reg)));
    c.handle(ok(T0 + 1, &unreg));

    let mut c = PushClient::restore(config, c.state().clone());
    c.handle(Event::AppStarted { now_ms: T0 + 2 });
    // Two registers in this hour already: the third waits; the unregister of t2 does not.
    let effects = c.handle(token(T0 + 2, "t3"));
    let unreg = only_request(&effects);
    assert_unregister(&unreg, "t2", "s1");
    let effects = c.handle(ok(T0 + 2, &unreg));
    assert!(requests(&effects).is_empty());
    assert_eq!(wake(&effects), Some(T0 + HOUR_MS));
    let reg = only_request(&c.handle(Event::TimerFired {
        now_ms: T0 + HOUR_MS,
    }));
    assert_register(&reg, "t3", "s1");
}

// --- rule 9: one request at a time, nothing after sign-out, stale answers ignored -----------

#[test]
fn no_second_request_while_one_is_in_flight() {
    let mut c = registered_client();
    let reg = only_request(&c.handle(token(T0, "t2")));
    // Sign-out queues an unregister of t2, but the register is still out.
    assert!(requests(&c.handle(token(T0, "t3"))).is_empty());
    assert!(requests(&c.handle(Event::SigningOut { now_ms: T0 })).is_empty());
    assert!(requests(&c.handle(Event::TimerFired { now_ms: T0 + 1 })).is_empty());
    let next = only_request(&c.handle(ok(T0, &reg)));
    assert_eq!(next.method, HttpMethod::Delete);
}

#[test]
fn no_registration_after_sign_out() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    c.handle(Event::SigningOut { now_ms: T0 });
    // The register sent before sign-out succeeds; it is undone, not repeated.
    let unreg = only_request(&c.handle(ok(T0, &reg)));
    assert_unregister(&unreg, "t1", "s1");
    c.handle(ok(T0, &unreg));
    for now in [T0 + HOUR_MS, T0 + 8 * DAY_MS] {
        assert!(requests(&c.handle(Event::AppStarted { now_ms: now })).is_empty());
        assert!(requests(&c.handle(token(now, "t2"))).is_empty());
    }
    assert!(!c.status().registered);
}

#[test]
fn stale_response_ids_are_ignored() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    let before = c.state().clone();
    let stale = HttpRequest {
        id: reg.id + 7,
        ..reg.clone()
    };
    assert_eq!(c.handle(ok(T0, &stale)), Vec::new());
    assert_eq!(c.state(), &before);
    c.handle(ok(T0, &reg));
    // The same answer twice: the second is stale.
    assert_eq!(c.handle(ok(T0, &reg)), Vec::new());
}

#[test]
fn restore_forgets_the_request_in_flight_and_sends_it_again() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let effects = c.handle(token(T0, "t1"));
    // Persist precedes the request, so the stored id counter is already past it.
    assert!(matches!(effects[0], Effect::Persist { .. }));
    let lost = only_request(&effects);
    let mut c = PushClient::restore(Config::default(), persisted(&effects).unwrap());
    let again = only_request(&c.handle(Event::AppStarted { now_ms: T0 + 1 }));
    assert_register(&again, "t1", "s1");
    assert!(again.id > lost.id);
    assert_eq!(
        c.handle(ok(T0 + 1, &lost)),
        Vec::new(),
        "the old answer is stale"
    );
}

// --- handing the token to another user ------------------------------------------------------

#[test]
fn sign_in_as_another_user_moves_the_token() {
    let mut c = registered_client();
    let reg = only_request(&c.handle(sign_in(T0, "s2", "u2")));
    assert_register(&reg, "t1", "s2");
    // The upsert moved t1 to u2, so the unregister queued for u1 must not run: on a server
    // that deletes by token it would remove u2's device.
    assert!(requests(&c.handle(ok(T0, &reg))).is_empty());
    assert_eq!(c.status().pending_unregisters, 0);
    assert_eq!(c.status().user_id.as_deref(), Some("u2"));
}

#[test]
fn same_user_with_a_new_session_keeps_the_registration() {
    let mut c = registered_client();
    assert!(requests(&c.handle(sign_in(T0, "s1b", "u1"))).is_empty());
    assert!(c.status().registered);
}

#[test]
fn unregister_queued_while_a_register_is_in_flight_survives_its_success() {
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    c.handle(Event::SigningOut { now_ms: T0 });
    c.handle(sign_in(T0, "s2", "u1"));
    // The answer to the register sent for s1 arrives: the token is u1's on the server, and the
    // unregister queued at sign-out (after that register was sent) is still wanted, as is a
    // register for s2, which goes first and makes the unregister moot.
    let reg2 = only_request(&c.handle(ok(T0, &reg)));
    assert_register(&reg2, "t1", "s2");
    assert_eq!(c.status().pending_unregisters, 1);
    assert!(requests(&c.handle(ok(T0, &reg2))).is_empty());
    assert_eq!(c.status().pending_unregisters, 0);
    assert!(c.status().registered);
}

// --- status and serialisation ---------------------------------------------------------------

#[test]
fn status_changes_are_reported_once() {
    let mut c = PushClient::new(Config::default());
    let effects = c.handle(sign_in(T0, "s1", "u1"));
    let Some(Effect::StatusChanged { status }) = effects.last() else {
        panic!("status expected: {effects:?}");
    };
    assert!(status.signed_in);
    assert_eq!(status.user_id.as_deref(), Some("u1"));
    assert!(!status.registered);
    let again = c.handle(Event::TimerFired { now_ms: T0 });
    assert!(again.is_empty(), "nothing changed: {again:?}");
    let restarted = c.handle(Event::AppStarted { now_ms: T0 });
    assert!(matches!(
        restarted.last(),
        Some(Effect::StatusChanged { .. })
    ));
}

#[test]
fn persisted_state_round_trips_through_json() {
    let mut c = registered_client();
    let unreg = only_request(&c.handle(Event::SigningOut { now_ms: T0 }));
    c.handle(network_error(T0, &unreg, 0.3));
    let json = serde_json::to_string(c.state()).unwrap();
    let back: PersistedState = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, c.state());
    // Older or partial state loads with defaults.
    let empty: PersistedState = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, PersistedState::default());
}

#[test]
fn bearer_tokens_stay_out_of_debug_output() {
    let c = registered_client();
    assert!(!format!("{:?}", c.state()).contains("s1"));
}

#[test]
fn request_bodies_serialise_to_wire_json() {
    let mut c = registered_client();
    let unreg = only_request(&c.handle(Event::SigningOut { now_ms: T0 }));
    assert_eq!(
        serde_json::to_value(&unreg.body).unwrap(),
        serde_json::json!({"token": "t1"})
    );
    let mut c = PushClient::new(Config::default());
    c.handle(sign_in(T0, "s1", "u1"));
    let reg = only_request(&c.handle(token(T0, "t1")));
    let json = serde_json::to_value(&reg).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "id": reg.id,
            "method": "POST",
            "path": "/api/v1/notifications/register-device",
            "bearerToken": "s1",
            "body": {"token": "t1", "platform": "android"},
        })
    );
}

#[test]
fn events_deserialise_from_javascript_objects() {
    let event: Event = serde_json::from_value(serde_json::json!({
        "type": "httpResponse",
        "nowMs": 5,
        "requestId": 3,
        "outcome": {"kind": "response", "status": 204, "body": ""},
        "random": 0.25,
    }))
    .unwrap();
    assert_eq!(event.now_ms(), 5);
    let event: Event = serde_json::from_value(serde_json::json!({
        "type": "tokenIssued", "nowMs": 1, "token": "t", "platform": "ios",
    }))
    .unwrap();
    assert_eq!(
        event,
        Event::TokenIssued {
            now_ms: 1,
            token: "t".into(),
            platform: Platform::Ios,
            subscription: None,
            keys: None,
        }
    );
}

#[test]
fn error_code_is_read_from_an_error_body() {
    assert_eq!(
        error_code(&error_body(ERROR_DEVICE_NOT_FOUND)),
        Some("device_not_found")
    );
    assert_eq!(
        error_code(r#"{ "error" : { "message" : "code", "code" : "validation" } }"#),
        Some("validation")
    );
    assert_eq!(
        error_code(r#"{"error":{"message":"\"code\":\"x\""}}"#),
        None
    );
    assert_eq!(error_code("<html>Not Found</html>"), None);
    assert_eq!(error_code(""), None);
    assert_eq!(error_code(r#"{"error":{"code":"#), None);
}

#[test]
fn error_code_matches_like_str_match_indices() {
    // Matches do not overlap: the `"code"` inside `"code"code"` is not a second key.
    assert_eq!(error_code(r#""code"code": "x""#), None);
    assert_eq!(error_code(r#""code" "code": "late""#), Some("late"));
    // Unicode whitespace around the colon, and non-ASCII text before the key.
    assert_eq!(
        error_code("{\"é\":1,\"code\"\u{a0}:\u{2003}\"refused\"}"),
        Some("refused")
    );
    assert_eq!(error_code(r#"{"code":"Not_snake"}"#), None);
    assert_eq!(error_code(r#"{"code":""}"#), None);
}

#[test]
fn bare_404_on_unregister_is_given_up() {
    let mut c = registered_client();
    let unreg = only_request(&c.handle(Event::SigningOut { now_ms: T0 }));
    let effects = c.handle(answer(T0, &unreg, 404, "Not Found".into()));
    assert!(requests(&effects).is_empty());
    assert_eq!(c.status().pending_unregisters, 0);
    assert_eq!(c.status().last_error.unwrap().status, Some(404));
}
