//! `--web.config.file`: the Prometheus exporter-toolkit's web configuration (YAML), which every
//! Prometheus exporter accepts, so one file serves them all: `tls_server_config` (`cert_file`,
//! `key_file`) serves HTTPS, `basic_auth_users` (name: bcrypt hash) requires basic auth. Keys
//! pinscope does not implement (client certificates, cipher choices…) are refused rather than
//! ignored, so a file never promises a protection that is not there.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebFile {
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: PathBuf,
    key_file: PathBuf,
}

/// The web configuration, loaded: the TLS server settings and the users.
#[derive(Clone, Default)]
pub struct WebConfig {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub auth: Option<Arc<BasicAuth>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

/// A web configuration that cannot be used; every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The users and their bcrypt hashes; credentials once verified are remembered (as a SHA-256 of
/// the header), so a scrape every few seconds does not cost a bcrypt verification each time.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// At most this many verified credentials are remembered (then the memory starts afresh).
const VERIFIED_CAP: usize = 1024;

impl WebConfig {
    /// Reads the file; relative certificate and key paths are taken from its folder.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let shown = path.display().to_string();
        let invalid = |message: String| WebConfigError::Invalid {
            path: shown.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: WebFile = if text.trim().is_empty() {
            WebFile::default()
        } else {
            serde_norway::from_str(&text).map_err(|e| invalid(e.to_string()))?
        };
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        let tls = match file.tls_server_config {
            Some(t) => Some(Arc::new(
                tls_config(&dir.join(&t.cert_file), &dir.join(&t.key_file)).map_err(invalid)?,
            )),
            None => None,
        };
        for (name, hash) in &file.basic_auth_users {
            // Checked now, so a typo is an error at start-up rather than a 401 at every scrape.
            if bcrypt::verify("", hash).is_err() {
                return Err(invalid(format!(
                    "basic_auth_users: {name}: not a bcrypt hash (htpasswd -nBC 10 \"\" {name})"
                )));
            }
        }
        let auth = (!file.basic_auth_users.is_empty()).then(|| {
            Arc::new(BasicAuth {
                users: file.basic_auth_users,
                verified: Mutex::new(HashSet::new()),
            })
        });
        Ok(Self { tls, auth })
    }
}

fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, String> {
    let chain =
        crate::input::load_certs(cert).map_err(|e| format!("tls_server_config: cert_file: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "tls_server_config: key_file {}: no usable private key ({e})",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls_server_config: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("tls_server_config: the certificate and key do not go together: {e}"))
}

impl BasicAuth {
    /// Whether this exact `Authorization` header was verified before (cheap: no bcrypt). Such
    /// requests (Prometheus' scrapes) are not held back by the limit that guards bcrypt from
    /// password guessing, so unauthenticated traffic cannot starve them.
    pub fn known(&self, header: Option<&str>) -> bool {
        header.is_some_and(|h| {
            self.verified
                .lock()
                .is_ok_and(|verified| verified.contains(&digest(h)))
        })
    }

    /// Whether an `Authorization` header value names a user with the right password. Slow (bcrypt)
    /// the first time a credential is seen: call it off the async threads.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some(header) = header else {
            return false;
        };
        let digest = digest(header);
        if let Ok(verified) = self.verified.lock()
            && verified.contains(&digest)
        {
            return true;
        }
        let Some(encoded) = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, v)| v.trim())
        else {
            return false;
        };
        let Some(decoded) = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
        else {
            return false;
        };
        let Some((user, password)) = decoded.split_once(':') else {
            return false;
        };
        // An unknown user costs the same bcrypt verification as a known one (against another
        // user's hash, then refused), so response times do not tell which user names exist.
        let (hash, known) = match self.users.get(user) {
            Some(hash) => (hash, true),
            None => match self.users.values().next() {
                Some(hash) => (hash, false),
                None => return false,
            },
        };
        let ok = bcrypt::verify(password, hash).unwrap_or(false) && known;
        if ok && let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_CAP {
                verified.clear();
            }
            verified.insert(digest);
        }
        ok
    }
}

/// What the verified-credentials cache keeps of an `Authorization` header: its SHA-256, never the
/// password.
fn digest(header: &str) -> [u8; 32] {
    Sha256::digest(header.as_bytes()).into()
}
