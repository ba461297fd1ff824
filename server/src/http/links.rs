//! The pages behind the Approve / Reject links of texts and emails ([`crate::jobs::escalation`]):
//! `GET /a/{token}` shows the walk-in and a button, `POST /a/{token}` decides. Nothing is
//! decided by a GET, because mail scanners and link previews fetch links nobody tapped. The
//! token is the one credential (single use, scoped to the visit and recipient, expiring with
//! the walk-in): no app, no login, no cookie. Pages answer in plain HTML with no script.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatebell_core::protocol::{Visit, VisitStatus};
use serde::Deserialize;

use crate::db::{self, now_ms};
use crate::domain::links::escape;
use crate::domain::sessions::hash_token;
use crate::error::ApiError;
use crate::http::auth::ClientIp;
use crate::state::AppState;

/// The routes of this module (outside the JSON API, so not in the OpenAPI description).
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/a/{token}", get(show).post(decide))
}

/// `?d=approve|reject`, the button a link offers first.
#[derive(Debug, Deserialize)]
pub struct Choice {
    d: Option<String>,
}

fn parse_choice(d: Option<&str>) -> Option<VisitStatus> {
    match d {
        Some("approve") => Some(VisitStatus::Approved),
        Some("reject") => Some(VisitStatus::Rejected),
        _ => None,
    }
}

/// Where a link's walk-in stands.
enum Standing {
    /// Unknown or malformed token.
    Unknown,
    /// The walk-in was decided or expired (or the token's time ran out).
    Closed(String),
    Open(Box<Visit>),
}

async fn standing(state: &AppState, token: &str) -> Result<Standing, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(Standing::Unknown);
    }
    let Some(found) = db::action_tokens::find(&state.db, &hash_token(token)).await? else {
        return Ok(Standing::Unknown);
    };
    let now = now_ms();
    let Some(visit) = db::visits::get(&state.db, &found.visit_id, now).await? else {
        return Ok(Standing::Unknown);
    };
    // A recipient who may not decide any more (disabled, moved, no longer a resident) sees
    // nothing of the visit.
    if !db::visits::may_decide(&state.db, &visit.id, &found.user_id).await? {
        return Ok(Standing::Unknown);
    }
    if visit.status != VisitStatus::Pending {
        return Ok(Standing::Closed(outcome(&visit)));
    }
    if found.used_at.is_some() {
        return Ok(Standing::Closed(
            "You answered with this link already.".into(),
        ));
    }
    if found.expires_at <= now {
        return Ok(Standing::Closed(
            "This link has expired: no one answered in time.".into(),
        ));
    }
    Ok(Standing::Open(Box::new(visit)))
}

/// How a walk-in ended, in a sentence.
fn outcome(v: &Visit) -> String {
    let by = v
        .decided_by
        .as_deref()
        .map(|n| format!(" by {n}"))
        .unwrap_or_default();
    match v.status {
        VisitStatus::Approved => format!("{} was already approved{by}.", v.visitor_name),
        VisitStatus::Rejected => format!("{} was already rejected{by}.", v.visitor_name),
        VisitStatus::Expired => format!(
            "This request has expired: no one answered in time, so {} was not let in.",
            v.visitor_name
        ),
        other => format!("This visit is {}.", other.as_str().to_lowercase()),
    }
}

