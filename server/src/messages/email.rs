//! Email through SMTP with `lettre`: TLS (`smtps://`), STARTTLS (`smtp://…?tls=required`) or
//! plain for a local relay (`smtp://host:25`), plain text plus HTML.

use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::Sent;
use crate::config::Config;

/// How long the SMTP server has for each command.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the transport an `--smtp-url` names (connections are pooled).
pub fn transport(
    url: &str,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
        .timeout(Some(TIMEOUT))
        .build())
}

/// The email client.
pub struct EmailClient {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailClient {
    /// The client, when `--smtp-url` (and so `--smtp-from`) is set.
    pub fn new(config: &Config) -> anyhow::Result<Option<EmailClient>> {
        let (Some(url), Some(from)) = (&config.args.smtp_url, &config.args.smtp_from) else {
            return Ok(None);
        };
        Ok(Some(EmailClient {
            transport: transport(url)?,
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
                refused(crate::egress::chain(&e), !e.is_permanent(), status)
            }
        }
    }
}

fn reply_code(code: &lettre::transport::smtp::response::Code) -> u16 {
    code.to_string().parse().unwrap_or(0)
}
