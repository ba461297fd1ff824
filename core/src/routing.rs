//! Where a tap on a notification leads: from a push payload (and the action button, if one was
//! pressed) to a [`Route`], and from a route to a web path, a mobile deep link or an API call.
//!
//! Payloads arrive from outside (a push service, a data map an OS hands over), so nothing here
//! trusts them: anything unknown or malformed routes to [`Route::Inbox`], and a visit id must
//! pass [`is_valid_visit_id`] before it is put into a URL.

use serde::Serialize;

use crate::protocol::{
    ACTION_APPROVE, ACTION_REJECT, Decision, DecisionRequest, NotificationType, PushPayload, paths,
};

/// Longest visit id accepted (ours are 36-character UUIDs; the slack is for other backends).
pub const MAX_VISIT_ID_LEN: usize = 64;

/// Where the app should go after a notification was tapped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "route", rename_all = "camelCase")]
pub enum Route {
    /// Open the visit's detail screen.
    #[serde(rename_all = "camelCase")]
    Visit { visit_id: String },
    /// Approve a pending walk-in (the Approve button was pressed).
    #[serde(rename_all = "camelCase")]
    Approve { visit_id: String },
    /// Reject a pending walk-in (the Reject button was pressed).
    #[serde(rename_all = "camelCase")]
    Reject { visit_id: String },
    /// Open the inbox: the fallback for anything that names no (valid) visit.
    Inbox,
}

/// Longest action token accepted (ours are 43 characters).
pub const MAX_ACTION_TOKEN_LEN: usize = 128;

/// An Approve / Reject answered with a push's action token: `POST` `body` (as JSON) to `path`,
/// with no `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DecisionCall {
    pub path: String,
    pub body: DecisionRequest,
}

/// Longest route template accepted.
pub const MAX_ROUTE_TEMPLATE_LEN: usize = 256;
/// The placeholder a visit template must hold once.
pub const VISIT_ID_PLACEHOLDER: &str = "{visitId}";

/// The app's own paths for a tap: where a visit is shown and where the inbox is. Web apps
/// name their pages differently (`/visits/{visitId}`, `/app/visit?id={visitId}`, …), so the
/// package takes templates instead of hard-coding the demo's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RoutePaths {
    /// A same-origin path holding `{visitId}` once; Approve / Reject add `action=…` to its
    /// query.
    pub visit: String,
    /// A same-origin path.
    pub inbox: String,
}

impl Default for RoutePaths {
    fn default() -> Self {
        RoutePaths {
            visit: "/visits/{visitId}".to_owned(),
            inbox: "/".to_owned(),
        }
    }
}

/// Why route templates were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRoutePaths(pub String);

impl std::fmt::Display for InvalidRoutePaths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidRoutePaths {}

/// A template must stay on the app's origin: it starts with one `/` (not `//` or `/\`, which
/// browsers read as another host), and holds no whitespace, control characters or `#`.
fn check_template(name: &str, template: &str) -> Result<(), InvalidRoutePaths> {
    let bad = |why: &str| Err(InvalidRoutePaths(format!("routes.{name} {why}")));
    if template.len() > MAX_ROUTE_TEMPLATE_LEN {
        return bad("is too long");
    }
    if !template.starts_with('/') || template[1..].starts_with(['/', '\\']) {
        return bad("must be a path on the app's origin, starting with a single /");
    }
    if template
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == '\\')
    {
        return bad("must not hold spaces, control characters, \\ or #");
    }
    Ok(())
}

impl RoutePaths {
    /// Checks both templates (see [`RoutePaths`]); `None` keeps the default of that one.
    pub fn new(visit: Option<String>, inbox: Option<String>) -> Result<Self, InvalidRoutePaths> {
        let default = RoutePaths::default();
        let paths = RoutePaths {
            visit: visit.unwrap_or(default.visit),
            inbox: inbox.unwrap_or(default.inbox),
        };
        paths.check()?;
        Ok(paths)
    }

    /// Whether both templates are acceptable (a stored copy is checked again before use).
    pub fn check(&self) -> Result<(), InvalidRoutePaths> {
        check_template("visit", &self.visit)?;
        check_template("inbox", &self.inbox)?;
        if self.visit.matches(VISIT_ID_PLACEHOLDER).count() != 1 {
            return Err(InvalidRoutePaths(format!(
                "routes.visit must hold {VISIT_ID_PLACEHOLDER} exactly once"
            )));
        }
        Ok(())
    }

