//! The API's paths, as clients call them and as the server routes and documents them (its
//! `#[utoipa::path]` attributes use these constants). `{id}` is a path parameter.

/// `POST`: sign in.
pub const LOGIN: &str = "/api/v1/auth/login";
/// `POST`: end the session.
pub const LOGOUT: &str = "/api/v1/auth/logout";
/// `POST`: end every session of the caller (and the deliveries registered under them).
pub const LOGOUT_ALL: &str = "/api/v1/auth/logout-all";
/// `GET`: the caller's sessions ([`super::SessionInfo`]).
pub const SESSIONS: &str = "/api/v1/auth/sessions";
/// `GET`: the signed-in user.
pub const ME: &str = "/api/v1/me";
/// `GET`, `PUT`: the caller's preferences ([`super::Preferences`]).
pub const PREFERENCES: &str = "/api/v1/me/preferences";
/// `GET`: residents a guard can pick as a walk-in's host.
pub const RESIDENTS: &str = "/api/v1/residents";
/// `POST`: invite; `GET`: list.
pub const VISITS: &str = "/api/v1/visits";
/// `POST`: check an invited visitor in.
pub const VISIT_CHECKIN: &str = "/api/v1/visits/checkin";
/// `POST`: register a walk-in.
pub const VISIT_WALKIN: &str = "/api/v1/visits/walkin";
/// `GET`: one visit.
pub const VISIT: &str = "/api/v1/visits/{id}";
/// `POST`: the host lets a walk-in in.
pub const VISIT_APPROVE: &str = "/api/v1/visits/{id}/approve";
/// `POST`: the host turns a walk-in away.
pub const VISIT_REJECT: &str = "/api/v1/visits/{id}/reject";
/// `POST` ([`super::DecisionRequest`]): approve or reject with a push's action token, no
/// session needed.
pub const VISIT_DECISION: &str = "/api/v1/visits/{id}/decision";
/// `GET`: the host's walk-ins awaiting a decision.
pub const MY_REQUESTS: &str = "/api/v1/dashboard/my-requests";
/// `GET`: the inbox.
pub const NOTIFICATIONS: &str = "/api/v1/notifications";
/// `POST`: mark one notification read.
pub const NOTIFICATION_READ: &str = "/api/v1/notifications/{id}/read";
/// `POST`: mark every notification read.
pub const NOTIFICATIONS_READ_ALL: &str = "/api/v1/notifications/read-all";
/// `GET`: the server-sent event stream of [`super::LiveEvent`]s.
pub const STREAM: &str = "/api/v1/notifications/stream";
/// `POST`: register a device; `DELETE` (with a JSON body): unregister it.
pub const REGISTER_DEVICE: &str = "/api/v1/notifications/register-device";
/// `POST`: unregister a device, for HTTP clients and proxies that drop a `DELETE`'s body.
pub const UNREGISTER_DEVICE: &str = "/api/v1/notifications/unregister-device";
/// `GET`: the VAPID public key (`applicationServerKey`).
pub const VAPID_PUBLIC_KEY: &str = "/api/v1/notifications/vapid-public-key";
/// `POST`: the internal API for an existing backend.
pub const INTERNAL_NOTIFY: &str = "/api/v1/internal/notify";
/// `PUT`: disable or re-enable an account ([`super::SetDisabledRequest`]; internal API).
pub const INTERNAL_USER_DISABLED: &str = "/api/v1/internal/users/{id}/disabled";
/// `PUT`: create or update a user the backend manages, named by its id there;
/// `DELETE`: delete an account's personal data, keeping its visits anonymised (internal API).
pub const INTERNAL_USER: &str = "/api/v1/internal/users/{id}";
/// `POST`: the backend hands over a walk-in awaiting the host's decision.
pub const INTERNAL_WALKINS: &str = "/api/v1/internal/walkins";
/// `POST`: the backend reports a visitor who checked in.
pub const INTERNAL_CHECKINS: &str = "/api/v1/internal/checkins";
/// `GET`: this API's OpenAPI description.
pub const OPENAPI: &str = "/api/v1/openapi.json";

/// The API's path for a visit action (`approve` or `reject`, see [`super::ACTION_APPROVE`]).
pub fn visit_action(visit_id: &str, action: &str) -> String {
    format!("/api/v1/visits/{visit_id}/{action}")
}

/// [`VISIT_DECISION`] for one visit.
pub fn visit_decision(visit_id: &str) -> String {
    VISIT_DECISION.replace("{id}", visit_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ACTION_APPROVE;

    #[test]
    fn visit_action_path_matches_the_route() {
        assert_eq!(
            visit_action("v-1", ACTION_APPROVE),
            VISIT_APPROVE.replace("{id}", "v-1")
        );
    }
}
