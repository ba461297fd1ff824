//! The client state machine driven by any sequence of events a shell could feed it: sign-in
//! and out, tokens issued and refreshed, answers of every kind (in order, late, unknown ids),
//! timers, restarts from the persisted state. Checked after every step: no panic, at most one
//! request in flight, `Persist` before `Http` in a batch, the persisted state is what
//! `state()` says and survives JSON, and the status is derived from it alone.
#![no_main]

use gatebell_core::client::{Config, Effect, Event, HttpOutcome, PersistedState, PushClient};
use gatebell_core::protocol::{Platform, WebPushKeys, WebPushSubscription};
use libfuzzer_sys::fuzz_target;

/// Answers a shell could receive, error bodies included.
const ANSWERS: &[(u16, &str)] = &[
    (
        200,
        r#"{"id":"d1","platform":"web","createdAt":1,"lastSeenAt":1}"#,
    ),
    (204, ""),
    (400, r#"{"error":{"code":"validation","message":"bad"}}"#),
    (401, r#"{"error":{"code":"unauthorized","message":"no"}}"#),
    (
        404,
        r#"{"error":{"code":"device_not_found","message":"gone"}}"#,
    ),
    (409, "not json"),
    (429, r#"{"error":{"code":"rate_limited","message":"slow"}}"#),
    (500, ""),
    (503, r#"{"error":{"code":"busy"}}"#),
];

fn subscription(n: u8) -> WebPushSubscription {
    WebPushSubscription {
        endpoint: format!("https://push.example/{n}"),
        expiration_time: None,
        keys: WebPushKeys {
            p256dh: "BPk".into(),
            auth: "au".into(),
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let config = Config::default();
    let mut client = PushClient::new(config.clone());
    let mut now: i64 = 1_700_000_000_000;
    let mut in_flight: Option<u64> = None;
    let mut persisted = PersistedState::default();
    for step in data.chunks(3) {
        let (op, a, b) = (
            step[0],
            *step.get(1).unwrap_or(&0),
            *step.get(2).unwrap_or(&0),
        );
        // Time only moves forward, by up to ~2 days a step.
        now += i64::from(a) * i64::from(b) * 2_700;
        let event = match op % 9 {
            0 => Event::AppStarted { now_ms: now },
            1 => Event::SignedIn {
                now_ms: now,
                session_token: format!("session-{a}"),
                user_id: format!("user-{}", b % 3),
            },
            2 => {
                let platform =
                    [Platform::Android, Platform::Ios, Platform::Web][usize::from(a % 3)];
                Event::TokenIssued {
                    now_ms: now,
                    token: if platform == Platform::Web {
                        format!("https://push.example/{b}")
                    } else {
                        format!("token-{b}")
                    },
                    platform,
                    subscription: (platform == Platform::Web && a % 7 != 0)
                        .then(|| subscription(b)),
                    // A phone may register keys for encrypted payloads; new keys re-register.
                    keys: (platform != Platform::Web && a % 2 == 0).then(|| WebPushKeys {
                        p256dh: format!("p256dh-{}", b % 2),
                        auth: "auth".into(),
                    }),
                }
            }
            3 => Event::SigningOut { now_ms: now },
            4 | 5 => {
                let Some(id) = in_flight.take() else { continue };
                let outcome = match ANSWERS.get(usize::from(a) % (ANSWERS.len() + 1)) {
                    Some((status, body)) => HttpOutcome::Response {
                        status: *status,
                        body: (*body).into(),
                    },
                    None => HttpOutcome::NetworkError {
                        message: "offline".into(),
                    },
                };
                Event::HttpResponse {
                    now_ms: now,
                    request_id: id,
                    outcome,
                    random: f64::from(b) / 256.0,
                }
            }
            // A late or stray answer (or, by chance, the answer to the request in flight).
            6 => {
                let request_id = u64::from(a) << 8 | u64::from(b);
                if in_flight == Some(request_id) {
                    in_flight = None;
                }
                Event::HttpResponse {
                    now_ms: now,
                    request_id,
                    outcome: HttpOutcome::Response {
                        status: 200,
                        body: String::new(),
                    },
                    random: 0.5,
                }
            }
            7 => Event::TimerFired { now_ms: now },
            _ if a % 2 == 0 => Event::DeviceUnknown { now_ms: now },
            _ => {
                // The app restarts: the request in flight is lost with the process.
                client = PushClient::restore(config.clone(), persisted.clone());
                in_flight = None;
                Event::AppStarted { now_ms: now }
            }
        };
        let effects = client.handle(event);
        let mut seen_http = false;
        for effect in effects {
            match effect {
                Effect::Persist { state } => {
                    assert!(!seen_http, "Persist after Http in one batch");
                    persisted = *state;
                }
                Effect::Http { request } => {
                    assert!(in_flight.is_none(), "two requests in flight");
                    assert!(!request.bearer_token.is_empty());
                    seen_http = true;
                    in_flight = Some(request.id);
                }
                _ => {}
            }
        }
        assert_eq!(
            client.state(),
            &persisted,
            "state() differs from the last Persist"
        );
        let json = serde_json::to_string(&persisted).expect("serialises");
        let back: PersistedState = serde_json::from_str(&json).expect("parses its own JSON");
        assert_eq!(back, persisted);
        assert_eq!(
            PushClient::restore(config.clone(), back).status(),
            client.status(),
            "the status is not derived from the persisted state alone"
        );
    }
});
