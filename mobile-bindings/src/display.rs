//! What the app shows for an FCM message it draws itself (Android walk-ins and their outcome,
//! which the server sends data-only so that the app can add Approve / Reject), and the channel
//! and category the app sets up once.

use std::collections::HashMap;

use gatebell_core::protocol::{
    ACTION_APPROVE, ACTION_REJECT, ANDROID_CHANNEL_ID, ErrorBody, IOS_WALKIN_CATEGORY,
    NotificationType, PushPayload, Visit,
};

use crate::host::HttpResponse;
use crate::routing::Route;

/// A button on a notification.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NotificationAction {
    /// `approve` or `reject`: give it back to `routeFor` when pressed.
    pub id: String,
    pub title: String,
}

/// A notification for the app to display (with notifee, `NotificationCompat`, …).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NotificationContent {
    /// Display it under this id: a later message about the same visit (its outcome) replaces it.
    pub id: String,
    pub title: String,
    pub body: String,
    /// Android channel ([`NotificationSetup::android_channel_id`]).
    pub android_channel_id: String,
    /// iOS category: `WALKIN_PENDING` for a walk-in, whose actions the app registered.
    pub ios_category_id: Option<String>,
    /// Approve / Reject for a walk-in; empty otherwise.
    pub actions: Vec<NotificationAction>,
    /// Attach to the notification: `routeFor(data, pressedActionId)` and the action token
    /// (`actionToken`) come back from it when it is pressed.
    pub data: HashMap<String, String>,
}

/// The Android channel and iOS category the app creates at start, before any message arrives.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NotificationSetup {
    /// `visitors`: create it with high importance (heads-up) and sound.
    pub android_channel_id: String,
    pub android_channel_name: String,
    /// `WALKIN_PENDING`.
    pub ios_walkin_category_id: String,
    /// Approve and Reject, for the iOS category (Android puts them on each notification).
    pub walkin_actions: Vec<NotificationAction>,
}

/// The channel, category and actions Gatebell's messages name.
#[uniffi::export]
pub fn notification_setup() -> NotificationSetup {
    NotificationSetup {
        android_channel_id: ANDROID_CHANNEL_ID.into(),
        android_channel_name: "Visitors".into(),
        ios_walkin_category_id: IOS_WALKIN_CATEGORY.into(),
        walkin_actions: vec![
            NotificationAction {
                id: ACTION_APPROVE.into(),
                title: "Approve".into(),
            },
            NotificationAction {
                id: ACTION_REJECT.into(),
                title: "Reject".into(),
            },
        ],
    }
}

/// The notification to draw for an FCM message's `data`, or none when the message is not one
/// the app draws: another sender's, or one the system already shows (it has no `title` and
/// `body` in its data — iOS alerts, check-ins).
#[uniffi::export]
pub fn notification_content(data: HashMap<String, String>) -> Option<NotificationContent> {
    let kind = NotificationType::parse(data.get("type")?);
    let title = data.get("title").filter(|t| !t.is_empty())?.clone();
    let body = data.get("body")?.clone();
    let payload = PushPayload::new(
        kind,
        data.get("notificationId").cloned(),
        data.get("visitId").cloned(),
        title,
        body,
    )
    .with_action_token(data.get("actionToken").cloned())
    .with_words_from(|k| data.get(k).cloned());
    let id = payload
        .tag
        .clone()
        .or_else(|| payload.notification_id.clone())
        .unwrap_or_else(|| format!("gatebell-{}", payload.kind));
    let ios_category_id = (!payload.actions.is_empty()).then(|| IOS_WALKIN_CATEGORY.to_owned());
    let actions = payload
        .actions
        .iter()
        .map(|a| NotificationAction {
            id: a.action.clone(),
            title: a.title.clone(),
        })
        .collect();
    let data = payload
        .data_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    Some(NotificationContent {
        id,
        title: payload.title,
        body: payload.body,
        android_channel_id: ANDROID_CHANNEL_ID.into(),
        ios_category_id,
        actions,
        data,
    })
}

/// What the phone shows once an Approve / Reject press was sent: `answer` is the server's
/// reply, or none when there was no connection. A success shows the outcome ("Ravi: Approved")
/// in place of the question (same id, no buttons); a failure says why (the 409's "decided
/// already … by Arjun", a 403, no connection), also in its place, and a tap on either opens
/// the visit. None for a route that is not a decision.
///
/// The server does not push the outcome to the decider (their phone already knows it), so
/// this is the only thing that takes the question away on the phone that answered.
#[uniffi::export]
pub fn decision_notification(
    route: Route,
    answer: Option<HttpResponse>,
) -> Option<NotificationContent> {
    let (visit_id, verb, failed) = match route {
        Route::Approve { visit_id } => (visit_id, "Approved", "Could not approve"),
        Route::Reject { visit_id } => (visit_id, "Rejected", "Could not reject"),
        Route::Visit { .. } | Route::Inbox => return None,
    };
    let (title, body) = match answer {
        Some(answer) if (200..300).contains(&answer.status) => {
            let visit = serde_json::from_str::<Visit>(&answer.body).ok();
            let outcome = match visit.as_ref().and_then(|v| v.decided_by.as_deref()) {
                Some(by) => format!("{verb} by {by}"),
                None => verb.to_owned(),
            };
            let body = match &visit {
                Some(v) => format!("{}: {outcome}", v.visitor_name),
                None => outcome,
            };
            ("Visitor at the gate".to_owned(), body)
        }
        Some(answer) => {
            let reason = serde_json::from_str::<ErrorBody>(&answer.body)
                .map(|e| e.error.message)
                .unwrap_or_else(|_| format!("the server answered {}", answer.status));
            (failed.to_owned(), capitalised(&reason))
        }
        None => (
            failed.to_owned(),
            "No connection: the answer was not sent. Open the visit to try again.".to_owned(),
        ),
    };
    notification_content(HashMap::from([
        (
            "type".to_owned(),
            NotificationType::WalkinResolved.to_string(),
        ),
        ("visitId".to_owned(), visit_id),
        ("title".to_owned(), title),
        ("body".to_owned(), body),
    ]))
}

