//! Email through SMTP with `lettre`: TLS (`smtps://`), STARTTLS (`smtp://…?tls=required`) or
//! plain for a local relay (`smtp://host:25`), plain text plus HTML.

use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::channels::Sent;
use crate::config::Config;
use crate::config::ExtraCa;

/// How long the SMTP server has for each command.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the transport an `--smtp-url` names (connections are pooled); its TLS, if any, also
/// trusts `extra_ca`.
pub fn transport(
    url: &str,
    extra_ca: &ExtraCa,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.timeout(Some(TIMEOUT));
    if let Some(tls) = tls_trusting(url, extra_ca)? {
        builder = builder.tls(tls);
    }
    Ok(builder.build())
}

/// The TLS mode `url` names (as `from_url` reads it) with the extra CA among the roots; None
/// when the URL is plain or there is no extra CA (`from_url`'s own TLS then stands).
fn tls_trusting(
    url: &str,
    extra_ca: &ExtraCa,
) -> Result<Option<Tls>, lettre::transport::smtp::Error> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(None);
    };
    let (Some(host), false) = (parsed.host_str(), extra_ca.is_empty()) else {
        return Ok(None);
    };
    let mode = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let wrap: fn(TlsParameters) -> Tls = match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper,
        ("smtp", Some("required")) => Tls::Required,
        ("smtp", Some("opportunistic")) => Tls::Opportunistic,
        _ => return Ok(None),
    };
    let params = TlsParameters::builder(host.to_owned())
        .add_root_certificate(Certificate::from_pem(extra_ca.pem())?)
        .build_rustls()?;
    Ok(Some(wrap(params)))
}

/// The email client.
pub struct EmailClient {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailClient {
    /// The client, when `--smtp-url` (and so `--smtp-from`) is set.
    pub fn new(config: &Config) -> anyhow::Result<Option<EmailClient>> {
        let (Some(url), Some(from)) = (&config.args.email.url, &config.args.email.from) else {
            return Ok(None);
        };
        Ok(Some(EmailClient {
            transport: transport(url, &config.extra_ca)
                .map_err(|e| anyhow::anyhow!("--smtp-url is not usable: {e}"))?,
            from: from.parse()?,
        }))
    }

    /// Sends one email with a plain-text and an HTML part.
    pub async fn send(&self, to: &str, subject: &str, text: &str, html: &str) -> Sent {
        let started = Instant::now();
        let refused = |error: String, transient: bool, status: Option<u16>| Sent::Refused {
            status,
            error,
            transient,
            retry_after_ms: None,
            latency_ms: started.elapsed().as_millis() as i64,
        };
        let to: Mailbox = match to.parse() {
            Ok(m) => m,
            Err(e) => return refused(format!("not an address: {e}"), false, None),
        };
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(
                text.to_owned(),
                html.to_owned(),
            ));
        let message = match message {
            Ok(m) => m,
            Err(e) => return refused(format!("building the email: {e}"), false, None),
        };
        match self.transport.send(message).await {
            Ok(resp) => Sent::Accepted {
                status: reply_code(&resp.code()),
                latency_ms: started.elapsed().as_millis() as i64,
            },
            // A 5xx reply will not change on a retry; a 4xx or a dropped connection may.
            Err(e) => {
                let status = e.status().map(|c| reply_code(&c));
                refused(
                    crate::channels::egress::chain(&e),
                    !e.is_permanent(),
                    status,
                )
            }
        }
    }
}

fn reply_code(code: &lettre::transport::smtp::response::Code) -> u16 {
    code.to_string().parse().unwrap_or(0)
}
