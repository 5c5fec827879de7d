//! Certificate Transparency as Apple devices apply it: the Signed Certificate Timestamps a server
//! provides (embedded in the leaf, in the TLS extension, in a stapled OCSP response) are verified
//! against the logs of Apple's CT log list, and Apple's CT policy (how many valid SCTs, from how
//! many distinct log operators, for a certificate of this lifetime) is applied. Pure: bytes, the
//! log list and a point in time go in; a report comes out.

use rustls_pki_types::UnixTime;
use serde::Serialize;

pub use crate::apple_store::{CtLog, LogState};

/// Where an SCT came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SctSource {
    Embedded,
    TlsExtension,
    Ocsp,
}

/// What became of one SCT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SctStatus {
    /// The log's key verifies the SCT's signature over this certificate.
    Verified,
    /// The log is known but its signature does not verify over this certificate: the SCT belongs
    /// to another certificate (copied), or the certificate was altered.
    InvalidSignature,
    /// No log in the list has this id.
    UnknownLog,
    /// The signature verifies, but the log was not acceptable for this SCT (rejected, pending,
    /// retired before the SCT's time, or outside its temporal interval).
    LogNotAccepted,
    /// The SCT's timestamp is after the moment of judgement.
    FutureTimestamp,
    /// The SCT could not be parsed, or uses an algorithm that cannot be checked.
    Malformed,
}

/// One SCT, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SctCheck {
    pub source: SctSource,
    /// The log id, base64 as in the log list.
    pub log_id: String,
    /// The log's description, when the list knows it.
    pub log: Option<String>,
    pub operator: Option<String>,
    /// The SCT's timestamp, RFC 3339.
    pub timestamp: Option<String>,
    pub status: SctStatus,
}

/// Apple's CT policy applied to one leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CtReport {
    pub scts: Vec<SctCheck>,
    /// How many valid SCTs Apple's policy asks of a certificate of this lifetime.
    pub required: usize,
    /// How many SCTs verified and came from acceptable logs.
    pub verified: usize,
    /// How many distinct operators those verified SCTs come from.
    pub operators: usize,
    /// Whether the leaf meets Apple's CT policy.
    pub compliant: bool,
}

/// Verifies every SCT the server provided for `leaf` and applies Apple's CT policy at `at`.
/// `issuer_spki` is the DER SubjectPublicKeyInfo of the leaf's issuer (needed for embedded SCTs,
/// which sign the precertificate with the issuer's key hash); `tls_scts` is the raw
/// SignedCertificateTimestampList from the TLS extension; `stapled_ocsp` a raw OCSP response.
pub fn evaluate(
    leaf: &[u8],
    issuer_spki: Option<&[u8]>,
    tls_scts: Option<&[u8]>,
    stapled_ocsp: Option<&[u8]>,
    logs: &[CtLog],
    at: UnixTime,
) -> CtReport {
    let _ = (leaf, issuer_spki, tls_scts, stapled_ocsp, logs, at);
    todo!("helper: CT verification")
}

/// One sentence saying what was verified.
pub fn summary(report: &CtReport) -> String {
    let _ = report;
    todo!("helper: CT summary")
}
