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
use crate::texts::Language;

/// The routes of this module (outside the JSON API, so not in the OpenAPI description).
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/a/{token}", get(show).post(answer))
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

/// Where a link's walk-in stands, and the language of the person it was sent to (English
/// for a link that names nobody).
async fn standing(state: &AppState, token: &str) -> Result<(Standing, Language), ApiError> {
    let english = Language::english();
    if token.is_empty() || token.len() > 128 {
        return Ok((Standing::Unknown, english));
    }
    let Some(found) = db::action_tokens::find(&state.db, &hash_token(token)).await? else {
        return Ok((Standing::Unknown, english));
    };
    let language = Language::stored(
        db::accounts::language(&state.db, &found.user_id)
            .await?
            .as_deref(),
    );
    let now = now_ms();
    let Some(visit) = db::visits::get(&state.db, &found.visit_id, now).await? else {
        return Ok((Standing::Unknown, language));
    };
    // A recipient who may not decide any more (disabled, moved, no longer a resident) sees
    // nothing of the visit.
    if !db::visits::may_decide(&state.db, &visit.id, &found.user_id).await? {
        return Ok((Standing::Unknown, language));
    }
    let standing = if visit.status != VisitStatus::Pending {
        Standing::Closed(outcome(&language, &visit))
    } else if found.used_at.is_some() {
        Standing::Closed(language.text("link-used"))
    } else if found.expires_at <= now {
        Standing::Closed(language.text("link-expired"))
    } else {
        Standing::Open(Box::new(visit))
    };
    Ok((standing, language))
}

/// How a walk-in ended, in a sentence.
fn outcome(language: &Language, v: &Visit) -> String {
    let by = v
        .decided_by
        .as_deref()
        .map(|n| language.text_with("link-by", &[("by", n.into())]))
        .unwrap_or_default();
    let args = [("name", (&v.visitor_name).into()), ("by", (&by).into())];
    match v.status {
        VisitStatus::Approved => language.text_with("link-already-approved", &args),
        VisitStatus::Rejected => language.text_with("link-already-rejected", &args),
        _ => language.text_with("link-expired-visit", &args[..1]),
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
    let (standing, l) = standing(&state, &token).await?;
    Ok(match standing {
        Standing::Unknown => not_valid(&l),
        Standing::Closed(why) => page(
            &l,
            StatusCode::CONFLICT,
            &l.text("link-answered-title"),
            &escape(&why),
        ),
        Standing::Open(v) => {
            let (primary, secondary) = match first {
                VisitStatus::Rejected => (
                    ("reject", l.text("link-reject")),
                    ("approve", l.text("link-approve-instead")),
                ),
                _ => (
                    ("approve", l.text("link-approve")),
                    ("reject", l.text("link-reject-instead")),
                ),
            };
            let body = format!(
                "<p>{}</p><form method=\"post\"><button class=\"{}\" name=\"d\" value=\"{}\">{}</button> \
                 <button class=\"secondary\" name=\"d\" value=\"{}\">{}</button></form>",
                escape(&describe(&l, &v)),
                primary.0,
                primary.0,
                escape(&primary.1),
                secondary.0,
                escape(&secondary.1)
            );
            page(&l, StatusCode::OK, &l.text("link-open-title"), &body)
        }
    })
}

/// The form's field.
#[derive(Debug, Deserialize)]
pub struct ChoiceForm {
    d: String,
}

async fn answer(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    axum::extract::Path(token): axum::extract::Path<String>,
    form: Result<Form<ChoiceForm>, FormRejection>,
) -> Result<Response, ApiError> {
    state.decision_limits.check(&ip)?;
    let (standing, l) = standing(&state, &token).await?;
    let Some(to) = form.ok().and_then(|Form(f)| parse_choice(Some(&f.d))) else {
        return Ok(page(
            &l,
            StatusCode::UNPROCESSABLE_ENTITY,
            &l.text("link-choose-title"),
            &format!("<p>{}</p>", escape(&l.text("link-choose"))),
        ));
    };
    let visit = match standing {
        Standing::Unknown => return Ok(not_valid(&l)),
        Standing::Closed(why) => {
            return Ok(page(
                &l,
                StatusCode::CONFLICT,
                &l.text("link-answered-title"),
                &escape(&why),
            ));
        }
        Standing::Open(v) => v,
    };
    match crate::domain::visits::decide_by_token(&state.db, state.rules(), &visit.id, &token, to)
        .await
    {
        Ok(decided) => {
            state.after_resolution(&decided.told, visit.id.clone());
            let v = decided.visit;
            let name = [("name", (&v.visitor_name).into())];
            let (title, text) = match v.status {
                VisitStatus::Approved => (
                    l.text("link-approved-title"),
                    l.text_with("link-approved", &name),
                ),
                _ => (
                    l.text("link-rejected-title"),
                    l.text_with("link-rejected", &name),
                ),
            };
            Ok(page(
                &l,
                StatusCode::OK,
                &title,
                &format!(
                    "<p>{}</p><p>{}</p>",
                    escape(&text),
                    escape(&l.text("link-guard-told"))
                ),
            ))
        }
        // Someone decided (or the walk-in expired, or the token was used) in between.
        Err(ApiError::Conflict(_) | ApiError::Forbidden(_)) => {
            let why = match db::visits::get(&state.db, &visit.id, now_ms()).await? {
                Some(v) if v.status != VisitStatus::Pending => outcome(&l, &v),
                _ => l.text("link-unusable"),
            };
            Ok(page(
                &l,
                StatusCode::CONFLICT,
                &l.text("link-answered-title"),
                &escape(&why),
            ))
        }
        Err(e) => Err(e),
    }
}

/// "Ravi (delivery) is at the gate for A-101."
fn describe(l: &Language, v: &Visit) -> String {
    let purpose = v
        .purpose
        .as_deref()
        .map(|p| l.text_with("message-purpose", &[("purpose", p.into())]))
        .unwrap_or_default();
    let unit = v
        .unit
        .as_deref()
        .map(|u| l.text_with("message-unit", &[("unit", u.into())]))
        .unwrap_or_default();
    l.text_with(
        "link-describe",
        &[
            ("name", (&v.visitor_name).into()),
            ("purpose", (&purpose).into()),
            ("unit", (&unit).into()),
        ],
    )
}

fn not_valid(l: &Language) -> Response {
    page(
        l,
        StatusCode::NOT_FOUND,
        &l.text("link-invalid-title"),
        &format!("<p>{}</p>", escape(&l.text("link-invalid"))),
    )
}

/// A small HTML page in `l`; `body` is HTML already escaped.
fn page(l: &Language, status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{t} — Gatebell</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#111}}\
         button{{font-size:1.1rem;padding:.6rem 1.2rem;border:0;border-radius:.4rem;cursor:pointer}}\
         .approve{{background:#15803d;color:#fff}}.reject{{background:#b91c1c;color:#fff}}\
         .secondary{{background:#e5e7eb;color:#111}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title),
        lang = l.tag()
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
