//! The extra CA certificates every outbound TLS client trusts (`--extra-ca-file`).

/// CA certificates trusted beside the built-in roots (`--extra-ca-file`): a private CA of the
/// operator's SMTP server, SMS gateway or key server, or a test's own CA. Every outbound TLS
/// client built from the configuration takes them ([`ExtraCa::trusted_by`]; email in
/// [`crate::channels::email`]).
#[derive(Clone, Default)]
pub struct ExtraCa {
    pem: Vec<u8>,
    count: usize,
}

impl ExtraCa {
    /// Reads a PEM file of one or more certificates; a file with none, or one that is not a
    /// certificate, is an error (a typo would otherwise show only as refused connections).
    pub fn load(path: &std::path::Path) -> anyhow::Result<ExtraCa> {
        let pem = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("--extra-ca-file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| anyhow::anyhow!("--extra-ca-file {}: {e}", path.display()))?;
        if certs.is_empty() {
            anyhow::bail!(
                "--extra-ca-file {}: no PEM certificate in it",
                path.display()
            );
        }
        let ca = ExtraCa {
            count: certs.len(),
            pem,
        };
        // The TLS library parses each certificate only here, so a bad one stops the start.
        ca.trusted_by(reqwest::Client::builder())
            .build()
            .map_err(|e| {
                anyhow::anyhow!(
                    "--extra-ca-file {}: {:#}",
                    path.display(),
                    anyhow::Error::new(e)
                )
            })?;
        Ok(ca)
    }

    /// Whether no extra CA is configured.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The PEM text of the certificates.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// `builder`, also trusting these CAs.
    pub fn trusted_by(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        if self.is_empty() {
            return builder;
        }
        let certs = reqwest::Certificate::from_pem_bundle(&self.pem).unwrap_or_default();
        certs
            .into_iter()
            .fold(builder, |b, cert| b.add_root_certificate(cert))
    }
}

impl std::fmt::Debug for ExtraCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExtraCa({} certificates)", self.count)
    }
}