    /// The path a route leads to. Visit ids are checked ([`is_valid_visit_id`]) so they need
    /// no escaping; Approve / Reject add `action=approve|reject` to the query.
    pub fn path(&self, route: &Route) -> String {
        match route.url_parts() {
            Some((id, action)) => {
                let path = self.visit.replacen(VISIT_ID_PLACEHOLDER, id, 1);
                match action {
                    Some(action) => {
                        let joiner = if path.contains('?') { '&' } else { '?' };
                        format!("{path}{joiner}action={action}")
                    }
                    None => path,
                }
            }
            None => self.inbox.clone(),
        }
    }
}

/// True when `id` is safe to put into a path: 1 to 64 characters of `[A-Za-z0-9_-]`.
pub fn is_valid_visit_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_VISIT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Routes a parsed push payload; `action` is the id of the pressed button (`None` or `""` for
/// a tap on the notification itself).
///
/// A shell holding JSON text parses it into [`PushPayload`] itself and routes a parse failure to
/// [`Route::Inbox`]; the core stays free of a JSON parser to keep the wasm build small.
pub fn route(payload: &PushPayload, action: Option<&str>) -> Route {
    route_parts(&payload.kind, payload.visit_id.as_deref(), action)
}

/// Routes an FCM `data` map or a notification's `data` object: string pairs with the keys
/// `type` and `visitId` (other keys are ignored; the first occurrence of a key counts).
///
/// Takes any iterator of pairs, so a `HashMap<String, String>` (`&map`), the output of
/// [`PushPayload::data_pairs`] or `slice.iter().map(|(k, v)| (k, v))` all fit.
pub fn route_data<K, V>(data: impl IntoIterator<Item = (K, V)>, action: Option<&str>) -> Route
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut kind = None;
    let mut visit_id = None;
    for (k, v) in data {
        match k.as_ref() {
            "type" if kind.is_none() => kind = Some(NotificationType::parse(v.as_ref())),
            "visitId" if visit_id.is_none() => visit_id = Some(v.as_ref().to_owned()),
            _ => {}
        }
    }
    match kind {
        Some(kind) => route_parts(&kind, visit_id.as_deref(), action),
        None => Route::Inbox,
    }
}

/// The one routing rule both entry points share.
fn route_parts(kind: &NotificationType, visit_id: Option<&str>, action: Option<&str>) -> Route {
    let Some(id) = visit_id.filter(|id| is_valid_visit_id(id)) else {
        return Route::Inbox;
    };
    let visit_id = id.to_owned();
    // Only a walk-in awaits a decision; a button id on any other kind (or an unknown button) is
    // treated as a plain tap rather than acted on.
    match (kind, action) {
        (NotificationType::WalkinPending, Some(ACTION_APPROVE)) => Route::Approve { visit_id },
        (NotificationType::WalkinPending, Some(ACTION_REJECT)) => Route::Reject { visit_id },
        _ => Route::Visit { visit_id },
    }
}

impl Route {
    /// The visit this route is about, if any.
    pub fn visit_id(&self) -> Option<&str> {
        match self {
            Route::Visit { visit_id }
            | Route::Approve { visit_id }
            | Route::Reject { visit_id } => Some(visit_id),
            Route::Inbox => None,
        }
    }

    /// The web app's path with the default [`RoutePaths`]: `/visits/{id}`,
    /// `/visits/{id}?action=approve|reject`, or `/`.
    pub fn path(&self) -> String {
        RoutePaths::default().path(self)
    }

    /// The mobile deep link: `{scheme}://visits/{id}`, `…?action=approve|reject`, or
    /// `{scheme}://inbox`.
    pub fn deep_link(&self, scheme: &str) -> String {
        match self.url_parts() {
            Some((id, Some(action))) => format!("{scheme}://visits/{id}?action={action}"),
            Some((id, None)) => format!("{scheme}://visits/{id}"),
            None => format!("{scheme}://inbox"),
        }
    }

    /// For Approve / Reject, the API path to `POST` (`/api/v1/visits/{id}/approve` or
    /// `/reject`), so a service worker can answer without opening a window; `None` otherwise.
    pub fn api_call(&self) -> Option<String> {
        match self.url_parts() {
            Some((id, Some(action))) => Some(format!("/api/v1/visits/{id}/{action}")),
            _ => None,
        }
    }

