//! Judging OCSP responses and CRLs: parsed, signatures checked, the certificate's status looked up.
//!
//! Also the pure half of fetching: which URLs a chain names, and the DER OCSP request for each
//! certificate ([`plan`]), so the probe only moves bytes.
//!
//! "Could not check" never reads as "not revoked": every entry is one of good, revoked, unknown,
//! unreachable, invalid or not_checked, with the reason in `detail`.
//!
//! - `plan`: the fetches a chain calls for;
//! - `ocsp`: the OCSP request and response (RFC 6960), and what a response says;
//! - `signer`: who may sign an OCSP response;
//! - `crl`: CRLs (RFC 5280), DER or PEM;
//! - `http`: HTTP answers that are not what a responder sends (error statuses, block pages);
//! - `judge`: one status per fetch, and the findings.

mod crl;
mod http;
mod judge;
mod ocsp;
mod plan;
mod signer;

use serde::Serialize;

use super::Finding;
use crate::model::observation::RevocationKind;

pub use judge::{judge, judge_body};
pub(super) use ocsp::ocsp_single_extension;
pub use ocsp::{IssuerKeyError, RequestError, ocsp_request};
pub use plan::plan;

/// What one OCSP responder or CRL said about one certificate (JSON `revocation`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevocationStatus {
    pub kind: RevocationKind,
    pub url: String,
    /// The certificate's subject CN (or whole subject when it has none).
    pub certificate: String,
    pub certificate_sha256: String,
    pub status: Status,
    pub detail: String,
    /// For `revoked`: the CRL reason (RFC 5280 name), when the CA gave one.
    pub reason: Option<String>,
    /// For `revoked`: when, RFC 3339.
    pub revoked_at: Option<String>,
    /// The response's or CRL's thisUpdate and nextUpdate, RFC 3339, when one was read.
    pub this_update: Option<String>,
    pub next_update: Option<String>,
}

/// The answer for one certificate from one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A correctly signed, current answer says the certificate is not revoked.
    Good,
    /// A correctly signed answer says the certificate is revoked.
    Revoked,
    /// The responder does not know the certificate, or the answer is out of date: not checked.
    Unknown,
    /// The responder or CRL server could not be reached: not checked.
    Unreachable,
    /// What came back is not a usable, correctly signed answer (a block page, an error, a bad
    /// signature, over the size cap): not checked.
    Invalid,
    /// pinscope did not ask (an https URL, the issuer was not presented): not checked.
    NotChecked,
}

/// The revocation findings for one target.
#[derive(Debug, Default)]
pub struct RevocationJudgement {
    pub findings: Vec<Finding>,
    pub statuses: Vec<RevocationStatus>,
    /// Some certificate of the chain is revoked.
    pub revoked: bool,
}

/// RFC 5280 CRLReason names (OCSP uses the same codes).
fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => "unrecognised",
    }
}
