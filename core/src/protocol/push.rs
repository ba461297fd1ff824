//! What a push carries, and the limits and names the push services and apps share.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use super::NotificationType;
#[cfg(doc)]
use super::paths;

/// Largest Web Push plaintext that fits one aes128gcm record (RFC 8291, 4096-byte record).
pub const MAX_WEB_PUSH_PLAINTEXT: usize = 3993;
/// Largest FCM message payload.
pub const MAX_FCM_PAYLOAD: usize = 4096;
/// Action id of the Approve button on a walk-in notification.
pub const ACTION_APPROVE: &str = "approve";
/// Action id of the Reject button on a walk-in notification.
pub const ACTION_REJECT: &str = "reject";
/// The Android notification channel Gatebell's FCM messages name (`android.notification.channel_id`)
/// and the app creates with high importance, so a visitor comes as a heads-up banner.
pub const ANDROID_CHANNEL_ID: &str = "visitors";
/// The iOS notification category of a walk-in (`aps.category`): the app registers it with the
/// Approve and Reject actions ([`ACTION_APPROVE`], [`ACTION_REJECT`]).
pub const IOS_WALKIN_CATEGORY: &str = "WALKIN_PENDING";

/// The FCM `data` key of an encrypted payload: the base64url (unpadded) RFC 8291 `aes128gcm`
/// body whose plaintext is the [`PushPayload`] JSON.
pub const ENCRYPTED_DATA_KEY: &str = "encrypted";

/// A button on a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PushAction {
    /// `approve` or `reject`.
    pub action: String,
    pub title: String,
}

/// What a walk-in's notification says once Approve / Reject on it succeeded, written by the
/// server in the recipient's language, so no client needs a catalog of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PushAnswers {
    /// "Approved — Ravi may enter".
    pub approved: String,
    /// "Rejected".
    pub rejected: String,
}

/// The value of a Gatebell payload's `gatebell` field; payloads without it are another
/// provider's.
pub const PAYLOAD_FORMAT: u32 = 1;

/// What every push carries: the Web Push plaintext, and the FCM `data` (as strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PushPayload {
    /// The marker of a Gatebell push ([`PAYLOAD_FORMAT`]): a service worker shared with other
    /// push providers shows only payloads that carry it and leaves the rest to the app.
    #[serde(rename = "gatebell", default)]
    pub format: u32,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ts", ts(type = "NotificationType"))]
    pub kind: NotificationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    pub title: String,
    pub body: String,
    /// Notifications with the same tag replace each other: one per visit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<PushAction>,
    /// On a walk-in's push: the recipient's single-use token for `POST`
    /// [`paths::VISIT_DECISION`], so Approve / Reject work without a valid sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_token: Option<String>,
    /// On a walk-in's push: the outcome lines in the recipient's language; a client without
    /// them writes English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<PushAnswers>,
}

impl PushPayload {
    /// Builds the payload for a notification: tag per visit, Approve / Reject for walk-ins.
    pub fn new(
        kind: NotificationType,
        notification_id: Option<String>,
        visit_id: Option<String>,
        title: String,
        body: String,
    ) -> PushPayload {
        let tag = visit_id.as_deref().map(visit_tag);
        let actions = if kind == NotificationType::WalkinPending && visit_id.is_some() {
            vec![
                PushAction {
                    action: ACTION_APPROVE.into(),
                    title: "Approve".into(),
                },
                PushAction {
                    action: ACTION_REJECT.into(),
                    title: "Reject".into(),
                },
            ]
        } else {
            Vec::new()
        };
        PushPayload {
            format: PAYLOAD_FORMAT,
            kind,
            visit_id,
            notification_id,
            title,
            body,
            tag,
            actions,
            action_token: None,
            answers: None,
        }
    }

    /// The payload in the recipient's words: the Approve / Reject labels (when it has those
    /// buttons) and the outcome lines.
    pub fn in_words(
        mut self,
        approve: String,
        reject: String,
        answers: PushAnswers,
    ) -> PushPayload {
        for action in &mut self.actions {
            action.title = if action.action == ACTION_APPROVE {
                approve.clone()
            } else {
                reject.clone()
            };
        }
        if !self.actions.is_empty() {
            self.answers = Some(answers);
        }
        self
    }

