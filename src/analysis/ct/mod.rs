//! Certificate Transparency as Apple devices apply it: the Signed Certificate Timestamps a server
//! provides (embedded in the leaf, in the TLS extension, in a stapled OCSP response) are verified
//! against the logs of Apple's CT log list, and Apple's CT policy (how many valid SCTs, from how
//! many distinct log operators, for a certificate of this lifetime) is applied. Pure: bytes, the
//! log list and a point in time go in; a report comes out.
//!
//! The policy is Apple's (support.apple.com/103214): embedded SCTs need, by certificate lifetime
//! (notBefore through notAfter inclusive, in days of 86,400 seconds, any remainder counting as a
//! day), 2 SCTs from distinct logs with at most 1 per operator counting (180 days or less) or 3
//! with at most 2 per operator counting (more than 180 days), at least one of them from a currently
//! approved log; SCTs delivered in the TLS handshake or a stapled OCSP response need 2 from
//! currently approved logs of distinct operators. Currently approved: usable, qualified or
//! read-only, or retired or rejected after the moment of judgement; once approved: retired, for SCTs
//! dated before the retirement. Pending logs never count, rejected ones only in a judgement made
//! before the rejection; a temporally sharded log counts only for certificates whose notAfter falls in
//! its interval. Not applied: Apple's requirement that one counted SCT come from an RFC 6962 log
//! rather than a static-ct-api (tiled) one, since [`CtLog`] does not say which kind a log is.
//!
//! Everything read from the server (SCT bytes, log ids, OCSP responses) is reported only as
//! base64, hex or numbers; names in the report come from the log list.

use std::collections::{BTreeMap, BTreeSet};

mod leaf;
mod sct;
#[cfg(test)]
mod tests;

use leaf::*;
use sct::*;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature;
use rustls_pki_types::UnixTime;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::revocation::ocsp_single_extension;
pub use crate::apple_store::{CtLog, LogState};
use crate::der::{self as asn1, DerError, Reader, Tlv, encode as der, tlv};

/// 1.3.6.1.4.1.11129.2.4.2: the certificate extension carrying embedded SCTs.
const OID_SCT_LIST: &[u8] = asn1::oid::SCT_LIST;
/// 1.3.6.1.4.1.11129.2.4.5: the OCSP singleExtension carrying SCTs.
const OID_OCSP_SCT_LIST: &[u8] = asn1::oid::OCSP_SCT_LIST;
/// 1.2.840.10045.2.1 id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &[u8] = asn1::oid::EC_PUBLIC_KEY;
/// 1.2.840.10045.3.1.7 secp256r1.
const OID_P256: &[u8] = asn1::oid::P256;
/// 1.3.132.0.34 secp384r1.
const OID_P384: &[u8] = asn1::oid::P384;
/// 1.2.840.113549.1.1.1 rsaEncryption.
const OID_RSA: &[u8] = asn1::oid::RSA;

const DAY_SECS: i64 = 86_400;
/// Certificates of this lifetime (days) or less need fewer embedded SCTs.
const SHORT_LIFETIME_DAYS: i64 = 180;
/// SCTs checked from one source; real lists hold 2 to 5, the rest of a longer one is skipped.
const MAX_SCTS_PER_SOURCE: usize = 32;

/// TLS HashAlgorithm sha256, the only one RFC 6962 allows.
const HASH_SHA256: u8 = 4;
/// TLS SignatureAlgorithm rsa.
const SIG_RSA: u8 = 1;
/// TLS SignatureAlgorithm ecdsa.
const SIG_ECDSA: u8 = 3;

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
    /// An embedded SCT signs the issuer's key hash, and the issuer's key was not given: the
    /// signature could not be checked (this says nothing against the SCT).
    IssuerUnknown,
}

impl SctStatus {
    /// How the summary names a group of SCTs with this status.
    fn phrase(self) -> &'static str {
        match self {
            SctStatus::Verified => "verified",
            SctStatus::InvalidSignature => "with an invalid signature",
            SctStatus::UnknownLog => "from logs not in Apple's list",
            SctStatus::LogNotAccepted => "from logs Apple does not accept for this certificate",
            SctStatus::FutureTimestamp => "dated after the time of checking",
            SctStatus::Malformed => "malformed or of an algorithm that cannot be checked",
            SctStatus::IssuerUnknown => "not checkable without the issuer's key",
        }
    }
}

