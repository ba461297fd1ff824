//! `gatebell serve` configuration: flags with environment-variable fallbacks (`--help` lists
//! them), turned into the [`Config`] the app runs with.

mod allowlist;
mod checks;
mod extra_ca;
mod secret;

pub use allowlist::{AllowList, DEFAULT_PUSH_HOSTS};
pub use checks::webhook_key;
pub use extra_ca::ExtraCa;
pub use secret::Secret;

use checks::{check_jwt, check_messages, check_origin, check_webhook};

/// Shortest `--code-secret` accepted.
pub const MIN_SECRET_LEN: usize = 16;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Flags of `gatebell serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GATEBELL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
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
    /// Bearer key of the internal API (`/api/v1/internal/*`); off when absent.
    #[arg(long, env = "GATEBELL_SERVICE_KEY", hide_env_values = true)]
    pub service_key: Option<Secret>,
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
    /// Folder of the built web demo, served at `/` (default: web-demo/out when it exists).
    #[arg(long, env = "GATEBELL_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Concurrent push sends per provider (FCM and Web Push each get this many) per instance.
    #[arg(long, env = "GATEBELL_PUSH_CONCURRENCY", default_value_t = 256)]
    pub push_concurrency: usize,
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
    /// Open invitations (invited, not yet expired) one resident may have at once.
    #[arg(long, env = "GATEBELL_MAX_OPEN_INVITATIONS", default_value_t = 20)]
    pub max_open_invitations: u32,
    /// Secret key of the invitation codes' HMAC-SHA256 (at least 16 characters); made and
    /// stored in the database when absent.
    #[arg(long, env = "GATEBELL_CODE_SECRET", hide_env_values = true)]
    pub code_secret: Option<Secret>,
    /// Most event streams (`/notifications/stream`) one user may hold open on one instance;
    /// more are refused with 429.
    #[arg(long, env = "GATEBELL_MAX_STREAMS_PER_USER", default_value_t = 5)]
    pub max_streams_per_user: usize,
    /// Bearer token `/metrics` requires; open to anyone who can reach it when absent.
    #[arg(long, env = "GATEBELL_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    /// Days visits, notifications and push records are kept (0: forever).
    #[arg(long, env = "GATEBELL_RETENTION_DAYS", default_value_t = 90)]
    pub retention_days: u32,
    /// JWKS URL of an existing backend whose JWT bearer tokens (RS256 or ES256) are accepted
    /// beside Gatebell's own sessions; needs --jwt-issuer and --jwt-audience.
    #[arg(long, env = "GATEBELL_JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,
    /// Shared secret of an existing backend's HS256 JWT bearer tokens (at least 32 characters),
    /// instead of --jwt-jwks-url; needs --jwt-issuer and --jwt-audience.
    #[arg(long, env = "GATEBELL_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<Secret>,
    /// The `iss` a JWT must carry.
    #[arg(long, env = "GATEBELL_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The `aud` a JWT must carry (one of its values).
    #[arg(long, env = "GATEBELL_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// The JWT claim holding the user's role: resident, guard or admin.
    #[arg(long, env = "GATEBELL_JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: String,
    /// The JWT claim holding the user's unit (created when new).
    #[arg(long, env = "GATEBELL_JWT_UNIT_CLAIM", default_value = "unit")]
    pub jwt_unit_claim: String,
    /// The JWT claim holding the user's language (BCP 47, `hi-IN`): used when the server has
    /// a catalog for it, else the stored language (English by default) stays.
    #[arg(long, env = "GATEBELL_JWT_LOCALE_CLAIM", default_value = "locale")]
    pub jwt_locale_claim: String,
    /// Fetch the JWKS over plain http and from private addresses (only for tests against a
    /// local key server).
    #[arg(long, env = "GATEBELL_JWT_JWKS_ALLOW_PRIVATE", hide = true)]
    pub jwt_jwks_allow_private: bool,
    /// Least time between two JWKS fetches caused by unknown `kid`s (ms).
    #[arg(
        long,
        env = "GATEBELL_JWT_JWKS_MIN_REFETCH_MS",
        default_value_t = 60_000,
        hide = true
    )]
    pub jwt_jwks_min_refetch_ms: u64,
    /// The shortest `Cache-Control: max-age` of a JWKS answer honoured (ms); tests lower it.
    #[arg(
        long,
        env = "GATEBELL_JWT_JWKS_MIN_MAX_AGE_MS",
        default_value_t = 60_000,
        hide = true
    )]
    pub jwt_jwks_min_max_age_ms: u64,
    /// Seconds of clock skew allowed when checking a JWT's `exp` and `nbf`.
    #[arg(long = "jwt-leeway", env = "GATEBELL_JWT_LEEWAY", default_value_t = 60)]
    pub jwt_leeway_secs: u64,
    /// URL that receives signed webhooks (`visit.approved`, `visit.rejected`) when a resident
    /// decides; needs --webhook-secret.
    #[arg(long, env = "GATEBELL_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Standard Webhooks signing secret, `whsec_` and base64 of at least 24 bytes.
    #[arg(long, env = "GATEBELL_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,
    /// Longest wait between two tries of a webhook the receiver did not take, in seconds
    /// (tries back off from one second; a webhook is given up a day after it was made).
    #[arg(
        long = "webhook-retry-max",
        env = "GATEBELL_WEBHOOK_RETRY_MAX",
        default_value_t = 600
    )]
    pub webhook_retry_max_secs: u64,
    /// Comma-separated origins (`https://app.example.com`) whose browser apps may call the API
    /// from another origin (CORS); none when absent.
    #[arg(long, env = "GATEBELL_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds a walk-in waits for any of its household to decide or open it before they are
    /// texted and emailed (per each one's channels); 0 turns escalation off.
    #[arg(
        long = "escalate-after",
        env = "GATEBELL_ESCALATE_AFTER",
        default_value_t = 45
    )]
    pub escalate_after_secs: u32,
    /// The address residents reach this server at, for the Approve / Reject links in texts and
    /// emails (default: `http://` and the address it listens on).
    #[arg(long, env = "GATEBELL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Base URL of the Twilio-compatible SMS API.
    #[arg(
        long,
        env = "GATEBELL_SMS_API_URL",
        default_value = "https://api.twilio.com"
    )]
    pub sms_api_url: String,
    /// SMS account SID (the Basic auth user; part of the API path); SMS is off without it.
    #[arg(long, env = "GATEBELL_SMS_ACCOUNT_SID")]
    pub sms_account_sid: Option<String>,
    /// SMS auth token (the Basic auth password).
    #[arg(long, env = "GATEBELL_SMS_AUTH_TOKEN", hide_env_values = true)]
    pub sms_auth_token: Option<Secret>,
    /// The number (E.164) or sender id texts come from.
    #[arg(long, env = "GATEBELL_SMS_FROM")]
    pub sms_from: Option<String>,
    /// SMTP server, as `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtp://host:25` (plain, local relays only); email is off without it.
    #[arg(long, env = "GATEBELL_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,
    /// The From of emails, `Gatebell <gate@example.com>`.
    #[arg(long, env = "GATEBELL_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// PEM file of CA certificates the outbound TLS clients (SMS API, SMTP, JWKS) trust beside
    /// the built-in roots: a private CA, or a test's own.
    #[arg(long, env = "GATEBELL_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
    /// Seconds between housekeeping runs (expired sessions, retention).
    #[arg(
        long = "housekeeping-interval",
        env = "GATEBELL_HOUSEKEEPING_INTERVAL",
        default_value_t = 3600,
        hide = true
    )]
    pub housekeeping_interval_secs: u64,
    /// How long a claimed outbox row stays reserved before another dispatcher may take it (ms).
    #[arg(
        long,
        env = "GATEBELL_CLAIM_LEASE_MS",
        default_value_t = 30_000,
        hide = true
    )]
    pub claim_lease_ms: i64,
}

/// The settings the app runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub args: ServeArgs,
    pub allow_list: AllowList,
    /// The certificates of `--extra-ca-file`, read and checked at start.
    pub extra_ca: ExtraCa,
}

impl Config {
    /// Validates the flags.
    pub fn from_args(args: ServeArgs) -> anyhow::Result<Config> {
        let hosts = args
            .push_allow_hosts
            .clone()
            .unwrap_or_else(|| DEFAULT_PUSH_HOSTS.iter().map(|s| s.to_string()).collect());
        if !(args.vapid_subject.starts_with("mailto:") || args.vapid_subject.starts_with("https:"))
        {
            anyhow::bail!("--vapid-subject must start with mailto: or https:");
        }
        if args.service_key.as_ref().is_some_and(|k| k.len() < 16) {
            anyhow::bail!("--service-key must be at least 16 characters");
        }
        if args.max_connections == 0 || args.header_timeout_secs == 0 {
            anyhow::bail!("--max-connections and --header-timeout must be at least 1");
        }
        if args.max_streams_per_user == 0 || args.housekeeping_interval_secs == 0 {
            anyhow::bail!("--max-streams-per-user and --housekeeping-interval must be at least 1");
        }
        if args.metrics_token.as_ref().is_some_and(|k| k.len() < 16) {
            anyhow::bail!("--metrics-token must be at least 16 characters");
        }
        if args.walkin_ttl_secs == 0 || args.checkin_ttl_secs == 0 {
            anyhow::bail!("push TTLs must be at least one second");
        }
        if args.walkin_expiry_secs == 0 {
            anyhow::bail!("--walkin-expiry must be at least one second");
        }
        if args.otp_failures_per_guard == 0
            || args.otp_failures_per_gate == 0
            || args.otp_failure_window_secs == 0
            || args.max_open_invitations == 0
        {
            anyhow::bail!(
                "--otp-failures-per-guard, --otp-failures-per-gate, --otp-failure-window and \
                 --max-open-invitations must be at least 1"
            );
        }
        if args
            .code_secret
            .as_ref()
            .is_some_and(|k| k.len() < MIN_SECRET_LEN)
        {
            anyhow::bail!(
                "--code-secret must be at least {} characters",
                MIN_SECRET_LEN
            );
        }
        let extra_ca = match &args.extra_ca_file {
            Some(path) => ExtraCa::load(path)?,
            None => ExtraCa::default(),
        };
        check_jwt(&args)?;
        check_webhook(&args)?;
        check_messages(&args)?;
        for origin in &args.cors_origins {
            check_origin(origin)?;
        }
        Ok(Config {
            allow_list: AllowList::new(hosts, args.push_allow_http),
            extra_ca,
            args,
        })
    }

    /// Whether JWT bearer tokens are accepted.
    pub fn jwt_enabled(&self) -> bool {
        self.args.jwt_jwks_url.is_some() || self.args.jwt_hs256_secret.is_some()
    }

    /// Walk-in push TTL in milliseconds.
    pub fn walkin_ttl_ms(&self) -> i64 {
        i64::from(self.args.walkin_ttl_secs) * 1000
    }

    /// How long a walk-in waits for a decision, in milliseconds.
    pub fn walkin_expiry_ms(&self) -> i64 {
        i64::from(self.args.walkin_expiry_secs) * 1000
    }

    /// The window of the wrong-code limits in milliseconds.
    pub fn otp_failure_window_ms(&self) -> i64 {
        i64::from(self.args.otp_failure_window_secs) * 1000
    }

    /// Check-in push TTL in milliseconds.
    pub fn checkin_ttl_ms(&self) -> i64 {
        i64::from(self.args.checkin_ttl_secs) * 1000
    }

    /// How long a walk-in waits before escalation, in milliseconds; None: never.
    pub fn escalate_after_ms(&self) -> Option<i64> {
        (self.args.escalate_after_secs > 0).then(|| i64::from(self.args.escalate_after_secs) * 1000)
    }

    /// Whether texts can be sent.
    pub fn sms_enabled(&self) -> bool {
        self.args.sms_account_sid.is_some()
    }

    /// Whether emails can be sent.
    pub fn email_enabled(&self) -> bool {
        self.args.smtp_url.is_some()
    }

    /// Where links in texts and emails point, without a trailing slash ([`crate::start`] sets
    /// the bound address when `--public-url` is not given).
    pub fn public_url(&self) -> String {
        match &self.args.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.args.listen),
        }
    }
}
