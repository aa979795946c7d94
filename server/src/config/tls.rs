//! The TLS listener's settings, made from four inputs and `--no-tls`.

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::settings::Options;

/// Default TCP port of the TLS listener.
pub const DEFAULT_TLS_PORT: u16 = 8037;

/// Settings of the TLS listener, present only when TLS is enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Port of the TLS listener (default 8037).
    pub port: u16,
    /// PEM file holding the certificate chain.
    pub cert_file: PathBuf,
    /// PEM file holding the private key.
    pub key_file: PathBuf,
}

/// [`Settings::tls`](super::Settings::tls) from the merged layers: `None` unless
/// TLS is enabled (`server.tls.enabled`, `GOCHAT_TLS`, `--tls`) and `--no-tls` is
/// not given; then both files must be named.
pub(super) fn resolve(layers: &Options) -> Result<Option<TlsSettings>, ConfigError> {
    let enabled = layers.no_tls != Some(true) && layers.tls_enabled == Some(true);
    if !enabled {
        return Ok(None);
    }
    let cert_file = non_empty(layers.cert_file.as_deref()).ok_or(ConfigError::TlsIncomplete {
        what: "certificate file",
        key: "cert_file",
        flag: "cert-file",
        env: "CERT_FILE",
    })?;
    let key_file = non_empty(layers.key_file.as_deref()).ok_or(ConfigError::TlsIncomplete {
        what: "private key file",
        key: "key_file",
        flag: "key-file",
        env: "KEY_FILE",
    })?;
    Ok(Some(TlsSettings {
        port: layers.tls_port.unwrap_or(DEFAULT_TLS_PORT),
        cert_file,
        key_file,
    }))
}

fn non_empty(path: Option<&Path>) -> Option<PathBuf> {
    path.filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
}
