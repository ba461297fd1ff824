//! `gatebell serve` configuration: flags with environment-variable fallbacks (`--help` lists
//! them), turned into the [`Config`] the app runs with.

mod allowlist;
mod checks;
mod extra_ca;
mod flags;
mod secret;

pub use allowlist::{AllowList, DEFAULT_PUSH_HOSTS};
pub use checks::webhook_key;
pub use extra_ca::ExtraCa;
pub use flags::{
    AccessArgs, EmailArgs, HttpArgs, JwtArgs, LimitArgs, PushArgs, ServeArgs, SmsArgs, StoreArgs,
    VisitArgs, WebhookArgs,
};
pub use secret::Secret;

use checks::{check_jwt, check_messages, check_origin, check_webhook};

/// Shortest `--code-secret` accepted.
pub const MIN_SECRET_LEN: usize = 16;

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
            .push
            .push_allow_hosts
            .clone()
            .unwrap_or_else(|| DEFAULT_PUSH_HOSTS.iter().map(|s| s.to_string()).collect());
        if !(args.push.vapid_subject.starts_with("mailto:")
            || args.push.vapid_subject.starts_with("https:"))
        {
            anyhow::bail!("--vapid-subject must start with mailto: or https:");
        }
        if args
            .access
            .service_key
            .as_ref()
            .is_some_and(|k| k.len() < 16)
        {
            anyhow::bail!("--service-key must be at least 16 characters");
        }
        if args.http.max_connections == 0 || args.http.header_timeout_secs == 0 {
            anyhow::bail!("--max-connections and --header-timeout must be at least 1");
        }
        if args.limits.max_streams_per_user == 0 || args.store.housekeeping_interval_secs == 0 {
            anyhow::bail!("--max-streams-per-user and --housekeeping-interval must be at least 1");
        }
        if args
            .access
            .metrics_token
            .as_ref()
            .is_some_and(|k| k.len() < 16)
        {
            anyhow::bail!("--metrics-token must be at least 16 characters");
        }
        if args.visits.walkin_ttl_secs == 0 || args.visits.checkin_ttl_secs == 0 {
            anyhow::bail!("push TTLs must be at least one second");
        }
        if args.visits.walkin_expiry_secs == 0 {
            anyhow::bail!("--walkin-expiry must be at least one second");
        }
        if args.limits.otp_failures_per_guard == 0
            || args.limits.otp_failures_per_gate == 0
            || args.limits.otp_failure_window_secs == 0
            || args.visits.max_open_invitations == 0
        {
            anyhow::bail!(
                "--otp-failures-per-guard, --otp-failures-per-gate, --otp-failure-window and \
                 --max-open-invitations must be at least 1"
            );
        }
        if args
            .access
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
        check_jwt(&args.jwt)?;
        check_webhook(&args.webhook)?;
        check_messages(&args)?;
        for origin in &args.http.cors_origins {
            check_origin(origin)?;
        }
        Ok(Config {
            allow_list: AllowList::new(hosts, args.push.push_allow_http),
            extra_ca,
            args,
        })
    }

    /// Whether JWT bearer tokens are accepted.
    pub fn jwt_enabled(&self) -> bool {
        self.args.jwt.jwks_url.is_some() || self.args.jwt.hs256_secret.is_some()
    }

    /// Walk-in push TTL in milliseconds.
    pub fn walkin_ttl_ms(&self) -> i64 {
        i64::from(self.args.visits.walkin_ttl_secs) * 1000
    }

    /// How long a walk-in waits for a decision, in milliseconds.
    pub fn walkin_expiry_ms(&self) -> i64 {
        i64::from(self.args.visits.walkin_expiry_secs) * 1000
    }

    /// The window of the wrong-code limits in milliseconds.
    pub fn otp_failure_window_ms(&self) -> i64 {
        i64::from(self.args.limits.otp_failure_window_secs) * 1000
    }

    /// Check-in push TTL in milliseconds.
    pub fn checkin_ttl_ms(&self) -> i64 {
        i64::from(self.args.visits.checkin_ttl_secs) * 1000
    }

    /// How long a walk-in waits before escalation, in milliseconds; None: never.
    pub fn escalate_after_ms(&self) -> Option<i64> {
        (self.args.visits.escalate_after_secs > 0)
            .then(|| i64::from(self.args.visits.escalate_after_secs) * 1000)
    }

    /// Whether texts can be sent.
    pub fn sms_enabled(&self) -> bool {
        self.args.sms.account_sid.is_some()
    }

    /// Whether emails can be sent.
    pub fn email_enabled(&self) -> bool {
        self.args.email.url.is_some()
    }

    /// Where links in texts and emails point, without a trailing slash ([`crate::start`] sets
    /// the bound address when `--public-url` is not given).
    pub fn public_url(&self) -> String {
        match &self.args.http.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.args.http.listen),
        }
    }
}
