//! The checks [`super::Config::from_args`] makes: flags that go together, URLs, secrets.

use super::{JwtArgs, ServeArgs, WebhookArgs};

/// SMS needs its SID, token and sender together; email its server and sender; links an
/// http(s) public URL.
pub(super) fn check_messages(args: &ServeArgs) -> anyhow::Result<()> {
    let sms = [
        args.sms.account_sid.is_some(),
        args.sms.auth_token.is_some(),
        args.sms.from.is_some(),
    ];
    if sms.iter().any(|set| *set) && !sms.iter().all(|set| *set) {
        anyhow::bail!("--sms-account-sid, --sms-auth-token and --sms-from go together");
    }
    let sid_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if args.sms.account_sid.as_deref().is_some_and(|s| !sid_ok(s)) {
        anyhow::bail!("--sms-account-sid must be letters and digits");
    }
    let api = url::Url::parse(&args.sms.api_url)
        .map_err(|e| anyhow::anyhow!("--sms-api-url is not a URL: {e}"))?;
    if !matches!(api.scheme(), "http" | "https") {
        anyhow::bail!("--sms-api-url must be an http: or https: URL");
    }
    if args.email.url.is_some() != args.email.from.is_some() {
        anyhow::bail!("--smtp-url and --smtp-from go together");
    }
    if let Some(from) = &args.email.from {
        from.parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("--smtp-from is not an address: {e}"))?;
    }
    if let Some(url) = &args.http.public_url {
        let parsed =
            url::Url::parse(url).map_err(|e| anyhow::anyhow!("--public-url is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("--public-url must be an http: or https: URL");
        }
    }
    Ok(())
}

/// A webhook URL needs a secret in the Standard Webhooks form; the URL is the operator's own
/// (it may be on a private network), but must be http(s).
pub(super) fn check_webhook(webhook: &WebhookArgs) -> anyhow::Result<()> {
    match (&webhook.url, &webhook.secret) {
        (None, None) => Ok(()),
        (Some(url), Some(secret)) => {
            let parsed = url::Url::parse(url)
                .map_err(|e| anyhow::anyhow!("--webhook-url is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                anyhow::bail!("--webhook-url must be an http: or https: URL");
            }
            webhook_key(secret)?;
            if webhook.retry_max_secs == 0 {
                anyhow::bail!("--webhook-retry-max must be at least 1");
            }
            Ok(())
        }
        _ => anyhow::bail!("--webhook-url and --webhook-secret go together"),
    }
}

/// The key of a Standard Webhooks secret: `whsec_` and base64 of at least 24 bytes (the
/// shortest the Standard Webhooks libraries generate).
pub fn webhook_key(secret: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let encoded = secret
        .strip_prefix("whsec_")
        .ok_or_else(|| anyhow::anyhow!("--webhook-secret must start with whsec_"))?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| anyhow::anyhow!("--webhook-secret: whsec_ must be followed by base64"))?;
    if key.len() < 24 {
        anyhow::bail!("--webhook-secret must hold at least 24 bytes");
    }
    Ok(key)
}

/// An origin is a scheme, a host and an optional port: what a browser sends in `Origin`.
pub(super) fn check_origin(origin: &str) -> anyhow::Result<()> {
    let bad = || {
        anyhow::anyhow!(
            "--cors-origins: {origin:?} is not an origin such as https://app.example.com \
             (no wildcard, path or trailing slash)"
        )
    };
    let parsed = url::Url::parse(origin).map_err(|_| bad())?;
    if origin.contains('*')
        || !matches!(parsed.scheme(), "http" | "https")
        || parsed.origin().ascii_serialization() != origin
    {
        return Err(bad());
    }
    Ok(())
}

/// The JWT flags go together: one key source, and both the issuer and the audience, since a
/// token minted for another service of the same backend must not sign in here.
pub(super) fn check_jwt(jwt: &JwtArgs) -> anyhow::Result<()> {
    let on = match (&jwt.jwks_url, &jwt.hs256_secret) {
        (Some(_), Some(_)) => {
            anyhow::bail!("give either --jwt-jwks-url or --jwt-hs256-secret, not both")
        }
        (Some(url), None) => {
            let parsed = url::Url::parse(url)
                .map_err(|e| anyhow::anyhow!("--jwt-jwks-url is not a URL: {e}"))?;
            if parsed.scheme() != "https" && !jwt.jwks_allow_private {
                anyhow::bail!("--jwt-jwks-url must be an https: URL");
            }
            true
        }
        (None, Some(secret)) => {
            if secret.len() < 32 {
                anyhow::bail!("--jwt-hs256-secret must be at least 32 characters");
            }
            true
        }
        (None, None) => false,
    };
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
    if on && (blank(&jwt.issuer) || blank(&jwt.audience)) {
        anyhow::bail!(
            "JWT sign-in (--jwt-jwks-url or --jwt-hs256-secret) needs both --jwt-issuer and \
             --jwt-audience"
        );
    }
    if !on && (jwt.issuer.is_some() || jwt.audience.is_some()) {
        anyhow::bail!("--jwt-issuer and --jwt-audience need --jwt-jwks-url or --jwt-hs256-secret");
    }
    if jwt.role_claim.trim().is_empty() || jwt.unit_claim.trim().is_empty() {
        anyhow::bail!("--jwt-role-claim and --jwt-unit-claim must not be empty");
    }
    Ok(())
}
