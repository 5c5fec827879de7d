//! Reading the files a user hands over: certificate files (PEM or DER) and target lists. Every error
//! names the file, and the line where there is one.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::model::target::{TargetError, parse_spec};

/// Why an input file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Certificates { path: String, reason: String },
    #[error("{path}:{line}: {source}")]
    Target {
        path: String,
        line: usize,
        #[source]
        source: TargetError,
    },
}

/// Certificates from a PEM file (every CERTIFICATE block, in order) or a single DER certificate.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, InputError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| InputError::Read {
        path: shown.clone(),
        source,
    })?;
    certs_from_bytes(bytes, &shown)
}

/// Certificates from the bytes of a PEM file or a single DER certificate; `shown` names the file
/// in errors.
pub fn certs_from_bytes(
    bytes: Vec<u8>,
    shown: &str,
) -> Result<Vec<CertificateDer<'static>>, InputError> {
    let bad = |reason: String| InputError::Certificates {
        path: shown.to_owned(),
        reason,
    };
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("malformed PEM: {e}")))?;
        if certs.is_empty() {
            return Err(bad("no CERTIFICATE blocks in this PEM file".into()));
        }
        for (i, cert) in certs.iter().enumerate() {
            if let Err(e) = X509Certificate::from_der(cert.as_ref()) {
                return Err(bad(format!(
                    "certificate {} is not valid X.509: {e}",
                    i + 1
                )));
            }
        }
        return Ok(certs);
    }
    match X509Certificate::from_der(&bytes) {
        Ok(_) => Ok(vec![CertificateDer::from(bytes)]),
        Err(_) if bytes.is_empty() => Err(bad("the file is empty".into())),
        Err(e) => Err(bad(format!(
            "neither PEM (no '-----BEGIN' line) nor a DER certificate ({e})"
        ))),
    }
}

/// `host[:port]` lines; blank lines and `#` comments (whole-line or trailing) are skipped.
pub fn read_targets_file(path: &Path) -> Result<Vec<(String, u16)>, InputError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let spec = parse_spec(content).map_err(|source| InputError::Target {
            path: shown.clone(),
            line: i + 1,
            source,
        })?;
        out.push(spec);
    }
    Ok(out)
}
