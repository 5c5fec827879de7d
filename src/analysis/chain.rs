//! Reading certificates for people: subject, issuer, serial, validity and the SHA-256 figures that
//! identify a certificate and its key.

use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::extensions::{DistributionPointName, GeneralName};
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate, X509Name};

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
    /// Subject organisation and country attributes, as Apple's pinning checks read them.
    pub subject_o: Vec<String>,
    pub subject_c: Vec<String>,
    pub issuer_o: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    /// Every extension: dotted OID and raw value.
    pub extensions: Vec<(String, Vec<u8>)>,
    /// Certificate policy OIDs.
    pub policies: Vec<String>,
    pub is_ca: bool,
    /// The serial number's DER INTEGER content octets, as OCSP requests and CRLs carry it.
    pub raw_serial: Vec<u8>,
    /// The DER SubjectPublicKeyInfo: what this certificate's signatures are checked with.
    pub spki_der: Vec<u8>,
    /// OCSP responder URLs from the AuthorityInfoAccess extension, in order.
    pub ocsp_urls: Vec<String>,
    /// CRL URLs from the CRLDistributionPoints extension (full names only), in order.
    pub crl_urls: Vec<String>,
}

/// Embedded Signed Certificate Timestamps (RFC 6962).
pub const SCT_LIST_OID: &str = "1.3.6.1.4.1.11129.2.4.2";
/// The CT poison extension that marks a precertificate (RFC 6962 §3.1).
pub const CT_POISON_OID: &str = "1.3.6.1.4.1.11129.2.4.3";

impl CertFacts {
    pub fn self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }

    pub fn has_extension(&self, oid: &str) -> bool {
        self.extensions.iter().any(|(o, _)| o == oid)
    }

    /// A marker as Apple's pinning rules write it: `OID` (the extension is present) or
    /// `EXT=VALUE` (extension EXT carries the OID VALUE, DER-encoded or as text).
    pub fn has_marker(&self, marker: &str) -> bool {
        match marker.split_once('=') {
            None => self.has_extension(marker),
            Some((ext, value)) => {
                let der = crate::der::oid_content(value);
                self.extensions.iter().any(|(o, v)| {
                    o == ext
                        && (der.as_ref().is_some_and(|d| contains(v, d))
                            || contains(v, value.as_bytes()))
                })
            }
        }
    }

    /// The subject's CN and O, the attributes people and products name CAs by.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.subject_cn.as_str()).chain(self.subject_o.iter().map(String::as_str))
    }

    /// The issuer's CN and O.
    pub fn issuer_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.issuer_cn.as_str()).chain(self.issuer_o.iter().map(String::as_str))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
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
                subject_o: attr_strings(cert.subject().iter_organization()),
                subject_c: attr_strings(cert.subject().iter_country()),
                issuer_o: attr_strings(cert.issuer().iter_organization()),
                not_before: validity.not_before.timestamp(),
                not_after: validity.not_after.timestamp(),
                extensions: cert
                    .extensions()
                    .iter()
                    .map(|e| (e.oid.to_id_string(), e.value.to_vec()))
                    .collect(),
                policies: cert
                    .extensions()
                    .iter()
                    .filter_map(|e| match e.parsed_extension() {
                        ParsedExtension::CertificatePolicies(p) => Some(p),
                        _ => None,
                    })
                    .flatten()
                    .map(|i| i.policy_id.to_id_string())
                    .collect(),
                is_ca: cert.is_ca(),
                raw_serial: cert.raw_serial().to_vec(),
                spki_der: cert.public_key().raw.to_vec(),
                ocsp_urls: ocsp_urls(&cert),
                crl_urls: crl_urls(&cert),
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
            subject_o: Vec::new(),
            subject_c: Vec::new(),
            issuer_o: Vec::new(),
            not_before: i64::MIN,
            not_after: i64::MAX,
            extensions: Vec::new(),
            policies: Vec::new(),
            is_ca: false,
            raw_serial: Vec::new(),
            spki_der: Vec::new(),
            ocsp_urls: Vec::new(),
            crl_urls: Vec::new(),
        },
    }
}

/// id-ad-ocsp, the AuthorityInfoAccess method naming an OCSP responder.
const AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";

fn ocsp_urls(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => Some(aia),
            _ => None,
        })
        .flat_map(|aia| aia.iter())
        .filter(|d| d.access_method.to_id_string() == AD_OCSP)
        .filter_map(|d| match &d.access_location {
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            _ => None,
        })
        .collect()
}

fn crl_urls(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => Some(points),
            _ => None,
        })
        .flat_map(|points| points.iter())
        .filter_map(|p| match &p.distribution_point {
            Some(DistributionPointName::FullName(names)) => Some(names),
            _ => None,
        })
        .flatten()
        .filter_map(|n| match n {
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            _ => None,
        })
        .collect()
}

fn attr_strings<'a>(
    attrs: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Vec<String> {
    attrs
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
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
    crate::der::sequence(contents)
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
    fn garbage_still_gets_a_hash() {
        let f = facts(&CertificateDer::from(vec![1, 2, 3]));
        assert!(f.summary.parse_error.is_some());
        assert_eq!(f.summary.sha256.len(), 64);
    }
}