/// `text` with its first letter in upper case (server messages start in lower case).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_data_only_walkin_is_drawn_with_approve_and_reject_under_its_visit_tag() {
        let shown = notification_content(map(&[
            ("type", "walkin_pending"),
            ("visitId", "0190-v"),
            ("notificationId", "n-1"),
            ("actionToken", "tok"),
            ("title", "Visitor at the gate"),
            ("body", "Ravi is at the gate"),
        ]))
        .unwrap();
        assert_eq!(shown.id, "visit-0190-v");
        assert_eq!(shown.title, "Visitor at the gate");
        assert_eq!(shown.android_channel_id, "visitors");
        assert_eq!(shown.ios_category_id.as_deref(), Some("WALKIN_PENDING"));
        let ids: Vec<&str> = shown.actions.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["approve", "reject"]);
        assert_eq!(
            shown.data,
            map(&[
                ("type", "walkin_pending"),
                ("visitId", "0190-v"),
                ("notificationId", "n-1"),
                ("actionToken", "tok"),
            ])
        );
    }

    #[test]
    fn an_outcome_replaces_the_walkin_and_has_no_buttons() {
        let shown = notification_content(map(&[
            ("type", "walkin_resolved"),
            ("visitId", "0190-v"),
            ("title", "Visitor at the gate"),
            ("body", "Approved by Asha"),
        ]))
        .unwrap();
        assert_eq!(shown.id, "visit-0190-v");
        assert!(shown.actions.is_empty());
        assert_eq!(shown.ios_category_id, None);
    }

    #[test]
    fn messages_the_system_shows_or_another_sender_sent_are_not_drawn() {
        // iOS alert / check-in: no text in data.
        assert_eq!(
            notification_content(map(&[("type", "walkin_pending"), ("visitId", "v")])),
            None
        );
        assert_eq!(
            notification_content(map(&[("title", "x"), ("body", "y")])),
            None
        );
    }

    fn approve(visit_id: &str) -> Route {
        Route::Approve {
            visit_id: visit_id.into(),
        }
    }

    #[test]
    fn a_decision_that_succeeded_replaces_the_question_with_its_outcome() {
        let visit = r#"{"id":"0190-v","visitorName":"Ravi","hostId":"h","hostName":"Asha",
            "kind":"walkin","status":"APPROVED","createdAt":1,"decidedBy":"Asha"}"#;
        let shown = decision_notification(
            approve("0190-v"),
            Some(HttpResponse {
                status: 200,
                body: visit.into(),
            }),
        )
        .unwrap();
        assert_eq!(
            shown.id, "visit-0190-v",
            "the walk-in's own id: it replaces it"
        );
        assert_eq!(shown.body, "Ravi: Approved by Asha");
        assert!(shown.actions.is_empty());
        assert_eq!(
            route_for_data(&shown.data),
            Route::Visit {
                visit_id: "0190-v".into()
            }
        );
    }

    #[test]
    fn a_decision_that_failed_says_why_and_opens_the_visit() {
        let conflict = r#"{"error":{"code":"conflict","message":"this visit was decided already: it is APPROVED by Arjun"}}"#;
        let shown = decision_notification(
            Route::Reject {
                visit_id: "0190-v".into(),
            },
            Some(HttpResponse {
                status: 409,
                body: conflict.into(),
            }),
        )
        .unwrap();
        assert_eq!(shown.id, "visit-0190-v");
        assert_eq!(shown.title, "Could not reject");
        assert_eq!(
            shown.body,
            "This visit was decided already: it is APPROVED by Arjun"
        );
        let offline = decision_notification(approve("0190-v"), None).unwrap();
        assert_eq!(offline.title, "Could not approve");
        assert!(offline.body.starts_with("No connection"));
        assert_eq!(
            route_for_data(&offline.data),
            Route::Visit {
                visit_id: "0190-v".into()
            }
        );
        assert_eq!(decision_notification(Route::Inbox, None), None);
    }

    fn route_for_data(data: &HashMap<String, String>) -> Route {
        crate::routing::route_for(data.clone(), None)
    }
}
