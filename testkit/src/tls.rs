//! A certificate authority made for one test ([`TestCa`], with `rcgen`) and HTTPS serving with
//! its certificate ([`TestCa::serve_https`], with `tokio-rustls`), so that a client's real TLS
//! path runs against a local fake: the client is told to trust the CA (the server's
//! `--extra-ca-file`), and the fake presents a certificate for `localhost` and `127.0.0.1`
//! signed by it. A client that does not trust the CA refuses the fake, as it would refuse an
//! impostor.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A test CA and a server certificate it signed for `localhost` and `127.0.0.1`.
pub struct TestCa {
    ca_pem: String,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

impl TestCa {
    /// A new CA (ECDSA P-256) and its server certificate.
    pub fn new() -> TestCa {
        let ca_key = KeyPair::generate().expect("testkit: CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("testkit: CA params");
        ca.distinguished_name
            .push(DnType::CommonName, "Gatebell test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("testkit: CA certificate");
        let issuer = Issuer::new(ca, ca_key);

        let key = KeyPair::generate().expect("testkit: server key");
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("testkit: server params");
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = leaf
            .signed_by(&key, &issuer)
            .expect("testkit: server certificate");
        TestCa {
            ca_pem: ca_cert.pem(),
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        }
    }

    /// The CA certificate, PEM: what a client is told to trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate, PEM, for servers in other languages (the SMTP sink).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The server certificate's private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A rustls server configuration presenting the server certificate, offering `alpn`.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("testkit: TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .expect("testkit: server certificate and key");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// Serves `router` over HTTPS (HTTP/1.1 and HTTP/2 by ALPN) on 127.0.0.1 at a random port.
    pub async fn serve_https(&self, router: Router) -> HttpsServer {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("testkit: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("testkit: local_addr");
        let acceptor = TlsAcceptor::from(self.server_config(&[b"h2", b"http/1.1"]));
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                while conns.try_join_next().is_some() {}
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(router.clone());
                conns.spawn(async move {
                    // A client that does not trust the CA ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let _ = Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        HttpsServer { addr, task }
    }
}

impl Default for TestCa {
    fn default() -> TestCa {
        TestCa::new()
    }
}

/// An HTTPS server started by [`TestCa::serve_https`]; stops when dropped.
pub struct HttpsServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl HttpsServer {
    /// `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `https://localhost:PORT`: the same server by a name that resolves to a private address.
    pub fn localhost_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
