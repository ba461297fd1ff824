//! [`notify_user`]: the one way a notification is made, which also queues its pushes in the
//! same transaction (the outbox).

use gatebell_core::protocol::{NotificationType, PushAnswers, PushPayload};

use crate::db::queue::Urgency;
use crate::db::{self, Tx, new_id, now_ms};
use crate::error::{ApiError, ApiResult};

/// Queues a push about an existing notification of `user_id` (the outcome of a walk-in it
/// asked about) on every device of theirs but those of `except_session`, inside `tx`; returns
/// how many. With the visit's tag
/// (Web Push `Topic`, FCM collapse key, APNs collapse id) it replaces the earlier push on the
/// device, and at the push service when that one is still waiting.
pub async fn push_about(
    tx: &mut Tx,
    user_id: &str,
    notification_id: &str,
    payload: &PushPayload,
    ttl_ms: i64,
    except_session: Option<&str>,
) -> ApiResult<u32> {
    let now = now_ms();
    let json = crate::channels::payload::encode(payload).map_err(ApiError::validation)?;
    let n = db::outbox::enqueue(
        tx,
        db::outbox::NewPushes {
            job_prefix: &new_id(),
            notification_id,
            user_id,
            payload_json: &json,
            now,
            expires_at: now + ttl_ms,
            except_session,
            urgency: urgency(&payload.kind),
        },
    )
    .await?;
    Ok(n)
}

/// A notification to record and push.
pub struct NewNotification<'a> {
    pub user_id: &'a str,
    pub kind: NotificationType,
    pub title: String,
    pub body: String,
    pub visit_id: Option<&'a str>,
    /// How long its pushes may still be delivered.
    pub ttl_ms: i64,
    /// The recipient's action token, carried by the push ([`PushPayload::action_token`]).
    pub action_token: Option<String>,
    /// Whether to push it (false when the recipient turned push off for its event type: the
    /// inbox entry is still made).
    pub push: bool,
    /// A walk-in's button labels and outcome lines in the recipient's language (English
    /// labels and no outcome lines when None).
    pub words: Option<Words>,
}

/// The words of a walk-in's push beside its title and body, in its recipient's language.
pub struct Words {
    pub approve: String,
    pub reject: String,
    pub answers: PushAnswers,
}

/// What [`notify_user`] recorded.
pub struct Notified {
    pub notification_id: String,
    /// Pushes queued (one per device of the user).
    pub pushes: u32,
}

/// Records a notification and queues one push per device of the user, inside `tx`. The caller
/// commits and then wakes the dispatcher ([`crate::outbox::push::PushHandle::wake`]).
pub async fn notify_user(tx: &mut Tx, n: NewNotification<'_>) -> ApiResult<Notified> {
    let id = new_id();
    let now = now_ms();
    let payload = PushPayload::new(
        n.kind.clone(),
        Some(id.clone()),
        n.visit_id.map(str::to_owned),
        n.title.clone(),
        n.body.clone(),
    )
    .with_action_token(n.action_token);
    let payload = match n.words {
        Some(w) => payload.in_words(w.approve, w.reject, w.answers),
        None => payload,
    };
    let payload_json = crate::channels::payload::encode(&payload).map_err(ApiError::validation)?;
    db::notifications::insert(
        tx,
        db::notifications::NotificationRow {
            id: &id,
            user_id: n.user_id,
            kind: &n.kind,
            title: &n.title,
            body: &n.body,
            visit_id: n.visit_id,
            created_at: now,
        },
    )
    .await?;
    let pushes = if n.push {
        db::outbox::enqueue(
            tx,
            db::outbox::NewPushes {
                job_prefix: &id,
                notification_id: &id,
                user_id: n.user_id,
                payload_json: &payload_json,
                now,
                expires_at: now + n.ttl_ms,
                except_session: None,
                urgency: urgency(&n.kind),
            },
        )
        .await?
    } else {
        0
    };
    Ok(Notified {
        notification_id: id,
        pushes,
    })
}

/// How urgent a notification's pushes are: a walk-in waiting at the gate and its outcome
/// first, then an arrival, then the rest (the backend's notices).
pub fn urgency(kind: &NotificationType) -> Urgency {
    match kind {
        NotificationType::WalkinPending | NotificationType::WalkinResolved => Urgency::Gate,
        NotificationType::VisitorArrived => Urgency::Arrival,
        NotificationType::Other(_) => Urgency::Bulk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_first_then_arrivals_then_the_rest() {
        assert_eq!(urgency(&NotificationType::WalkinPending), Urgency::Gate);
        assert_eq!(urgency(&NotificationType::WalkinResolved), Urgency::Gate);
        assert_eq!(urgency(&NotificationType::VisitorArrived), Urgency::Arrival);
        assert_eq!(
            urgency(&NotificationType::Other("parcel_arrived".into())),
            Urgency::Bulk
        );
        assert!(Urgency::Gate < Urgency::Arrival && Urgency::Arrival < Urgency::Bulk);
    }
}