    /// For Approve / Reject, the session-free call that answers the walk-in with the action
    /// token its push carried ([`paths::VISIT_DECISION`]); `None` for other routes and for a
    /// token that is empty, too long or not base64url (it came from outside).
    pub fn decision_call(&self, action_token: &str) -> Option<DecisionCall> {
        let token_ok = !action_token.is_empty()
            && action_token.len() <= MAX_ACTION_TOKEN_LEN
            && action_token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let (id, decision) = match self.url_parts()? {
            (id, Some(ACTION_APPROVE)) => (id, Decision::Approve),
            (id, Some(_)) => (id, Decision::Reject),
            (_, None) => return None,
        };
        token_ok.then(|| DecisionCall {
            path: paths::visit_decision(id),
            body: DecisionRequest {
                decision,
                action_token: action_token.to_owned(),
            },
        })
    }

    /// The id and action to put into a URL. The variants' fields are public, so a route built
    /// by hand is checked again here: an invalid id never reaches a URL, it falls back to Inbox.
    fn url_parts(&self) -> Option<(&str, Option<&'static str>)> {
        let action = match self {
            Route::Visit { .. } => None,
            Route::Approve { .. } => Some(ACTION_APPROVE),
            Route::Reject { .. } => Some(ACTION_REJECT),
            Route::Inbox => return None,
        };
        self.visit_id()
            .filter(|id| is_valid_visit_id(id))
            .map(|id| (id, action))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn payload(kind: NotificationType, visit_id: Option<&str>) -> PushPayload {
        PushPayload::new(
            kind,
            Some("n1".into()),
            visit_id.map(str::to_owned),
            "t".into(),
            "b".into(),
        )
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn visit(id: &str) -> Route {
        Route::Visit {
            visit_id: id.into(),
        }
    }

    #[test]
    fn walkin_tap_opens_the_visit() {
        let p = payload(NotificationType::WalkinPending, Some("v-1"));
        assert_eq!(route(&p, None), visit("v-1"));
        // Service workers report a tap on the body as the empty action.
        assert_eq!(route(&p, Some("")), visit("v-1"));
    }

    #[test]
    fn an_outcome_push_only_opens_the_visit() {
        // A stale Approve press on the replaced notification must not act.
        let p = payload(NotificationType::WalkinResolved, Some("v-1"));
        assert_eq!(route(&p, Some(ACTION_APPROVE)), visit("v-1"));
        assert_eq!(
            route_data(
                [("type", "walkin_resolved"), ("visitId", "v-1")],
                Some("reject")
            ),
            visit("v-1")
        );
    }

    #[test]
    fn a_decision_call_carries_the_token_to_the_decision_path() {
        let approve = Route::Approve {
            visit_id: "v-1".into(),
        };
        let call = approve.decision_call("tok_en-1").unwrap();
        assert_eq!(call.path, "/api/v1/visits/v-1/decision");
        assert_eq!(call.body.decision, Decision::Approve);
        assert_eq!(call.body.action_token, "tok_en-1");
        let reject = Route::Reject {
            visit_id: "v-1".into(),
        };
        assert_eq!(
            reject.decision_call("t").unwrap().body.decision,
            Decision::Reject
        );
        assert_eq!(
            serde_json::to_value(&call.body).unwrap(),
            serde_json::json!({"decision": "approve", "actionToken": "tok_en-1"})
        );
    }

    #[test]
    fn no_decision_call_without_a_decision_or_a_plausible_token() {
        assert_eq!(visit("v-1").decision_call("t"), None);
        assert_eq!(Route::Inbox.decision_call("t"), None);
        let approve = Route::Approve {
            visit_id: "v-1".into(),
        };
        assert_eq!(approve.decision_call(""), None);
        assert_eq!(approve.decision_call("a/b"), None);
        assert_eq!(approve.decision_call("a.b"), None);
        assert_eq!(approve.decision_call(&"a".repeat(129)), None);
        assert!(approve.decision_call(&"a".repeat(128)).is_some());
        // A hand-built route with an id unfit for a path never reaches one.
        let bad = Route::Approve {
            visit_id: "../x".into(),
        };
        assert_eq!(bad.decision_call("t"), None);
    }

    #[test]
    fn walkin_approve_button_routes_to_approve() {
        let p = payload(NotificationType::WalkinPending, Some("v-1"));
        assert_eq!(
            route(&p, Some(ACTION_APPROVE)),
            Route::Approve {
                visit_id: "v-1".into()
            }
        );
    }

    #[test]
    fn walkin_reject_button_routes_to_reject() {
        let p = payload(NotificationType::WalkinPending, Some("v-1"));
        assert_eq!(
            route(&p, Some(ACTION_REJECT)),
            Route::Reject {
                visit_id: "v-1".into()
            }
        );
    }

    #[test]
    fn unknown_action_on_a_walkin_opens_the_visit() {
        let p = payload(NotificationType::WalkinPending, Some("v-1"));
        assert_eq!(route(&p, Some("snooze")), visit("v-1"));
    }

    #[test]
    fn arrival_opens_the_visit_even_with_an_action() {
        let p = payload(NotificationType::VisitorArrived, Some("v-2"));
        assert_eq!(route(&p, None), visit("v-2"));
        assert_eq!(route(&p, Some(ACTION_APPROVE)), visit("v-2"));
    }

    #[test]
    fn unknown_type_with_a_visit_opens_the_visit() {
        let p = payload(NotificationType::Other("parcel".into()), Some("v-3"));
        assert_eq!(route(&p, Some(ACTION_REJECT)), visit("v-3"));
    }

    #[test]
    fn payload_without_a_visit_routes_to_inbox() {
        let p = payload(NotificationType::WalkinPending, None);
        assert_eq!(route(&p, Some(ACTION_APPROVE)), Route::Inbox);
        let p = payload(NotificationType::Other("news".into()), None);
        assert_eq!(route(&p, None), Route::Inbox);
    }

    #[test]
    fn invalid_visit_ids_route_to_inbox() {
        let long = "a".repeat(MAX_VISIT_ID_LEN + 1);
        for bad in [
            "",
            "../admin",
            "v1?action=approve",
            "v1/approve",
            "v 1",
            "v1#x",
            "v%2F1",
            "vïsit",
            long.as_str(),
        ] {
            let p = payload(NotificationType::WalkinPending, Some(bad));
            assert_eq!(route(&p, Some(ACTION_APPROVE)), Route::Inbox, "{bad:?}");
        }
    }

    #[test]
    fn visit_id_validation_accepts_uuids_and_the_length_limit() {
        assert!(is_valid_visit_id("0190f5a2-7c1e-7b3a-9d2e-0123456789ab"));
        assert!(is_valid_visit_id("A_z-9"));
        assert!(is_valid_visit_id(&"a".repeat(MAX_VISIT_ID_LEN)));
        assert!(!is_valid_visit_id(&"a".repeat(MAX_VISIT_ID_LEN + 1)));
    }

    #[test]
    fn data_map_routes_like_the_payload() {
        let p = payload(NotificationType::WalkinPending, Some("v-1"));
        assert_eq!(
            route_data(p.data_pairs(), Some(ACTION_REJECT)),
            route(&p, Some(ACTION_REJECT))
        );

        let data = pairs(&[("type", "walkin_pending"), ("visitId", "v-1")]);
        let from_slice = route_data(data.iter().map(|(k, v)| (k, v)), Some(ACTION_APPROVE));
        assert_eq!(
            from_slice,
            Route::Approve {
                visit_id: "v-1".into()
            }
        );

        let map: HashMap<String, String> = data.into_iter().collect();
        assert_eq!(route_data(&map, None), visit("v-1"));
    }

    #[test]
    fn data_map_without_a_type_routes_to_inbox() {
        let data = pairs(&[("visitId", "v-1")]);
        assert_eq!(
            route_data(data.iter().map(|(k, v)| (k, v)), None),
            Route::Inbox
        );
        assert_eq!(
            route_data(Vec::<(String, String)>::new(), None),
            Route::Inbox
        );
    }

    #[test]
    fn data_map_with_an_invalid_visit_id_routes_to_inbox() {
        let data = pairs(&[("type", "visitor_arrived"), ("visitId", "x/../../y")]);
        assert_eq!(
            route_data(data.iter().map(|(k, v)| (k, v)), None),
            Route::Inbox
        );
    }

    #[test]
    fn data_map_keeps_the_first_of_repeated_keys() {
        let data = pairs(&[
            ("type", "visitor_arrived"),
            ("visitId", "v-1"),
            ("type", "walkin_pending"),
            ("visitId", "v-2"),
        ]);
        assert_eq!(
            route_data(data.iter().map(|(k, v)| (k, v)), Some(ACTION_APPROVE)),
            visit("v-1")
        );
    }

    fn templates(visit: &str, inbox: &str) -> Result<RoutePaths, InvalidRoutePaths> {
        RoutePaths::new(Some(visit.into()), Some(inbox.into()))
    }

    #[test]
    fn route_templates_place_the_visit_and_the_action() {
        let paths = templates("/app/visit?id={visitId}", "/notifications").unwrap();
        let visit = Route::Visit {
            visit_id: "v-1".into(),
        };
        let approve = Route::Approve {
            visit_id: "v-1".into(),
        };
        assert_eq!(paths.path(&visit), "/app/visit?id=v-1");
        assert_eq!(paths.path(&approve), "/app/visit?id=v-1&action=approve");
        assert_eq!(paths.path(&Route::Inbox), "/notifications");
        let paths = templates("/v/{visitId}/detail", "/").unwrap();
        assert_eq!(
            paths.path(&Route::Reject {
                visit_id: "v-2".into()
            }),
            "/v/v-2/detail?action=reject"
        );
        // A hand-built route with a bad id still never reaches the URL.
        let bad = Route::Visit {
            visit_id: "../x".into(),
        };
        assert_eq!(paths.path(&bad), "/");
    }

    #[test]
    fn missing_templates_keep_the_defaults() {
        let paths = RoutePaths::new(None, Some("/inbox".into())).unwrap();
        assert_eq!(paths.visit, "/visits/{visitId}");
        assert_eq!(paths.path(&Route::Inbox), "/inbox");
        assert_eq!(RoutePaths::new(None, None).unwrap(), RoutePaths::default());
    }

    #[test]
    fn route_templates_stay_on_the_origin() {
        for (visit, inbox) in [
            ("https://evil.example/{visitId}", "/"),
            ("//evil.example/{visitId}", "/"),
            ("/\\evil.example/{visitId}", "/"),
            ("visits/{visitId}", "/"),
            ("/visits/{visitId}", "//evil.example"),
            ("/visits/{visitId}", "javascript:alert(1)"),
            ("/visits/{visitId}#x", "/"),
            ("/visits/ {visitId}", "/"),
            ("/visits/\n{visitId}", "/"),
        ] {
            assert!(templates(visit, inbox).is_err(), "{visit} {inbox}");
        }
        let long = format!("/{}{{visitId}}", "a".repeat(MAX_ROUTE_TEMPLATE_LEN));
        assert!(templates(&long, "/").is_err());
    }

    #[test]
    fn the_visit_template_names_the_visit_once() {
        let err = templates("/visits", "/").unwrap_err();
        assert!(err.0.contains("{visitId}"), "{err}");
        assert!(templates("/visits/{visitId}/{visitId}", "/").is_err());
    }

    #[test]
    fn visit_route_paths() {
        let r = visit("v-1");
        assert_eq!(r.path(), "/visits/v-1");
        assert_eq!(r.deep_link("gatebell"), "gatebell://visits/v-1");
        assert_eq!(r.api_call(), None);
        assert_eq!(r.visit_id(), Some("v-1"));
    }

    #[test]
    fn approve_route_paths() {
        let r = Route::Approve {
            visit_id: "v-1".into(),
        };
        assert_eq!(r.path(), "/visits/v-1?action=approve");
        assert_eq!(
            r.deep_link("gatebell"),
            "gatebell://visits/v-1?action=approve"
        );
        assert_eq!(r.api_call().as_deref(), Some("/api/v1/visits/v-1/approve"));
    }

    #[test]
    fn reject_route_paths() {
        let r = Route::Reject {
            visit_id: "v-1".into(),
        };
        assert_eq!(r.path(), "/visits/v-1?action=reject");
        assert_eq!(
            r.deep_link("gatebell"),
            "gatebell://visits/v-1?action=reject"
        );
        assert_eq!(r.api_call().as_deref(), Some("/api/v1/visits/v-1/reject"));
    }

    #[test]
    fn inbox_route_paths() {
        let r = Route::Inbox;
        assert_eq!(r.path(), "/");
        assert_eq!(r.deep_link("gatebell"), "gatebell://inbox");
        assert_eq!(r.api_call(), None);
        assert_eq!(r.visit_id(), None);
    }

    #[test]
    fn hand_built_route_with_a_bad_id_never_reaches_a_url() {
        let r = Route::Approve {
            visit_id: "../../admin".into(),
        };
        assert_eq!(r.path(), "/");
        assert_eq!(r.deep_link("gatebell"), "gatebell://inbox");
        assert_eq!(r.api_call(), None);
    }

    #[test]
    fn route_serialises_for_javascript() {
        let json = serde_json::to_value(Route::Approve {
            visit_id: "v-1".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"route": "approve", "visitId": "v-1"})
        );
        let json = serde_json::to_value(Route::Inbox).unwrap();
        assert_eq!(json, serde_json::json!({"route": "inbox"}));
    }
}
