//! Where a tapped notification leads: the core's routing, over the FCM `data` map.

use std::collections::HashMap;

use gatebell_core::routing as core;

/// Where the app should go after a notification was tapped.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Route {
    /// Open the visit's detail screen.
    Visit { visit_id: String },
    /// Approve a pending walk-in (the Approve action was pressed).
    Approve { visit_id: String },
    /// Reject a pending walk-in (the Reject action was pressed).
    Reject { visit_id: String },
    /// Open the inbox: the fallback for anything that names no valid visit.
    Inbox,
}

impl From<core::Route> for Route {
    fn from(route: core::Route) -> Route {
        match route {
            core::Route::Visit { visit_id } => Route::Visit { visit_id },
            core::Route::Approve { visit_id } => Route::Approve { visit_id },
            core::Route::Reject { visit_id } => Route::Reject { visit_id },
            core::Route::Inbox => Route::Inbox,
        }
    }
}

impl From<Route> for core::Route {
    fn from(route: Route) -> core::Route {
        match route {
            Route::Visit { visit_id } => core::Route::Visit { visit_id },
            Route::Approve { visit_id } => core::Route::Approve { visit_id },
            Route::Reject { visit_id } => core::Route::Reject { visit_id },
            Route::Inbox => core::Route::Inbox,
        }
    }
}

/// Routes a notification's `data` map (`type`, `visitId`; other keys are ignored) and the id
/// of the pressed action (`approve`, `reject`), or none for a tap on the notification.
#[uniffi::export]
pub fn route_for(data: HashMap<String, String>, action: Option<String>) -> Route {
    core::route_data(&data, action.as_deref()).into()
}

/// The deep link of a route: `{scheme}://visits/{id}`, `…?action=approve|reject`, or
/// `{scheme}://inbox`.
#[uniffi::export]
pub fn route_deep_link(route: Route, scheme: String) -> String {
    core::Route::from(route).deep_link(&scheme)
}

/// For Approve / Reject, the API path to `POST` (`/api/v1/visits/{id}/approve`); none otherwise.
#[uniffi::export]
pub fn route_api_path(route: Route) -> Option<String> {
    core::Route::from(route).api_call()
}

/// An Approve / Reject answered with the action token a walk-in's push carried (its `data`
/// map's `actionToken`): `POST` `body` to `path` with no `Authorization`, so it works after the
/// app's sign-in (a backend's short-lived JWT) has expired.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DecisionCall {
    pub path: String,
    /// The JSON body.
    pub body: String,
}

/// The session-free call for Approve / Reject with `action_token`; none for other routes or a
/// token that is not plausible.
#[uniffi::export]
pub fn route_decision_call(route: Route, action_token: String) -> Option<DecisionCall> {
    let call = core::Route::from(route).decision_call(&action_token)?;
    Some(DecisionCall {
        path: call.path,
        body: serde_json::to_string(&call.body).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_call_carries_the_token_as_json() {
        let call = route_decision_call(
            Route::Reject {
                visit_id: "v-1".into(),
            },
            "tok".into(),
        )
        .unwrap();
        assert_eq!(call.path, "/api/v1/visits/v-1/decision");
        assert_eq!(call.body, r#"{"decision":"reject","actionToken":"tok"}"#);
        assert_eq!(
            route_decision_call(
                Route::Visit {
                    visit_id: "v-1".into()
                },
                "tok".into()
            ),
            None
        );
    }
}
