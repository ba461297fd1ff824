//! The flags of `gatebell serve`, in groups (one `--help` heading each), flattened into
//! [`ServeArgs`]: each part of the server reads its own group.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::Secret;

/// Flags of `gatebell serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub push: PushArgs,
    #[command(flatten)]
    pub visits: VisitArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
    #[command(flatten)]
    pub webhook: WebhookArgs,
    #[command(flatten)]
    pub sms: SmsArgs,
    #[command(flatten)]
    pub email: EmailArgs,
    /// PEM file of CA certificates the outbound TLS clients (SMS API, SMTP, JWKS) trust beside
    /// the built-in roots: a private CA, or a test's own.
    #[arg(long, env = "GATEBELL_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
}

/// The listener and what it serves.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP")]
pub struct HttpArgs {
    /// Address to listen on.
    #[arg(long, env = "GATEBELL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder of the built web demo, served at `/` (default: web-demo/out when it exists).
    #[arg(long, env = "GATEBELL_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Most client connections open at once; more wait in the accept queue.
    #[arg(long, env = "GATEBELL_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (and to start its next request on a
    /// kept-alive connection) before the connection is closed.
    #[arg(
        long = "header-timeout",
        env = "GATEBELL_HEADER_TIMEOUT",
        default_value_t = 10
    )]
    pub header_timeout_secs: u64,
    /// Seconds in-flight requests and pushes get to finish after SIGTERM.
    #[arg(
        long = "shutdown-grace",
        env = "GATEBELL_SHUTDOWN_GRACE",
        default_value_t = 10
    )]
    pub shutdown_grace_secs: u64,
    /// Comma-separated origins (`https://app.example.com`) whose browser apps may call the API
    /// from another origin (CORS); none when absent.
    #[arg(long, env = "GATEBELL_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// The address residents reach this server at, for the Approve / Reject links in texts and
    /// emails (default: `http://` and the address it listens on).
    #[arg(long, env = "GATEBELL_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// Where the data lives and how long it is kept.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database")]
pub struct StoreArgs {
    /// `sqlite://FILE?mode=rwc` (default, nothing to install) or `postgres://…` (several instances).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://gatebell.db?mode=rwc"
    )]
    pub database_url: Secret,
    /// Seed the demo community and print its accounts.
    #[arg(long, env = "GATEBELL_DEMO")]
    pub demo: bool,
    /// Days visits, notifications and push records are kept (0: forever).
    #[arg(long, env = "GATEBELL_RETENTION_DAYS", default_value_t = 90)]
    pub retention_days: u32,
    /// Seconds between housekeeping runs (expired sessions, retention).
    #[arg(
        long = "housekeeping-interval",
        env = "GATEBELL_HOUSEKEEPING_INTERVAL",
        default_value_t = 3600,
        hide = true
    )]
    pub housekeeping_interval_secs: u64,
}

/// Keys of the internal API, the gate codes and the metrics.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Access")]
pub struct AccessArgs {
    /// Bearer key of the internal API (`/api/v1/internal/*`); off when absent.
    #[arg(long, env = "GATEBELL_SERVICE_KEY", hide_env_values = true)]
    pub service_key: Option<Secret>,
    /// Secret key of the invitation codes' HMAC-SHA256 (at least 16 characters); made and
    /// stored in the database when absent.
    #[arg(long, env = "GATEBELL_CODE_SECRET", hide_env_values = true)]
    pub code_secret: Option<Secret>,
    /// Bearer token `/metrics` requires; open to anyone who can reach it when absent.
    #[arg(long, env = "GATEBELL_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
}

