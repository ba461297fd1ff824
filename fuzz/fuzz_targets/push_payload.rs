//! A push as a service worker or a phone receives it: JSON (Web Push) or FCM's string map,
//! then routed with any pressed action. Nothing may panic, a route only ever names a valid
//! visit id and a same-origin path, and the session-free decision call carries the payload's
//! action token only to the visit's own decision path.
#![no_main]

use std::collections::HashMap;

use gatebell_core::protocol::PushPayload;
use gatebell_core::routing::{self, Route};
use libfuzzer_sys::fuzz_target;

fn check(route: &Route) {
    if let Some(id) = route.visit_id() {
        assert!(routing::is_valid_visit_id(id), "{id:?}");
    }
    let path = route.path();
    assert!(path.starts_with('/') && !path.starts_with("//"), "{path:?}");
    let _ = route.deep_link("gatebell");
    if let Some(call) = route.api_call() {
        assert!(call.starts_with("/api/v1/"), "{call:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let (action, rest) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    if let Ok(payload) = serde_json::from_slice::<PushPayload>(rest) {
        let route = routing::route(&payload, action);
        check(&route);
        if let (Some(token), Some(id)) = (payload.action_token.as_deref(), route.visit_id())
            && let Some(call) = route.decision_call(token)
        {
            assert_eq!(call.path, format!("/api/v1/visits/{id}/decision"));
            assert_eq!(call.body.action_token, token);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)));
        }
        // What the server would send back out parses to the same payload.
        let again: PushPayload = serde_json::to_string(&payload)
            .ok()
            .and_then(|j| serde_json::from_str(&j).ok())
            .expect("a parsed payload serialises and parses again");
        assert_eq!(again, payload);
    }
    if let Ok(map) = serde_json::from_slice::<HashMap<String, String>>(rest) {
        check(&routing::route_data(map, action));
    }
});
