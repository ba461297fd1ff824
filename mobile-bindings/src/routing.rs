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