/// Web Push and FCM delivery.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Push")]
pub struct PushArgs {
    /// VAPID private key (base64url P-256 scalar); made and stored in the database when absent.
    #[arg(long, env = "GATEBELL_VAPID_PRIVATE_KEY", hide_env_values = true)]
    pub vapid_private_key: Option<Secret>,
    /// The VAPID private key before a rotation: pushes to subscriptions made with it (which
    /// the push service refuses under the new key) are signed with it until those browsers
    /// re-subscribe. Remove it after a grace period; then such devices are pruned.
    #[arg(
        long,
        env = "GATEBELL_VAPID_PREVIOUS_PRIVATE_KEY",
        hide_env_values = true
    )]
    pub vapid_previous_private_key: Option<Secret>,
    /// VAPID `sub` claim: a mailto: or https: contact for push services.
    #[arg(
        long,
        env = "GATEBELL_VAPID_SUBJECT",
        default_value = "mailto:admin@localhost"
    )]
    pub vapid_subject: String,
    /// Path to a Google service-account key JSON; without it FCM pushes are recorded as not configured.
    #[arg(long, env = "GATEBELL_FCM_CREDENTIALS")]
    pub fcm_credentials: Option<PathBuf>,
    /// Base URL of the FCM HTTP v1 API.
    #[arg(
        long,
        env = "GATEBELL_FCM_ENDPOINT",
        default_value = "https://fcm.googleapis.com"
    )]
    pub fcm_endpoint: String,
    /// Comma-separated hosts Web Push endpoints may use (`*.example.com` wildcards; IPs verbatim).
    #[arg(long, env = "GATEBELL_PUSH_ALLOW_HOSTS", value_delimiter = ',')]
    pub push_allow_hosts: Option<Vec<String>>,
    /// Admit plain-http push endpoints (only for tests against local fakes).
    #[arg(long, env = "GATEBELL_PUSH_ALLOW_HTTP")]
    pub push_allow_http: bool,
    /// Concurrent push sends per provider (FCM and Web Push each get this many) per instance.
    #[arg(long, env = "GATEBELL_PUSH_CONCURRENCY", default_value_t = 256)]
    pub push_concurrency: usize,
    /// How long a claimed outbox row stays reserved before another dispatcher may take it (ms).
    #[arg(
        long,
        env = "GATEBELL_CLAIM_LEASE_MS",
        default_value_t = 30_000,
        hide = true
    )]
    pub claim_lease_ms: i64,
}

/// How long walk-ins and check-ins wait and ring.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Visits")]
pub struct VisitArgs {
    /// How long a walk-in's push may still be delivered, in seconds.
    #[arg(
        long = "walkin-ttl",
        env = "GATEBELL_WALKIN_TTL",
        default_value_t = 180
    )]
    pub walkin_ttl_secs: u32,
    /// Seconds a walk-in waits for a decision; then it is `EXPIRED`, the guard is told and the
    /// residents' notifications say so.
    #[arg(
        long = "walkin-expiry",
        env = "GATEBELL_WALKIN_EXPIRY",
        default_value_t = 180
    )]
    pub walkin_expiry_secs: u32,
    /// How long a check-in's push may still be delivered, in seconds.
    #[arg(
        long = "checkin-ttl",
        env = "GATEBELL_CHECKIN_TTL",
        default_value_t = 3600
    )]
    pub checkin_ttl_secs: u32,
    /// Seconds a walk-in waits for any of its household to decide or open it before they are
    /// texted and emailed (per each one's channels); 0 turns escalation off.
    #[arg(
        long = "escalate-after",
        env = "GATEBELL_ESCALATE_AFTER",
        default_value_t = 45
    )]
    pub escalate_after_secs: u32,
    /// Open invitations (invited, not yet expired) one resident may have at once.
    #[arg(long, env = "GATEBELL_MAX_OPEN_INVITATIONS", default_value_t = 20)]
    pub max_open_invitations: u32,
}

