//! Reading the files a user hands over: certificate files (PEM or DER) and target lists, `-` being
//! standard input. Every error names the file (or "standard input"), and the line where there is
//! one, and says what is wrong in words.

pub mod exemptions;

use std::io::Read as _;
use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::error::X509Error;
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
    #[error("{path} is not UTF-8 text (line {line})")]
    NotText { path: String, line: usize },
    /// Every bad line of a targets file, each once with its line number.
    #[error("{}", bad_lines(path, lines))]
    Targets {
        path: String,
        lines: Vec<(usize, TargetError)>,
    },
}

fn bad_lines(path: &str, lines: &[(usize, TargetError)]) -> String {
    lines
        .iter()
        .map(|(line, e)| format!("{path}:{line}: {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path that names standard input.
pub const STDIN: &str = "-";

/// The bytes of `path` (standard input for `-`) and how it is named in errors.
fn read_input(path: &Path) -> Result<(Vec<u8>, String), InputError> {
    if path.as_os_str() == STDIN {
        let shown = "standard input".to_owned();
        let mut bytes = Vec::new();
        return match std::io::stdin().lock().read_to_end(&mut bytes) {
            Ok(_) => Ok((bytes, shown)),
            Err(source) => Err(InputError::Read {
                path: shown,
                source,
            }),
        };
    }
    let shown = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => Ok((bytes, shown)),
        Err(source) => Err(InputError::Read {
            path: shown,
            source,
        }),
    }
}

/// Certificates from a PEM file (every CERTIFICATE block, in order) or a single DER certificate;
/// `-` is standard input.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, InputError> {
    let (bytes, shown) = read_input(path)?;
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
            .map_err(|e| bad(format!("malformed PEM: {}", pem_words(&e))))?;
        if certs.is_empty() {
            return Err(bad("no CERTIFICATE blocks in this PEM file".into()));
        }
        for (i, cert) in certs.iter().enumerate() {
            if let Err(e) = X509Certificate::from_der(cert.as_ref()) {
                return Err(bad(format!(
                    "certificate {} is not valid X.509: {}",
                    i + 1,
                    x509_words(&e)
                )));
            }
        }
        return Ok(certs);
    }
    match X509Certificate::from_der(&bytes) {
        Ok(_) => Ok(vec![CertificateDer::from(bytes)]),
        Err(_) if bytes.is_empty() => Err(bad("the file is empty".into())),
        Err(e) => Err(bad(format!(
            "neither PEM (no '-----BEGIN' line) nor a DER certificate ({})",
            x509_words(&e)
        ))),
    }
}

/// What is wrong with a PEM file, in words.
fn pem_words(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { .. } => {
            "a '-----BEGIN' line has no matching '-----END' line".into()
        }
        Error::IllegalSectionStart { .. } => "a '-----BEGIN' line is malformed".into(),
        Error::Base64Decode(_) => "a block's base64 text is corrupt".into(),
        Error::NoItemsFound => "no PEM blocks".into(),
        other => other.to_string(),
    }
}

/// What is wrong with a DER certificate, in words (the parser's own errors are debugging text).
fn x509_words(e: &x509_parser::nom::Err<X509Error>) -> String {
    use x509_parser::nom::Err;
    match e {
        Err::Incomplete(_) => "the data ends before the certificate does (truncated)".into(),
        Err::Error(x) | Err::Failure(x) => match x {
            X509Error::Der(_) | X509Error::NomError(_) | X509Error::Generic => {
                "the bytes are not a DER-encoded certificate (truncated or corrupt)".into()
            }
            other => other.to_string(),
        },
    }
}

/// `host[:port]` lines (or URLs, see [`parse_spec`]); blank lines and `#` comments (whole-line or
/// trailing) are skipped, and a UTF-8 byte order mark is ignored; `-` is standard input. Every bad
/// line is reported, each once, with its number.
pub fn read_targets_file(path: &Path) -> Result<Vec<(String, u16)>, InputError> {
    let (bytes, shown) = read_input(path)?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(InputError::NotText { path: shown, line });
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        match parse_spec(content) {
            Ok(spec) => out.push(spec),
            Err(e) => bad.push((i + 1, e)),
        }
    }
    if !bad.is_empty() {
        return Err(InputError::Targets {
            path: shown,
            lines: bad,
        });
    }
    Ok(out)
}
