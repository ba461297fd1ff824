//! What happens to a visit: announcing an arrival or a walk-in to its household (inbox
//! entries, pushes, texts and emails in the transaction that records it), recording a
//! decision (first answer wins), and telling everyone how a walk-in ended.

use gatebell_core::protocol::{
    NotificationType, PushAnswers, PushPayload, Visit, VisitDecided, VisitKind, VisitStatus,
};

use crate::db::{self, Db, Tx, now_ms};
use crate::domain::Rules;
use crate::domain::checks::optional_text;
use crate::domain::notifications::{NewNotification, Words, notify_user, push_about};
use crate::domain::sessions::{hash_token, random_token};
use crate::error::{ApiError, ApiResult};
use crate::texts::Language;

pub async fn load_visit(tx: &mut Tx, id: &str) -> ApiResult<Visit> {
    db::visits::get_in_tx(tx, id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found("no such visit"))
}

/// A visitor's phone number: digits, spaces and `+ - ( )`.
pub fn phone(p: Option<&str>) -> ApiResult<Option<String>> {
    let p = optional_text("phone", p, 32)?;
    if let Some(p) = &p
        && !p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
    {
        return Err(ApiError::validation(
            "phone may hold only digits, spaces and + - ( )",
        ));
    }
    Ok(p)
}

/// Tells an arrived visitor's host, inside `tx`: the inbox entry, and the pushes, text and
/// email per the host's channels for check-ins.
pub async fn announce_arrival(tx: &mut Tx, rules: Rules<'_>, visit: &Visit) -> ApiResult<()> {
    let contact = db::accounts::contact_in_tx(tx, &visit.host_id).await?;
    let push = contact
        .as_ref()
        .is_none_or(|c| c.channels.visitor_arrived.push);
    if let Some(contact) = &contact {
        crate::domain::escalation::queue_arrival(tx, rules, visit, contact, now_ms())
            .await
            .map_err(ApiError::Internal)?;
    }
    let language = Language::stored(contact.as_ref().and_then(|c| c.language.as_deref()));
    notify_user(
        tx,
        NewNotification {
            user_id: &visit.host_id,
            kind: NotificationType::VisitorArrived,
            title: language.text("arrival-title"),
            body: language.text_with("arrival-body", &[("name", (&visit.visitor_name).into())]),
            visit_id: Some(&visit.id),
            ttl_ms: rules.config.checkin_ttl_ms(),
            action_token: None,
            words: None,
            push,
        },
    )
    .await?;
    Ok(())
}

/// Asks a walk-in's household to decide, inside `tx`: the host and (per the unit's setting)
/// every other resident of the unit get the inbox entry and its pushes, each push carrying that
/// recipient's single-use action token (valid until the walk-in expires). Returns who was
/// asked, for `AppState::after_notify`.
pub async fn announce_walkin(
    tx: &mut Tx,
    rules: Rules<'_>,
    visit: &Visit,
    now: i64,
) -> ApiResult<Vec<String>> {
    let asked = db::visits::household_in_tx(tx, &visit.host_id).await?;
    db::visits::grant_rights(tx, &visit.id, &asked, now).await?;
    for user_id in &asked {
        let contact = db::accounts::contact_in_tx(tx, user_id).await?;
        let push = contact
            .as_ref()
            .is_none_or(|c| c.channels.walkin_pending.push);
        let language = Language::stored(contact.as_ref().and_then(|c| c.language.as_deref()));
        let name = (&visit.visitor_name).into();
        let body = match &visit.purpose {
            Some(purpose) => language.text_with(
                "walkin-body-purpose",
                &[("name", name), ("purpose", purpose.into())],
            ),
            None => language.text_with("walkin-body", &[("name", name)]),
        };
        let token = random_token(32);
        db::action_tokens::insert(
            tx,
            &hash_token(&token),
            &visit.id,
            user_id,
            now + rules.config.walkin_expiry_ms(),
        )
        .await?;
        notify_user(
            tx,
            NewNotification {
                user_id,
                kind: NotificationType::WalkinPending,
                title: language.text("walkin-title"),
                body,
                visit_id: Some(&visit.id),
                ttl_ms: rules.config.walkin_ttl_ms(),
                action_token: Some(token),
                words: Some(Words {
                    approve: language.text("action-approve"),
                    reject: language.text("action-reject"),
                    answers: PushAnswers {
                        approved: language.text_with("answered-approved", &[("name", name)]),
                        rejected: language.text("answered-rejected"),
                    },
                }),
                push,
            },
        )
        .await?;
    }
    Ok(asked)
}

/// How a walk-in ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    Approved { by: &'a str },
    Rejected { by: &'a str },
    Expired,
}

impl Outcome<'_> {
    /// "Ravi: Approved by Asha", in `language`.
    fn line(&self, language: &Language, visit: &Visit) -> String {
        let outcome = match self {
            Outcome::Approved { by } => {
                language.text_with("outcome-approved-by", &[("by", (*by).into())])
            }
            Outcome::Rejected { by } => {
                language.text_with("outcome-rejected-by", &[("by", (*by).into())])
            }
            Outcome::Expired => language.text("outcome-expired"),
        };
        language.text_with(
            "outcome",
            &[
                ("name", (&visit.visitor_name).into()),
                ("outcome", (&outcome).into()),
            ],
        )
    }
}