/// Rates and counts per caller.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Sign-in attempts allowed per client address per minute (also the burst).
    #[arg(
        long = "login-per-ip",
        env = "GATEBELL_LOGIN_PER_IP",
        default_value_t = 30
    )]
    pub login_per_ip_per_minute: u32,
    /// Sign-in attempts allowed per account per minute (also the burst).
    #[arg(
        long = "login-per-account",
        env = "GATEBELL_LOGIN_PER_ACCOUNT",
        default_value_t = 10
    )]
    pub login_per_account_per_minute: u32,
    /// Decisions by action token and one-tap link pages (views and answers) allowed per client
    /// address per minute (also the burst); beyond it 429 with `Retry-After`.
    #[arg(
        long = "decisions-per-ip",
        env = "GATEBELL_DECISIONS_PER_IP",
        default_value_t = 60
    )]
    pub decisions_per_ip_per_minute: u32,
    /// Walk-ins one guard may register per minute (also the burst); beyond it 429.
    #[arg(
        long = "walkins-per-guard",
        env = "GATEBELL_WALKINS_PER_GUARD",
        default_value_t = 20
    )]
    pub walkins_per_guard_per_minute: u32,
    /// Texts one person may be sent per hour; beyond it their texts are skipped (their email
    /// and pushes still go) and counted as `gatebell_messages_total{channel="sms",event="capped"}`.
    #[arg(
        long = "texts-per-recipient",
        env = "GATEBELL_TEXTS_PER_RECIPIENT",
        default_value_t = 12
    )]
    pub texts_per_recipient_per_hour: u32,
    /// Wrong check-in codes (OTP or QR) one guard may enter per window before their check-ins
    /// are refused (429 `too_many_wrong_codes`) until the window has passed.
    #[arg(long, env = "GATEBELL_OTP_FAILURES_PER_GUARD", default_value_t = 10)]
    pub otp_failures_per_guard: u32,
    /// Wrong check-in codes all guards together may enter per window (the server's database is
    /// the one gate) before every check-in is refused until the window has passed.
    #[arg(long, env = "GATEBELL_OTP_FAILURES_PER_GATE", default_value_t = 30)]
    pub otp_failures_per_gate: u32,
    /// The window of the wrong-code limits, in seconds.
    #[arg(
        long = "otp-failure-window",
        env = "GATEBELL_OTP_FAILURE_WINDOW",
        default_value_t = 900
    )]
    pub otp_failure_window_secs: u32,
    /// Most event streams (`/notifications/stream`) one user may hold open on one instance;
    /// more are refused with 429.
    #[arg(long, env = "GATEBELL_MAX_STREAMS_PER_USER", default_value_t = 5)]
    pub max_streams_per_user: usize,
}

/// Bearer tokens an existing backend signs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Existing backend's JWT")]
pub struct JwtArgs {
    /// JWKS URL of an existing backend whose JWT bearer tokens (RS256 or ES256) are accepted
    /// beside Gatebell's own sessions; needs --jwt-issuer and --jwt-audience.
    #[arg(
        id = "jwt_jwks_url",
        long = "jwt-jwks-url",
        env = "GATEBELL_JWT_JWKS_URL"
    )]
    pub jwks_url: Option<String>,
    /// Shared secret of an existing backend's HS256 JWT bearer tokens (at least 32 characters),
    /// instead of --jwt-jwks-url; needs --jwt-issuer and --jwt-audience.
    #[arg(
        id = "jwt_hs256_secret",
        long = "jwt-hs256-secret",
        env = "GATEBELL_JWT_HS256_SECRET",
        hide_env_values = true
    )]
    pub hs256_secret: Option<Secret>,
    /// The `iss` a JWT must carry.
    #[arg(id = "jwt_issuer", long = "jwt-issuer", env = "GATEBELL_JWT_ISSUER")]
    pub issuer: Option<String>,
    /// The `aud` a JWT must carry (one of its values).
    #[arg(
        id = "jwt_audience",
        long = "jwt-audience",
        env = "GATEBELL_JWT_AUDIENCE"
    )]
    pub audience: Option<String>,
    /// The JWT claim holding the user's role: resident, guard or admin.
    #[arg(
        id = "jwt_role_claim",
        long = "jwt-role-claim",
        env = "GATEBELL_JWT_ROLE_CLAIM",
        default_value = "role"
    )]
    pub role_claim: String,
    /// The JWT claim holding the user's unit (created when new).
    #[arg(
        id = "jwt_unit_claim",
        long = "jwt-unit-claim",
        env = "GATEBELL_JWT_UNIT_CLAIM",
        default_value = "unit"
    )]
    pub unit_claim: String,
    /// The JWT claim holding the user's language (BCP 47, `hi-IN`): used when the server has
    /// a catalog for it, else the stored language (English by default) stays.
    #[arg(
        id = "jwt_locale_claim",
        long = "jwt-locale-claim",
        env = "GATEBELL_JWT_LOCALE_CLAIM",
        default_value = "locale"
    )]
    pub locale_claim: String,
    /// Fetch the JWKS over plain http and from private addresses (only for tests against a
    /// local key server).
    #[arg(
        id = "jwt_jwks_allow_private",
        long = "jwt-jwks-allow-private",
        env = "GATEBELL_JWT_JWKS_ALLOW_PRIVATE",
        hide = true
    )]
    pub jwks_allow_private: bool,
    /// Least time between two JWKS fetches caused by unknown `kid`s (ms).
    #[arg(
        id = "jwt_jwks_min_refetch_ms",
        long = "jwt-jwks-min-refetch-ms",
        env = "GATEBELL_JWT_JWKS_MIN_REFETCH_MS",
        default_value_t = 60_000,
        hide = true
    )]
    pub jwks_min_refetch_ms: u64,
    /// The shortest `Cache-Control: max-age` of a JWKS answer honoured (ms); tests lower it.
    #[arg(
        id = "jwt_jwks_min_max_age_ms",
        long = "jwt-jwks-min-max-age-ms",
        env = "GATEBELL_JWT_JWKS_MIN_MAX_AGE_MS",
        default_value_t = 60_000,
        hide = true
    )]
    pub jwks_min_max_age_ms: u64,
    /// Seconds of clock skew allowed when checking a JWT's `exp` and `nbf`.
    #[arg(
        id = "jwt_leeway",
        long = "jwt-leeway",
        env = "GATEBELL_JWT_LEEWAY",
        default_value_t = 60
    )]
    pub leeway_secs: u64,
}

