//! Accounts: creating users (the `gatebell user add` command and the demo seed), units, the
//! residents list guards pick a host from, and each user's preferences.

use axum::extract::State;
use gatebell_core::protocol::paths;
use gatebell_core::protocol::{
    Preferences, PreferencesUpdate, QuietHours, Resident, Role, minute_of_day,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::{self, Db, DbError, is_unique_violation, new_id, now_ms};
use crate::domain::checks::{e164, human_text, optional_text, required_text};
use crate::domain::sessions::hash_password;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::AuthUser;
use crate::http::error::{Json, Query};
use crate::state::AppState;

/// The routes of this module, with their OpenAPI descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(residents))
        .routes(routes!(get_preferences, put_preferences))
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    pub password: String,
    pub role: Role,
    /// Required for residents; created when new.
    pub unit: Option<String>,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("{0}")]
    Invalid(String),
    #[error("a user with the email {0} exists already")]
    EmailTaken(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Creates a user (and its unit when new); returns the user's id.
pub async fn create_user(db: &Db, new: NewUser) -> Result<String, CreateUserError> {
    let invalid = |e: crate::error::ApiError| CreateUserError::Invalid(e.to_string());
    let name = human_text("name", &new.name, 100).map_err(invalid)?;
    let email = required_text("email", &new.email, 254)
        .map_err(invalid)?
        .to_lowercase();
    if !email.contains('@') {
        return Err(CreateUserError::Invalid(format!(
            "{email:?} is not an email address"
        )));
    }
    if new.password.chars().count() < 8 {
        return Err(CreateUserError::Invalid(
            "the password needs at least 8 characters".into(),
        ));
    }
    let unit = optional_text("unit", new.unit.as_deref(), 32).map_err(invalid)?;
    if new.role == Role::Resident && unit.is_none() {
        return Err(CreateUserError::Invalid(
            "a resident needs a unit (--unit A-101)".into(),
        ));
    }
    let hash = hash_password(new.password).await?;
    let id = new_id();
    let now = now_ms();
    let mut tx = db.begin().await?;
    let result = db::accounts::insert_user(
        &mut tx,
        db::accounts::UserRow {
            id: &id,
            name: &name,
            email: &email,
            password_hash: &hash,
            role: new.role,
            unit: unit.as_deref(),
            created_at: now,
        },
    )
    .await;
    match result {
        Ok(()) => {
            tx.commit().await?;
            Ok(id)
        }
        Err(e) if is_unique_violation(&e) => Err(CreateUserError::EmailTaken(email)),
        Err(e) => Err(e.into()),
    }
}

/// `?q=` filter of `/residents`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResidentQuery {
    /// Part of a name or unit, case-insensitive.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub q: Option<String>,
}

#[utoipa::path(get, path = paths::RESIDENTS, tag = "accounts", operation_id = "listResidents",
    security(("bearer" = [])), params(ResidentQuery),
    responses((status = 200, body = Vec<Resident>),
        (status = 403, description = "only guards and admins", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "`q` is too long or holds control characters", body = gatebell_core::protocol::ErrorBody)))]
async fn residents(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<ResidentQuery>,
) -> ApiResult<Json<Vec<Resident>>> {
    user.require(&[Role::Guard, Role::Admin])?;
    let filter = optional_text("q", q.q.as_deref(), 100)?
        .map(|s| format!("%{}%", s.to_lowercase().replace(['%', '_'], "")))
        .unwrap_or_else(|| "%".into());
    Ok(Json(db::accounts::residents(&state.db, &filter).await?))
}

/// One account of the demo community.
pub struct DemoAccount {
    pub name: &'static str,
    pub email: &'static str,
    pub role: Role,
    pub unit: Option<&'static str>,
}

/// The demo community's shared password.
pub const DEMO_PASSWORD: &str = "gatebell-demo";

