//! Reading certificates for people: subject, issuer, serial, validity and the SHA-256 figures that
//! identify a certificate and its key.

use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// One presented certificate, described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// RFC 3339.
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub sha256: String,
    /// SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex: the key's identity.
    pub spki_sha256: String,
    /// Set when the certificate could not be parsed; the other text fields are then placeholders.
    pub parse_error: Option<String>,
}

/// The parts of a certificate the verdict logic reasons about.
#[derive(Clone, Debug)]
pub struct CertFacts {
    pub summary: CertSummary,
    /// Raw DER of the subject and issuer names, for exact comparisons.
    pub subject_der: Vec<u8>,
    pub issuer_der: Vec<u8>,
    pub subject_cn: String,
    pub issuer_cn: String,
    pub not_before: i64,
    pub not_after: i64,
}

impl CertFacts {
    pub fn self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }
}

/// Describes a certificate; a certificate x509-parser cannot read still gets its hashes.
pub fn facts(der: &CertificateDer<'_>) -> CertFacts {
    let sha256 = hex(&Sha256::digest(der.as_ref()));
    match X509Certificate::from_der(der.as_ref()) {
        Ok((_, cert)) => {
            let validity = cert.validity();
            CertFacts {
                summary: CertSummary {
                    subject: cert.subject().to_string(),
                    issuer: cert.issuer().to_string(),
                    serial: hex(cert.raw_serial()),
                    not_before: rfc3339(validity.not_before.to_datetime()),
                    not_after: rfc3339(validity.not_after.to_datetime()),
                    sha256,
                    spki_sha256: hex(&Sha256::digest(cert.public_key().raw)),
                    parse_error: None,
                },
                subject_der: cert.subject().as_raw().to_vec(),
                issuer_der: cert.issuer().as_raw().to_vec(),
                subject_cn: display_name(cert.subject()),
                issuer_cn: display_name(cert.issuer()),
                not_before: validity.not_before.timestamp(),
                not_after: validity.not_after.timestamp(),
            }
        }
        Err(e) => CertFacts {
            summary: CertSummary {
                subject: "(unparseable)".into(),
                issuer: "(unparseable)".into(),
                serial: String::new(),
                not_before: String::new(),
                not_after: String::new(),
                sha256,
                spki_sha256: String::new(),
                parse_error: Some(e.to_string()),
            },
            subject_der: Vec::new(),
            issuer_der: Vec::new(),
            subject_cn: "(unparseable)".into(),
            issuer_cn: "(unparseable)".into(),
            not_before: i64::MIN,
            not_after: i64::MAX,
        },
    }
}

/// The common name, or the whole name when it has none: what people call a CA.
pub fn display_name(name: &X509Name<'_>) -> String {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| name.to_string())
}

/// Describes a name given as the contents of its DER SEQUENCE (how webpki stores anchor subjects).
pub fn name_from_contents(contents: &[u8]) -> String {
    let der = wrap_sequence(contents);
    match X509Name::from_der(&der) {
        Ok((_, name)) => display_name(&name),
        Err(_) => "(unreadable name)".into(),
    }
}

/// Re-adds the SEQUENCE header that webpki strips from names and keys.
pub fn wrap_sequence(contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![0x30];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_headers_use_long_form_when_needed() {
        assert_eq!(wrap_sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
        let long = wrap_sequence(&[0u8; 300]);
        assert_eq!(&long[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(long.len(), 304);
    }

    #[test]
    fn garbage_still_gets_a_hash() {
        let f = facts(&CertificateDer::from(vec![1, 2, 3]));
        assert!(f.summary.parse_error.is_some());
        assert_eq!(f.summary.sha256.len(), 64);
    }
}