/// Signed events to an existing backend.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Webhooks")]
pub struct WebhookArgs {
    /// URL that receives signed webhooks (`visit.approved`, `visit.rejected`) when a resident
    /// decides; needs --webhook-secret.
    #[arg(id = "webhook_url", long = "webhook-url", env = "GATEBELL_WEBHOOK_URL")]
    pub url: Option<String>,
    /// Standard Webhooks signing secret, `whsec_` and base64 of at least 24 bytes.
    #[arg(
        id = "webhook_secret",
        long = "webhook-secret",
        env = "GATEBELL_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<Secret>,
    /// Longest wait between two tries of a webhook the receiver did not take, in seconds
    /// (tries back off from one second; a webhook is given up a day after it was made).
    #[arg(
        id = "webhook_retry_max",
        long = "webhook-retry-max",
        env = "GATEBELL_WEBHOOK_RETRY_MAX",
        default_value_t = 600
    )]
    pub retry_max_secs: u64,
}

/// Escalation by SMS (a Twilio-compatible API).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Texts")]
pub struct SmsArgs {
    /// Base URL of the Twilio-compatible SMS API.
    #[arg(
        id = "sms_api_url",
        long = "sms-api-url",
        env = "GATEBELL_SMS_API_URL",
        default_value = "https://api.twilio.com"
    )]
    pub api_url: String,
    /// SMS account SID (the Basic auth user; part of the API path); SMS is off without it.
    #[arg(
        id = "sms_account_sid",
        long = "sms-account-sid",
        env = "GATEBELL_SMS_ACCOUNT_SID"
    )]
    pub account_sid: Option<String>,
    /// SMS auth token (the Basic auth password).
    #[arg(
        id = "sms_auth_token",
        long = "sms-auth-token",
        env = "GATEBELL_SMS_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub auth_token: Option<Secret>,
    /// The number (E.164) or sender id texts come from.
    #[arg(id = "sms_from", long = "sms-from", env = "GATEBELL_SMS_FROM")]
    pub from: Option<String>,
}

/// Escalation by email.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Email")]
pub struct EmailArgs {
    /// SMTP server, as `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtp://host:25` (plain, local relays only); email is off without it.
    #[arg(
        id = "smtp_url",
        long = "smtp-url",
        env = "GATEBELL_SMTP_URL",
        hide_env_values = true
    )]
    pub url: Option<Secret>,
    /// The From of emails, `Gatebell <gate@example.com>`.
    #[arg(id = "smtp_from", long = "smtp-from", env = "GATEBELL_SMTP_FROM")]
    pub from: Option<String>,
}
