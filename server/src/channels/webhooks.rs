//! Signed webhooks to the existing backend (`--webhook-url`), per the Standard Webhooks
//! specification with the `standardwebhooks` crate (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256>`). The queue that sends them is
//! [`crate::outbox::webhooks`].

/// Signs webhook bodies with the `--webhook-secret`.
pub struct Signer(standardwebhooks::Webhook);

impl Signer {
    /// Reads a `whsec_<base64>` secret ([`crate::config::webhook_key`]).
    pub fn new(secret: &str) -> anyhow::Result<Signer> {
        let key = crate::config::webhook_key(secret)?;
        Ok(Signer(standardwebhooks::Webhook::from_bytes(key)?))
    }

    /// The three headers of one try: id, timestamp (seconds) and signature.
    pub fn headers(
        &self,
        id: &str,
        timestamp_secs: i64,
        body: &str,
    ) -> anyhow::Result<[(&'static str, String); 3]> {
        let signature = self.0.sign(id, timestamp_secs, body.as_bytes())?;
        Ok([
            (standardwebhooks::HEADER_WEBHOOK_ID, id.to_owned()),
            (
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp_secs.to_string(),
            ),
            (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn signatures_verify_with_the_standard_library() {
        let signer = Signer::new(SECRET).unwrap();
        let body = r#"{"type":"visit.approved"}"#;
        let ts = crate::db::now_ms() / 1000;
        let headers = signer.headers("msg_1", ts, body).unwrap();
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in &headers {
            map.insert(*k, v.parse().unwrap());
        }
        let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
        verifier.verify(body.as_bytes(), &map).unwrap();
        assert!(verifier.verify(b"{}", &map).is_err());
        assert!(headers[2].1.starts_with("v1,"));
    }

    #[test]
    fn the_secret_must_be_a_whsec_of_24_bytes() {
        assert!(Signer::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(Signer::new("whsec_not*base64").is_err());
        assert!(Signer::new("whsec_c2hvcnQ=").is_err());
    }
}
