//! Texts through a Twilio-compatible REST API: `POST {api}/2010-04-01/Accounts/{sid}/Messages.json`
//! with Basic auth `AccountSid:AuthToken` and the form fields `To`, `From`, `Body`.

use std::time::{Duration, Instant};

use crate::channels::Sent;
use crate::config::Config;

/// How long the API has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The SMS API client.
pub struct SmsClient {
    client: reqwest::Client,
    url: String,
    sid: String,
    token: crate::config::Secret,
    from: String,
}

impl SmsClient {
    /// The client, when `--sms-account-sid` (and so the token and sender) is set.
    pub fn new(config: &Config) -> anyhow::Result<Option<SmsClient>> {
        let a = &config.args.sms;
        let (Some(sid), Some(token), Some(from)) = (&a.account_sid, &a.auth_token, &a.from) else {
            return Ok(None);
        };
        Ok(Some(SmsClient {
            // The API is the operator's choice, not a user's: no public-address check, but
            // no redirects (the auth token goes where configured, nowhere else).
            client: config
                .extra_ca
                .trusted_by(reqwest::Client::builder())
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .build()?,
            url: format!(
                "{}/2010-04-01/Accounts/{sid}/Messages.json",
                a.api_url.trim_end_matches('/')
            ),
            sid: sid.clone(),
            token: token.clone(),
            from: from.clone(),
        }))
    }

    /// Sends one text.
    pub async fn send(&self, to: &str, body: &str) -> Sent {
        let started = Instant::now();
        let request = self
            .client
            .post(&self.url)
            .basic_auth(&self.sid, Some(&*self.token))
            .form(&[("To", to), ("From", &self.from), ("Body", body)]);
        match request.send().await {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = crate::channels::retry_after_ms(resp.headers());
                let latency_ms = started.elapsed().as_millis() as i64;
                if status.is_success() {
                    return Sent::Accepted {
                        status: status.as_u16(),
                        latency_ms,
                    };
                }
                // Twilio's errors are JSON `{code, message, more_info, status}`.
                let text = resp.text().await.unwrap_or_default();
                let why = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| {
                        Some(format!(
                            "{} (code {})",
                            v.get("message")?.as_str()?,
                            v.get("code").map(|c| c.to_string()).unwrap_or_default()
                        ))
                    })
                    .unwrap_or_else(|| format!("the SMS API answered {status}"));
                let transient =
                    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                Sent::Refused {
                    status: Some(status.as_u16()),
                    error: why,
                    transient,
                    retry_after_ms: retry_after,
                    latency_ms,
                }
            }
            Err(e) => Sent::Refused {
                status: None,
                error: crate::channels::egress::chain(&e),
                transient: true,
                retry_after_ms: None,
                latency_ms: started.elapsed().as_millis() as i64,
            },
        }
    }
}