/// One SCT, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SctCheck {
    pub source: SctSource,
    /// The log id, base64 as in the log list (empty when the SCT was too short to hold one).
    pub log_id: String,
    /// The log's description, when the list knows it.
    pub log: Option<String>,
    pub operator: Option<String>,
    /// The SCT's timestamp, RFC 3339.
    pub timestamp: Option<String>,
    pub status: SctStatus,
    /// Why the status is what it is, in words (never the server's bytes).
    pub detail: Option<String>,
}

/// Which of Apple's rules decided compliance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CtRoute {
    /// SCTs embedded in the certificate, counted by certificate lifetime.
    Embedded,
    /// SCTs delivered in the TLS extension or a stapled OCSP response.
    Delivered,
}

/// Apple's CT policy applied to one leaf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CtReport {
    pub scts: Vec<SctCheck>,
    /// How many valid SCTs Apple's policy asks of a certificate of this lifetime (for the rule
    /// that applied).
    pub required: usize,
    /// How many distinct logs gave an SCT that verified and came from an acceptable log (all
    /// sources).
    pub verified: usize,
    /// How many distinct operators those verified SCTs come from.
    pub operators: usize,
    /// Those operators' names, from the log list, sorted.
    pub operator_names: Vec<String>,
    /// Whether the leaf meets Apple's CT policy.
    pub compliant: bool,
    /// The rule that applied.
    pub route: CtRoute,
    /// The rule that applied, in words.
    pub rule: String,
    /// The certificate's lifetime in days as Apple counts it, when the certificate could be read.
    pub lifetime_days: Option<i64>,
    /// Anything that kept SCTs from being looked at (an unreadable certificate or OCSP response).
    pub notes: Vec<String>,
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
    let mut notes = Vec::new();
    let facts = match read_leaf(leaf) {
        Ok(f) => Some(f),
        Err(e) => {
            notes.push(format!("the certificate could not be read ({e})"));
            None
        }
    };
    let ctx = Context {
        leaf,
        facts: facts.as_ref(),
        issuer_spki,
        logs,
        at_ms: i128::from(at.as_secs()) * 1000,
        precert: std::cell::OnceCell::new(),
    };

    let mut checked = Vec::new();
    if let Some(value) = facts.as_ref().and_then(|f| f.sct_extension) {
        ctx.check_list(
            SctSource::Embedded,
            unwrap_octet_string(value),
            &mut checked,
            &mut notes,
        );
    }
    if let Some(list) = tls_scts {
        ctx.check_list(SctSource::TlsExtension, Ok(list), &mut checked, &mut notes);
    }
    if let Some(ocsp) = stapled_ocsp {
        match ocsp_single_extension(ocsp, OID_OCSP_SCT_LIST) {
            Err(e) => notes.push(format!(
                "the stapled OCSP response could not be read for SCTs ({e})"
            )),
            Ok(found) => {
                let serial = facts.as_ref().map(|f| asn1::unsigned(f.serial));
                let mut other = false;
                for ext in found {
                    if Some(asn1::unsigned(ext.serial)) == serial {
                        ctx.check_list(
                            SctSource::Ocsp,
                            unwrap_octet_string(ext.value),
                            &mut checked,
                            &mut notes,
                        );
                    } else {
                        other = true;
                    }
                }
                if other {
                    notes.push(
                        "the stapled OCSP response carries SCTs for another certificate; they \
                         were not counted"
                            .into(),
                    );
                }
            }
        }
    }

    let lifetime_days = facts.as_ref().map(Facts::lifetime_days);
    apply_policy(checked, lifetime_days, notes)
}

