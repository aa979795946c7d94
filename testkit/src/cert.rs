//! The test servers' TLS certificate: a self-signed fixture for `localhost`
//! and `127.0.0.1` (P-256, valid until 2126), read from the crate's
//! `fixtures/` folder, so tests write no files for it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The certificate and key files and a client configuration trusting them.
pub struct TestCert {
    /// PEM certificate for `localhost` and `127.0.0.1`.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// A rustls client configuration whose only root is this certificate.
    pub client: Arc<rustls::ClientConfig>,
}

/// The fixture certificate.
pub fn test_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let cert_file = dir.join("test-cert.pem");
        let key_file = dir.join("test-key.pem");
        let client = gochat_runtime::tls::client_config(
            &gochat_runtime::tls::ServerVerification::CaFile(cert_file.clone()),
        )
        .expect("client TLS configuration from the fixture certificate");
        TestCert {
            cert_file,
            key_file,
            client,
        }
    })
}