/// One guard, two units with two residents each, one admin (README lists them).
pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        name: "Gita Guard",
        email: "guard@demo.gatebell",
        role: Role::Guard,
        unit: None,
    },
    DemoAccount {
        name: "Asha Rao",
        email: "asha@demo.gatebell",
        role: Role::Resident,
        unit: Some("A-101"),
    },
    DemoAccount {
        name: "Arjun Rao",
        email: "arjun@demo.gatebell",
        role: Role::Resident,
        unit: Some("A-101"),
    },
    DemoAccount {
        name: "Bina Shah",
        email: "bina@demo.gatebell",
        role: Role::Resident,
        unit: Some("B-202"),
    },
    DemoAccount {
        name: "Bharat Shah",
        email: "bharat@demo.gatebell",
        role: Role::Resident,
        unit: Some("B-202"),
    },
    DemoAccount {
        name: "Adi Admin",
        email: "admin@demo.gatebell",
        role: Role::Admin,
        unit: None,
    },
];

/// Seeds the demo community; accounts that exist already are left alone. Returns how many
/// were created.
pub async fn seed_demo(db: &Db) -> Result<usize, CreateUserError> {
    let mut created = 0;
    for a in DEMO_ACCOUNTS {
        let new = NewUser {
            name: a.name.into(),
            email: a.email.into(),
            password: DEMO_PASSWORD.into(),
            role: a.role,
            unit: a.unit.map(Into::into),
        };
        match create_user(db, new).await {
            Ok(_) => created += 1,
            Err(CreateUserError::EmailTaken(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

#[utoipa::path(get, path = paths::PREFERENCES, tag = "auth", operation_id = "getPreferences",
    security(("bearer" = [])),
    responses((status = 200, body = Preferences), (status = 401, body = gatebell_core::protocol::ErrorBody)))]
async fn get_preferences(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<Preferences>> {
    Ok(Json(db::accounts::preferences(&state.db, &user.id).await?))
}

#[utoipa::path(put, path = paths::PREFERENCES, tag = "auth", operation_id = "putPreferences",
    security(("bearer" = [])), request_body = PreferencesUpdate,
    responses((status = 200, description = "the preferences as they now stand", body = Preferences),
        (status = 401, body = gatebell_core::protocol::ErrorBody),
        (status = 403, description = "only a resident sets their unit's household setting", body = gatebell_core::protocol::ErrorBody),
        (status = 422, description = "the phone is not E.164, the quiet hours' times are not HH:MM or their time zone is not an IANA name, or the language has no catalog", body = gatebell_core::protocol::ErrorBody)))]
async fn put_preferences(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<PreferencesUpdate>,
) -> ApiResult<Json<Preferences>> {
    if req.household.is_some() && (user.role != Role::Resident || user.unit.is_none()) {
        return Err(ApiError::forbidden(
            "only a resident sets their unit's household setting",
        ));
    }
    let phone = match req.phone.as_deref() {
        None => None,
        Some(p) => Some(e164(Some(p))?),
    };
    if let Some(Some(q)) = &req.quiet_hours {
        quiet_hours(q)?;
    }
    let language = crate::domain::checks::language(req.language.as_deref())?;
    let mut tx = state.db.begin().await?;
    if let Some(language) = &language {
        db::accounts::set_language(&mut tx, &user.id, &language.tag()).await?;
    }
    if let Some(phone) = &phone {
        db::accounts::set_phone(&mut tx, &user.id, phone.as_deref()).await?;
    }
    if let Some(channels) = &req.channels {
        db::accounts::set_channels(&mut tx, &user.id, channels).await?;
    }
    if let Some(q) = &req.quiet_hours {
        db::accounts::set_quiet_hours(&mut tx, &user.id, q.as_ref()).await?;
    }
    if let Some(setting) = req.household {
        db::accounts::set_household(&mut tx, &user.id, setting).await?;
    }
    tx.commit().await?;
    Ok(Json(db::accounts::preferences(&state.db, &user.id).await?))
}

/// Quiet hours need `HH:MM` times and a time zone from the IANA database.
fn quiet_hours(q: &QuietHours) -> ApiResult<()> {
    if minute_of_day(&q.start).is_none() || minute_of_day(&q.end).is_none() {
        return Err(ApiError::validation(
            "quietHours.start and quietHours.end must be HH:MM, 24-hour",
        ));
    }
    if q.time_zone.len() > 64 || q.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::validation(
            "quietHours.timeZone must be an IANA time zone name, such as Asia/Kolkata",
        ));
    }
    Ok(())
}