async fn show(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    axum::extract::Path(token): axum::extract::Path<String>,
    Query(choice): Query<Choice>,
) -> Result<Response, ApiError> {
    // Counted before any work: guessing links costs the guesser.
    state.decision_limits.check(&ip)?;
    let first = parse_choice(choice.d.as_deref()).unwrap_or(VisitStatus::Approved);
    Ok(match standing(&state, &token).await? {
        Standing::Unknown => not_valid(),
        Standing::Closed(why) => page(StatusCode::CONFLICT, "Already answered", &escape(&why)),
        Standing::Open(v) => {
            let (primary, secondary) = match first {
                VisitStatus::Rejected => (("reject", "Reject"), ("approve", "Approve instead")),
                _ => (("approve", "Approve"), ("reject", "Reject instead")),
            };
            let body = format!(
                "<p>{}</p><form method=\"post\"><button class=\"{}\" name=\"d\" value=\"{}\">{}</button> \
                 <button class=\"secondary\" name=\"d\" value=\"{}\">{}</button></form>",
                escape(&describe(&v)),
                primary.0,
                primary.0,
                primary.1,
                secondary.0,
                secondary.1
            );
            page(StatusCode::OK, "Visitor at the gate", &body)
        }
    })
}

/// The form's field.
#[derive(Debug, Deserialize)]
pub struct Decided {
    d: String,
}

async fn decide(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    axum::extract::Path(token): axum::extract::Path<String>,
    form: Result<Form<Decided>, FormRejection>,
) -> Result<Response, ApiError> {
    state.decision_limits.check(&ip)?;
    let Some(to) = form.ok().and_then(|Form(f)| parse_choice(Some(&f.d))) else {
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose approve or reject",
            "<p>Open the link again and press Approve or Reject.</p>",
        ));
    };
    let visit = match standing(&state, &token).await? {
        Standing::Unknown => return Ok(not_valid()),
        Standing::Closed(why) => {
            return Ok(page(
                StatusCode::CONFLICT,
                "Already answered",
                &escape(&why),
            ));
        }
        Standing::Open(v) => v,
    };
    match crate::domain::visits::decide_by_token(&state, &visit.id, &token, to).await {
        Ok(v) => {
            let (title, text) = match v.status {
                VisitStatus::Approved => ("Approved", format!("{} may come in.", v.visitor_name)),
                _ => (
                    "Rejected",
                    format!("{} will not be let in.", v.visitor_name),
                ),
            };
            Ok(page(
                StatusCode::OK,
                title,
                &format!("<p>{}</p><p>The guard has been told.</p>", escape(&text)),
            ))
        }
        // Someone decided (or the walk-in expired, or the token was used) in between.
        Err(ApiError::Conflict(_) | ApiError::Forbidden(_)) => {
            let why = match db::visits::get(&state.db, &visit.id, now_ms()).await? {
                Some(v) if v.status != VisitStatus::Pending => outcome(&v),
                _ => "This link can no longer be used.".into(),
            };
            Ok(page(
                StatusCode::CONFLICT,
                "Already answered",
                &escape(&why),
            ))
        }
        Err(e) => Err(e),
    }
}

/// "Ravi (delivery) is at the gate for A-101."
fn describe(v: &Visit) -> String {
    let purpose = v
        .purpose
        .as_deref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    let unit = v
        .unit
        .as_deref()
        .map(|u| format!(" for {u}"))
        .unwrap_or_default();
    format!("{}{purpose} is at the gate{unit}.", v.visitor_name)
}

fn not_valid() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Link not valid",
        "<p>This link is no longer valid. Open the Gatebell app to see the visit.</p>",
    )
}

/// A small HTML page; `body` is HTML already escaped.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{t} — Gatebell</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#111}}\
         button{{font-size:1.1rem;padding:.6rem 1.2rem;border:0;border-radius:.4rem;cursor:pointer}}\
         .approve{{background:#15803d;color:#fff}}.reject{{background:#b91c1c;color:#fff}}\
         .secondary{{background:#e5e7eb;color:#111}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page holds a live token's choices: never from a cache.
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn only_approve_and_reject_are_choices() {
        assert_eq!(parse_choice(Some("approve")), Some(VisitStatus::Approved));
        assert_eq!(parse_choice(Some("reject")), Some(VisitStatus::Rejected));
        assert_eq!(parse_choice(Some("APPROVE")), None);
        assert_eq!(parse_choice(None), None);
    }
}