/// One sentence saying what was verified.
pub fn summary(report: &CtReport) -> String {
    let total = report.scts.len();
    let mut out = if total == 0 {
        "No SCTs (none embedded in the certificate, in the TLS extension or in a stapled OCSP \
         response)"
            .to_owned()
    } else {
        let verified_scts = count(report, SctStatus::Verified);
        let mut s = format!(
            "{verified_scts} of {total} SCT{} verified against Apple's log list",
            plural(total)
        );
        let others: Vec<String> = [
            SctStatus::InvalidSignature,
            SctStatus::LogNotAccepted,
            SctStatus::UnknownLog,
            SctStatus::FutureTimestamp,
            SctStatus::IssuerUnknown,
            SctStatus::Malformed,
        ]
        .into_iter()
        .filter_map(|st| match count(report, st) {
            0 => None,
            n => Some(format!("{n} {}", st.phrase())),
        })
        .collect();
        if !others.is_empty() {
            s.push_str(&format!(" ({})", others.join(", ")));
        }
        if report.operators > 0 {
            s.push_str(&format!(
                ", from {} operator{} ({})",
                report.operators,
                plural(report.operators),
                report.operator_names.join(", ")
            ));
        }
        s
    };
    let asks = match (report.route, report.lifetime_days) {
        (CtRoute::Embedded, Some(days)) => format!(
            "Apple's policy asks {} for a {days}-day certificate",
            report.required
        ),
        (CtRoute::Embedded, None) => format!(
            "Apple's policy asks at least {} for a certificate it cannot read",
            report.required
        ),
        (CtRoute::Delivered, _) => format!(
            "Apple's policy asks {} from distinct operators when SCTs come in the TLS handshake \
             or a stapled OCSP response",
            report.required
        ),
    };
    let verdict = if report.compliant {
        "compliant"
    } else {
        "not compliant"
    };
    out.push_str(&format!("; {asks}: {verdict}"));
    out
}