    /// The payload with the recipient's action token ([`PushPayload::action_token`]).
    pub fn with_action_token(mut self, token: Option<String>) -> PushPayload {
        self.action_token = token;
        self
    }

    /// The payload with the words an FCM `data` map carries (`approveTitle`, `rejectTitle`,
    /// `approved`, `rejected`, as [`PushPayload::data_pairs`] writes them); unchanged when any
    /// is missing.
    pub fn with_words_from(self, get: impl Fn(&str) -> Option<String>) -> PushPayload {
        match (
            get("approveTitle"),
            get("rejectTitle"),
            get("approved"),
            get("rejected"),
        ) {
            (Some(approve), Some(reject), Some(approved), Some(rejected)) => {
                self.in_words(approve, reject, PushAnswers { approved, rejected })
            }
            _ => self,
        }
    }

    /// The FCM `data` map: `type` and `visitId` (and the notification id, the action token, and
    /// a walk-in's words in the recipient's language), all strings.
    pub fn data_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("type", self.kind.as_str().to_owned())];
        if let Some(v) = &self.visit_id {
            pairs.push(("visitId", v.clone()));
        }
        if let Some(n) = &self.notification_id {
            pairs.push(("notificationId", n.clone()));
        }
        if let Some(t) = &self.action_token {
            pairs.push(("actionToken", t.clone()));
        }
        if let Some(answers) = &self.answers {
            for action in &self.actions {
                let key = if action.action == ACTION_APPROVE {
                    "approveTitle"
                } else {
                    "rejectTitle"
                };
                pairs.push((key, action.title.clone()));
            }
            pairs.push(("approved", answers.approved.clone()));
            pairs.push(("rejected", answers.rejected.clone()));
        }
        pairs
    }
}

/// The notification tag (and Web Push `Topic`, FCM collapse key) of a visit.
pub fn visit_tag(visit_id: &str) -> String {
    format!("visit-{visit_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walkin_payload_has_approve_and_reject_and_a_visit_tag() {
        let p = PushPayload::new(
            NotificationType::WalkinPending,
            Some("n1".into()),
            Some("v1".into()),
            "Visitor at the gate".into(),
            "Ravi is at the gate. Approve or reject?".into(),
        );
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["gatebell"], 1, "the marker a shared worker looks for");
        assert_eq!(json["type"], "walkin_pending");
        assert_eq!(json["visitId"], "v1");
        assert_eq!(json["tag"], "visit-v1");
        assert_eq!(json["actions"][0]["action"], "approve");
        assert_eq!(json["actions"][1]["action"], "reject");
    }

    #[test]
    fn a_walkins_words_travel_in_fcm_data_and_come_back() {
        let p = PushPayload::new(
            NotificationType::WalkinPending,
            None,
            Some("v1".into()),
            "गेट पर आगंतुक".into(),
            "रवि गेट पर हैं।".into(),
        )
        .in_words(
            "अनुमति दें".into(),
            "मना करें".into(),
            PushAnswers {
                approved: "अनुमति दी".into(),
                rejected: "मना किया".into(),
            },
        );
        let data: std::collections::HashMap<&str, String> = p.data_pairs().into_iter().collect();
        assert_eq!(data["approveTitle"], "अनुमति दें");
        assert_eq!(data["rejected"], "मना किया");
        let again = PushPayload::new(
            NotificationType::WalkinPending,
            None,
            Some("v1".into()),
            p.title.clone(),
            p.body.clone(),
        )
        .with_words_from(|k| data.get(k).cloned());
        assert_eq!(again, p);
        // Without them (an older server), English labels and no outcome lines.
        let plain = PushPayload::new(
            NotificationType::WalkinPending,
            None,
            Some("v1".into()),
            "t".into(),
            "b".into(),
        )
        .with_words_from(|_| None);
        assert_eq!(plain.actions[0].title, "Approve");
        assert_eq!(plain.answers, None);
    }

    #[test]
    fn arrival_payload_has_no_actions() {
        let p = PushPayload::new(
            NotificationType::VisitorArrived,
            None,
            Some("v2".into()),
            "t".into(),
            "b".into(),
        );
        let json = serde_json::to_value(&p).unwrap();
        assert!(json.get("actions").is_none());
        assert_eq!(
            p.data_pairs(),
            vec![("type", "visitor_arrived".into()), ("visitId", "v2".into())]
        );
    }
}