/// Tells everyone a walk-in asked how it ended, inside `tx`: their inbox entry shows the
/// outcome in their language (and is marked read), and a push with the visit's tag replaces
/// the walk-in's notification on each of their devices — the decider's other sessions
/// included — but the devices of `deciding_session`, which already show the answer given
/// there. Returns who was told.
pub async fn resolve_walkin(
    tx: &mut Tx,
    rules: Rules<'_>,
    visit: &Visit,
    outcome: Outcome<'_>,
    deciding_session: Option<&str>,
) -> ApiResult<Vec<String>> {
    let english = outcome.line(&Language::english(), visit);
    let entries = db::notifications::resolve_walkin(tx, &visit.id, &english).await?;
    let mut told = Vec::with_capacity(entries.len());
    for (notification_id, user_id) in entries {
        let language =
            Language::stored(db::accounts::language_in_tx(tx, &user_id).await?.as_deref());
        let body = if language == Language::english() {
            english.clone()
        } else {
            let body = outcome.line(&language, visit);
            db::notifications::set_body(tx, &notification_id, &body).await?;
            body
        };
        let payload = PushPayload::new(
            NotificationType::WalkinResolved,
            Some(notification_id.clone()),
            Some(visit.id.clone()),
            language.text("walkin-title"),
            body,
        );
        push_about(
            tx,
            &user_id,
            &notification_id,
            &payload,
            rules.config.walkin_ttl_ms(),
            deciding_session,
        )
        .await?;
        told.push(user_id);
    }
    Ok(told)
}

/// Records `by`'s decision on a pending walk-in inside `tx`, with its effects: everyone the
/// walk-in asked is told the outcome (inbox entry and a replacing push, but not on the devices
/// of `session`, the one that decided), the backend's webhook is queued. The decision
/// statement itself requires that `by` was asked, is an enabled resident of the unit they were
/// asked for, and that the walk-in has not expired. The first decision wins: a later one is a
/// 409 naming the outcome and who decided. Call `AppState::after_resolution` once committed.
pub async fn record_decision(
    tx: &mut Tx,
    rules: Rules<'_>,
    id: &str,
    to: VisitStatus,
    by: &str,
    session: Option<&str>,
    now: i64,
) -> ApiResult<Decided> {
    let visit = load_visit(tx, id).await?;
    if visit.kind != VisitKind::Walkin {
        return Err(ApiError::Conflict(
            "only walk-ins are approved or rejected".into(),
        ));
    }
    let decided_already = |v: &Visit| {
        let who = v
            .decided_by
            .as_deref()
            .map(|n| format!(" by {n}"))
            .unwrap_or_default();
        ApiError::Conflict(format!(
            "this visit was decided already: it is {}{who}",
            v.status.as_str()
        ))
    };
    if visit.status != VisitStatus::Pending {
        return Err(decided_already(&visit));
    }
    let made_after = now - rules.config.walkin_expiry_ms();
    if !db::visits::decide(tx, id, to, by, now, made_after).await? {
        // Why not: a concurrent decision won (PostgreSQL), the walk-in expired before the
        // sweep saw it, or `by` may not decide it (any longer).
        let now_visit = load_visit(tx, id).await?;
        if now_visit.status != VisitStatus::Pending {
            return Err(decided_already(&now_visit));
        }
        if now_visit.created_at <= made_after {
            return Err(ApiError::Conflict(
                "this walk-in has EXPIRED: no one answered in time".into(),
            ));
        }
        return Err(ApiError::forbidden(
            "only the residents this walk-in asked, while they live in its unit, decide it",
        ));
    }
    // The decider's entries about it are answered.
    db::notifications::mark_visit_read(tx, id, by).await?;
    let visit = load_visit(tx, id).await?;
    let (name, external_id) = db::accounts::name_and_external_id_in_tx(tx, by)
        .await?
        .unwrap_or_default();
    let outcome = match to {
        VisitStatus::Approved => Outcome::Approved { by: &name },
        _ => Outcome::Rejected { by: &name },
    };
    let told = resolve_walkin(tx, rules, &visit, outcome, session).await?;
    crate::outbox::webhooks::enqueue_decision(
        tx,
        rules.config,
        VisitDecided {
            visit_id: visit.id.clone(),
            external_visit_id: visit.external_id.clone(),
            status: visit.status,
            decided_at: now,
            decided_by_id: Some(by.to_owned()),
            decided_by_external_id: external_id,
            decided_by_name: Some(name),
        },
        now,
    )
    .await?;
    Ok(Decided { visit, told })
}

/// A recorded decision: the visit as it now stands, and who was told the outcome.
pub struct Decided {
    pub visit: Visit,
    pub told: Vec<String>,
}

/// Records the decision of an action token's recipient on walk-in `id`: for the notification's
/// buttons ([`decision`]) and the links in texts and emails ([`crate::http::links`]). 422 for a
/// malformed token, 403 for one that cannot decide this visit, 409 when the visit is decided
/// already or expired. Committed; call `AppState::after_resolution` then.
pub async fn decide_by_token(
    database: &Db,
    rules: Rules<'_>,
    id: &str,
    token: &str,
    to: VisitStatus,
) -> ApiResult<Decided> {
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::validation(
            "actionToken must be 1 to 128 characters",
        ));
    }
    let refused = || {
        ApiError::forbidden(
            "this action token cannot decide this visit: it is used, expired or another visit's; \
             open the app to decide",
        )
    };
    let now = now_ms();
    let token_hash = hash_token(token);
    // No session guards this: a token that cannot work is refused from the read side, so
    // guessing never queues for SQLite's one writer.
    if !db::action_tokens::usable(database, &token_hash, id, now).await? {
        return Err(refused());
    }
    let mut tx = database.begin().await?;
    let by = db::action_tokens::consume(&mut tx, &token_hash, id, now)
        .await?
        .ok_or_else(refused)?;
    if db::accounts::role_in_tx(&mut tx, &by).await?.is_none() {
        return Err(ApiError::forbidden("this account is disabled"));
    }
    let decided = record_decision(&mut tx, rules, id, to, &by, None, now).await?;
    tx.commit().await?;
    Ok(decided)
}