fn count(report: &CtReport, status: SctStatus) -> usize {
    report.scts.iter().filter(|c| c.status == status).count()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

// ---------------------------------------------------------------------------------------------
// Policy.

/// A verified SCT, as the policy counts it.
struct Counted {
    log_id: [u8; 32],
    operator: String,
    /// The log is usable, qualified or read-only (not merely retired after this SCT).
    current: bool,
    source: SctSource,
}

fn apply_policy(
    checked: Vec<(SctCheck, Option<Counted>)>,
    lifetime_days: Option<i64>,
    notes: Vec<String>,
) -> CtReport {
    let counted: Vec<&Counted> = checked.iter().filter_map(|(_, c)| c.as_ref()).collect();
    let distinct = |pred: &dyn Fn(&Counted) -> bool| -> Vec<&Counted> {
        let mut seen = BTreeSet::new();
        counted
            .iter()
            .copied()
            .filter(|c| pred(c) && seen.insert(c.log_id))
            .collect()
    };

    // Embedded: N SCTs from distinct logs, at most `cap` per operator counting, one of them from a
    // currently approved log. An unreadable certificate gets the stricter count.
    let short = lifetime_days.is_some_and(|d| d <= SHORT_LIFETIME_DAYS);
    let (needed, cap) = if short { (2, 1) } else { (3, 2) };
    let embedded = distinct(&|c| c.source == SctSource::Embedded);
    let mut per_operator: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &embedded {
        *per_operator.entry(c.operator.as_str()).or_default() += 1;
    }
    let counting: usize = per_operator.values().map(|&n| n.min(cap)).sum();
    let embedded_ok = counting >= needed && embedded.iter().any(|c| c.current);

    // Delivered: 2 SCTs from currently approved logs of distinct operators, at least one of them
    // presented in the TLS extension or a stapled OCSP response.
    let current = distinct(&|c| c.current);
    let current_operators: BTreeSet<&str> = current.iter().map(|c| c.operator.as_str()).collect();
    let delivered_ok = counted.iter().any(|c| c.source != SctSource::Embedded)
        && current.len() >= 2
        && current_operators.len() >= 2;

    let has_embedded = checked.iter().any(|(c, _)| c.source == SctSource::Embedded);
    let has_delivered = checked.iter().any(|(c, _)| c.source != SctSource::Embedded);
    let route = if embedded_ok {
        CtRoute::Embedded
    } else if delivered_ok || (has_delivered && !has_embedded) {
        CtRoute::Delivered
    } else {
        CtRoute::Embedded
    };
    let (required, rule) = match route {
        CtRoute::Embedded => (
            needed,
            format!(
                "embedded SCTs, lifetime {} 180 days: {needed} from distinct logs, at most {cap} \
                 per operator counting, one from a currently approved log",
                if short { "of at most" } else { "over" }
            ),
        ),
        CtRoute::Delivered => (
            2,
            "SCTs in the TLS extension or a stapled OCSP response: 2 from currently approved \
             logs of distinct operators"
                .to_owned(),
        ),
    };

    let all = distinct(&|_| true);
    let operator_names: BTreeSet<&str> = all.iter().map(|c| c.operator.as_str()).collect();
    CtReport {
        required,
        verified: all.len(),
        operators: operator_names.len(),
        operator_names: operator_names.into_iter().map(str::to_owned).collect(),
        compliant: embedded_ok || delivered_ok,
        route,
        rule,
        lifetime_days,
        notes,
        scts: checked.into_iter().map(|(c, _)| c).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Checking SCTs.

struct Context<'a> {
    leaf: &'a [u8],
    facts: Option<&'a Facts<'a>>,
    issuer_spki: Option<&'a [u8]>,
    logs: &'a [CtLog],
    at_ms: i128,
    /// The precertificate TBSCertificate, computed on the first embedded SCT.
    precert: std::cell::OnceCell<Result<Vec<u8>, DerError>>,
}

/// What an SCT signs.
enum Entry<'a> {
    X509(&'a [u8]),
    Precert {
        issuer_key_hash: [u8; 32],
        tbs: &'a [u8],
    },
}

impl Context<'_> {
    /// Checks every SCT of one TLS-encoded list (or records why the list is unreadable).
    fn check_list(
        &self,
        source: SctSource,
        list: Result<&[u8], String>,
        out: &mut Vec<(SctCheck, Option<Counted>)>,
        notes: &mut Vec<String>,
    ) {
        let items = match list.and_then(split_list) {
            Ok(items) => items,
            Err(e) => {
                out.push((malformed(source, "", e), None));
                return;
            }
        };
        if items.is_empty() {
            notes.push(format!("the {} SCT list is empty", source_name(source)));
        }
        if items.len() > MAX_SCTS_PER_SOURCE {
            notes.push(format!(
                "the {} SCT list holds {} SCTs; only the first {MAX_SCTS_PER_SOURCE} were checked",
                source_name(source),
                items.len()
            ));
        }
        for item in items.into_iter().take(MAX_SCTS_PER_SOURCE) {
            out.push(self.check_one(source, item));
        }
    }

    fn check_one(&self, source: SctSource, bytes: &[u8]) -> (SctCheck, Option<Counted>) {
        let sct = match parse_sct(bytes) {
            Ok(s) => s,
            Err(e) => {
                let id = bytes
                    .get(1..33)
                    .map(|id| BASE64.encode(id))
                    .unwrap_or_default();
                return (malformed(source, &id, e), None);
            }
        };
        let log = self.logs.iter().find(|l| l.log_id == sct.log_id);
        let mut check = SctCheck {
            source,
            log_id: BASE64.encode(sct.log_id),
            log: log.map(|l| l.description.clone()),
            operator: log.map(|l| l.operator.clone()),
            timestamp: rfc3339_ms(sct.timestamp),
            status: SctStatus::Verified,
            detail: None,
        };
        let Some(log) = log else {
            check.status = SctStatus::UnknownLog;
            check.detail = Some("no log in Apple's list has this id".into());
            return (check, None);
        };
        match self.judge(source, &sct, log) {
            Err((status, detail)) => {
                check.status = status;
                check.detail = Some(detail);
                (check, None)
            }
            Ok(current) => {
                if !current {
                    check.detail =
                        Some("the log is retired; it counts as it retired after this SCT".into());
                }
                let counted = Counted {
                    log_id: log.log_id,
                    operator: log.operator.clone(),
                    current,
                    source,
                };
                (check, Some(counted))
            }
        }
    }

    /// Checks one SCT of a known log: `Ok(true)` when it counts and the log is currently
    /// approved, `Ok(false)` when it counts as the log's SCT from before its retirement.
    fn judge(
        &self,
        source: SctSource,
        sct: &Sct<'_>,
        log: &CtLog,
    ) -> Result<bool, (SctStatus, String)> {
        let Some(facts) = self.facts else {
            return Err((
                SctStatus::Malformed,
                "the certificate could not be read".into(),
            ));
        };
        let entry = match source {
            SctSource::TlsExtension | SctSource::Ocsp => Entry::X509(self.leaf),
            SctSource::Embedded => {
                let Some(issuer) = self.issuer_spki else {
                    return Err((
                        SctStatus::IssuerUnknown,
                        "the issuer's public key is needed to check an embedded SCT".into(),
                    ));
                };
                let tbs = self
                    .precert
                    .get_or_init(|| precert_tbs(facts.tbs))
                    .as_ref()
                    .map_err(|e| {
                        (
                            SctStatus::Malformed,
                            format!("the precertificate could not be rebuilt ({e})"),
                        )
                    })?;
                let mut issuer_key_hash = [0u8; 32];
                issuer_key_hash.copy_from_slice(&Sha256::digest(issuer));
                Entry::Precert {
                    issuer_key_hash,
                    tbs,
                }
            }
        };
        let signed = signed_data(sct, &entry).map_err(|e| (SctStatus::Malformed, e))?;
        verify_sct(&log.key_der, sct, &signed).map_err(|e| match e {
            SigError::Invalid(e) => (SctStatus::InvalidSignature, e),
            SigError::Unsupported(e) => (SctStatus::Malformed, e),
        })?;
        if i128::from(sct.timestamp) > self.at_ms {
            return Err((
                SctStatus::FutureTimestamp,
                "the log dated this SCT after the time of checking".into(),
            ));
        }
        acceptance(log, sct.timestamp, facts.not_after, self.at_ms)
            .map_err(|e| (SctStatus::LogNotAccepted, e))
    }
}

fn source_name(source: SctSource) -> &'static str {
    match source {
        SctSource::Embedded => "embedded",
        SctSource::TlsExtension => "TLS extension",
        SctSource::Ocsp => "OCSP",
    }
}

fn malformed(source: SctSource, log_id: &str, detail: String) -> SctCheck {
    SctCheck {
        source,
        log_id: log_id.to_owned(),
        log: None,
        operator: None,
        timestamp: None,
        status: SctStatus::Malformed,
        detail: Some(detail),
    }
}

/// Whether Apple's policy lets this log's SCT count at the moment of judgement (`at_ms`):
/// `Ok(true)` for a log approved then, `Ok(false)` for one retired after the SCT, `Err` with the
/// reason otherwise. The list gives only each log's current state and since when; a log retired or
/// rejected after the moment of judgement was still approved at that moment (Apple marks every
/// expired shard rejected once its interval is over, so a historical judgement needs this).
fn acceptance(log: &CtLog, sct_ms: u64, not_after: i64, at_ms: i128) -> Result<bool, String> {
    let since = |what: &str| match log.state_since {
        Some(t) => format!("{what} since {}", date(t)),
        None => what.to_owned(),
    };
    let later = log
        .state_since
        .is_some_and(|t| i128::from(t) * 1000 > at_ms);
    let current = match log.state {
        LogState::Retired | LogState::Rejected if later => true,
        LogState::Usable | LogState::Qualified | LogState::ReadOnly => true,
        LogState::Retired => match log.state_since {
            Some(t) if i128::from(sct_ms) < i128::from(t) * 1000 => false,
            Some(t) => {
                return Err(format!(
                    "the log retired on {}, before this SCT was issued",
                    date(t)
                ));
            }
            None => {
                return Err("the log is retired and the list does not say since when".into());
            }
        },
        LogState::Pending => return Err(since("the log is pending in Apple's list")),
        LogState::Rejected => return Err(since("Apple's list marks the log rejected")),
    };
    if let Some((start, end)) = log.temporal_interval
        && !(start..end).contains(&not_after)
    {
        return Err(format!(
            "the log takes certificates expiring from {} until before {}; this one expires {}",
            date(start),
            date(end),
            date(not_after)
        ));
    }
    Ok(current)
}
