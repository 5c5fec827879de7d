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

// ---------------------------------------------------------------------------------------------
// SCT lists and SCTs (RFC 6962 section 3.2, 3.3).

/// One parsed SCT.
#[derive(Debug)]
struct Sct<'a> {
    log_id: [u8; 32],
    /// Milliseconds since the Unix epoch.
    timestamp: u64,
    extensions: &'a [u8],
    hash_alg: u8,
    sig_alg: u8,
    signature: &'a [u8],
}

/// Reads big-endian TLS fields.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!(
                "truncated at the {what} ({n} bytes needed, {} left)",
                self.0.len()
            ));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        // `take` returned exactly one byte.
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<usize, String> {
        // `take` returned exactly two bytes.
        let b = self.take(2, what)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    /// A `u16`-length-prefixed opaque vector.
    fn vec16(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u16(what)?;
        self.take(n, what)
    }
}

/// The serialized SCTs of a TLS-encoded SignedCertificateTimestampList.
fn split_list(list: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut outer = Cursor(list);
    let body = outer
        .vec16("SCT list")
        .map_err(|e| format!("the SCT list is {e}"))?;
    if !outer.0.is_empty() {
        return Err(format!(
            "the SCT list is followed by {} stray bytes",
            outer.0.len()
        ));
    }
    let mut r = Cursor(body);
    let mut items = Vec::new();
    while !r.0.is_empty() {
        let item = r
            .vec16("SCT")
            .map_err(|e| format!("SCT {} of the list is {e}", items.len() + 1))?;
        if item.is_empty() {
            return Err(format!("SCT {} of the list is empty", items.len() + 1));
        }
        items.push(item);
    }
    Ok(items)
}

fn parse_sct(bytes: &[u8]) -> Result<Sct<'_>, String> {
    let mut r = Cursor(bytes);
    let version = r.u8("version")?;
    if version != 0 {
        return Err(format!("SCT version {version} (only v1, 0, is defined)"));
    }
    let mut log_id = [0u8; 32];
    log_id.copy_from_slice(r.take(32, "log id")?);
    let ts = r.take(8, "timestamp")?;
    let mut t = [0u8; 8];
    t.copy_from_slice(ts);
    let timestamp = u64::from_be_bytes(t);
    let extensions = r.vec16("extensions")?;
    let hash_alg = r.u8("hash algorithm")?;
    let sig_alg = r.u8("signature algorithm")?;
    let signature = r.vec16("signature")?;
    if !r.0.is_empty() {
        return Err(format!("{} stray bytes after the signature", r.0.len()));
    }
    Ok(Sct {
        log_id,
        timestamp,
        extensions,
        hash_alg,
        sig_alg,
        signature,
    })
}

/// The `digitally-signed` struct of RFC 6962 section 3.2 for this SCT over `entry`.
fn signed_data(sct: &Sct<'_>, entry: &Entry<'_>) -> Result<Vec<u8>, String> {
    fn u24(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
        let n = u32::try_from(bytes.len())
            .ok()
            .filter(|&n| n < 1 << 24)
            .ok_or("the certificate is too large for a CT entry")?;
        out.extend_from_slice(&n.to_be_bytes()[1..]);
        out.extend_from_slice(bytes);
        Ok(())
    }
    let mut out = Vec::with_capacity(64 + sct.extensions.len());
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&sct.timestamp.to_be_bytes());
    match entry {
        Entry::X509(cert) => {
            out.extend_from_slice(&0u16.to_be_bytes());
            u24(&mut out, cert)?;
        }
        Entry::Precert {
            issuer_key_hash,
            tbs,
        } => {
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(issuer_key_hash);
            u24(&mut out, tbs)?;
        }
    }
    // The extensions were read through a u16 length, so they fit one.
    let ext_len = u16::try_from(sct.extensions.len()).map_err(|_| "SCT extensions too long")?;
    out.extend_from_slice(&ext_len.to_be_bytes());
    out.extend_from_slice(sct.extensions);
    Ok(out)
}

enum SigError {
    /// The log's key does not verify the signature.
    Invalid(String),
    /// The signature cannot be checked (algorithm, or an unreadable key in the list).
    Unsupported(String),
}

fn verify_sct(log_spki: &[u8], sct: &Sct<'_>, signed: &[u8]) -> Result<(), SigError> {
    if sct.hash_alg != HASH_SHA256 {
        return Err(SigError::Unsupported(format!(
            "hash algorithm {} (RFC 6962 allows only SHA-256)",
            sct.hash_alg
        )));
    }
    let Spki { alg, params, key } = spki_parts(log_spki)
        .map_err(|e| SigError::Unsupported(format!("the log's key cannot be read ({e})")))?;
    let (algorithm, kind): (&'static dyn signature::VerificationAlgorithm, u8) =
        if alg == OID_EC_PUBLIC_KEY && params == Some(OID_P256) {
            (&signature::ECDSA_P256_SHA256_ASN1, SIG_ECDSA)
        } else if alg == OID_EC_PUBLIC_KEY && params == Some(OID_P384) {
            (&signature::ECDSA_P384_SHA256_ASN1, SIG_ECDSA)
        } else if alg == OID_RSA {
            (&signature::RSA_PKCS1_2048_8192_SHA256, SIG_RSA)
        } else {
            return Err(SigError::Unsupported(
                "the log's key is of a kind that cannot be checked".into(),
            ));
        };
    match sct.sig_alg {
        SIG_RSA | SIG_ECDSA if sct.sig_alg != kind => {
            return Err(SigError::Invalid(format!(
                "signed with {} but the log's key is {}",
                sig_alg_name(sct.sig_alg),
                sig_alg_name(kind)
            )));
        }
        SIG_RSA | SIG_ECDSA => {}
        other => {
            return Err(SigError::Unsupported(format!(
                "signature algorithm {other} cannot be checked"
            )));
        }
    }
    signature::UnparsedPublicKey::new(algorithm, key)
        .verify(signed, sct.signature)
        .map_err(|_| {
            SigError::Invalid("the log's signature does not verify over this certificate".into())
        })
}

fn sig_alg_name(alg: u8) -> &'static str {
    if alg == SIG_RSA { "RSA" } else { "ECDSA" }
}

/// The parts of a SubjectPublicKeyInfo a signature check needs.
struct Spki<'a> {
    /// The algorithm OID's content octets.
    alg: &'a [u8],
    /// The parameters when they are an OID (the named curve for EC).
    params: Option<&'a [u8]>,
    /// The key bits: the uncompressed point for EC, the RSAPublicKey for RSA.
    key: &'a [u8],
}

fn spki_parts(spki: &[u8]) -> Result<Spki<'_>, DerError> {
    let (seq, rest) = tlv(spki)?;
    if seq.tag != 0x30 || !rest.is_empty() {
        return Err(DerError::Malformed("not one DER SEQUENCE"));
    }
    let mut r = Reader(seq.content);
    let mut alg = Reader(r.expect(0x30, "algorithm")?.content);
    let oid = alg.expect(0x06, "algorithm OID")?.content;
    let params = alg.optional(0x06)?.map(|t| t.content);
    let bits = r.expect(0x03, "subjectPublicKey")?.content;
    match bits.split_first() {
        Some((0, key)) if !key.is_empty() => Ok(Spki {
            alg: oid,
            params,
            key,
        }),
        _ => Err(DerError::Malformed("malformed subjectPublicKey")),
    }
}

// ---------------------------------------------------------------------------------------------
// The leaf certificate.

/// What CT needs of the leaf, borrowed from its DER.
struct Facts<'a> {
    tbs: Tlv<'a>,
    /// The serialNumber INTEGER's content octets.
    serial: &'a [u8],
    not_before: i64,
    not_after: i64,
    /// The SCT list extension's extnValue content, when the leaf has one.
    sct_extension: Option<&'a [u8]>,
}

impl Facts<'_> {
    /// The lifetime as Apple counts it: notBefore through notAfter inclusive, in days of 86,400
    /// seconds, any part of a day counting as one.
    fn lifetime_days(&self) -> i64 {
        let secs = self
            .not_after
            .saturating_sub(self.not_before)
            .saturating_add(1)
            .max(0);
        secs / DAY_SECS + i64::from(secs % DAY_SECS != 0)
    }
}

fn read_leaf(cert_der: &[u8]) -> Result<Facts<'_>, DerError> {
    let (cert, rest) = tlv(cert_der)?;
    if cert.tag != 0x30 || !rest.is_empty() {
        return Err(DerError::Malformed("it is not one DER SEQUENCE"));
    }
    let tbs = Reader(cert.content).expect(0x30, "tbsCertificate")?;
    let mut t = Reader(tbs.content);
    t.optional(0xa0)?;
    let serial = t.expect(0x02, "serialNumber")?.content;
    t.expect(0x30, "signature")?;
    t.expect(0x30, "issuer")?;
    let mut validity = Reader(t.expect(0x30, "validity")?.content);
    let not_before = asn1::x509_time(&validity.next()?)?;
    let not_after = asn1::x509_time(&validity.next()?)?;
    t.expect(0x30, "subject")?;
    t.expect(0x30, "subjectPublicKeyInfo")?;
    let mut sct_extension = None;
    while !t.0.is_empty() {
        let el = t.next()?;
        if el.tag != 0xa3 {
            continue;
        }
        for ext in extensions(el)? {
            if ext.id == OID_SCT_LIST && sct_extension.is_none() {
                sct_extension = Some(ext.value);
            }
        }
    }
    Ok(Facts {
        tbs,
        serial,
        not_before,
        not_after,
        sct_extension,
    })
}

/// One certificate extension.
struct Extension<'a> {
    /// The extnID's content octets.
    id: &'a [u8],
    /// The extnValue's content octets.
    value: &'a [u8],
}

/// The extensions of a `[3] Extensions` element.
fn extensions<'a>(explicit: Tlv<'a>) -> Result<Vec<Extension<'a>>, DerError> {
    let mut outer = Reader(explicit.content);
    let mut list = Reader(outer.expect(0x30, "extensions")?.content);
    let mut out = Vec::new();
    while !list.0.is_empty() {
        let mut ext = Reader(list.expect(0x30, "extension")?.content);
        let id = ext.expect(0x06, "extnID")?.content;
        ext.optional(0x01)?;
        let value = ext.expect(0x04, "extnValue")?.content;
        out.push(Extension { id, value });
    }
    Ok(out)
}

/// The TBSCertificate of the precertificate the log signed: the leaf's, without the SCT list
/// extension (and without `[3]` when that leaves no extension), lengths re-encoded.
fn precert_tbs(tbs: Tlv<'_>) -> Result<Vec<u8>, DerError> {
    let mut content = Vec::with_capacity(tbs.raw.len());
    let mut r = Reader(tbs.content);
    while !r.0.is_empty() {
        let el = r.next()?;
        if el.tag != 0xa3 {
            content.extend_from_slice(el.raw);
            continue;
        }
        let mut outer = Reader(el.content);
        let mut list = Reader(outer.expect(0x30, "extensions")?.content);
        let mut kept = Vec::new();
        while !list.0.is_empty() {
            let ext = list.expect(0x30, "extension")?;
            let id = Reader(ext.content).expect(0x06, "extnID")?;
            if id.content != OID_SCT_LIST {
                kept.extend_from_slice(ext.raw);
            }
        }
        if !kept.is_empty() {
            content.extend(der(0xa3, &der(0x30, &kept)));
        }
    }
    Ok(der(0x30, &content))
}

/// The content of an extnValue that is itself a DER OCTET STRING (how RFC 6962 wraps SCT lists).
fn unwrap_octet_string(value: &[u8]) -> Result<&[u8], String> {
    match tlv(value) {
        Ok((t, [])) if t.tag == 0x04 => Ok(t.content),
        Ok(_) => Err("the SCT extension's value is not one OCTET STRING".into()),
        Err(e) => Err(format!("the SCT extension's value is not DER ({e})")),
    }
}

fn rfc3339_ms(ms: u64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// A date for sentences (YYYY-MM-DD), or the seconds when out of range.
fn date(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| secs.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    const DAY: i64 = 86_400;
    /// 2030-01-01T00:00:00Z: every synthetic certificate starts here.
    const START: i64 = 1_893_456_000;

    fn at(secs: i64) -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs as u64))
    }

    /// A log with a fresh P-256 key.
    struct TestLog {
        key: EcdsaKeyPair,
        log: CtLog,
    }

    fn test_log(name: &str, operator: &str, state: LogState) -> TestLog {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let alg = der(
            0x30,
            &[der(0x06, OID_EC_PUBLIC_KEY), der(0x06, OID_P256)].concat(),
        );
        let bits = [&[0u8][..], key.public_key().as_ref()].concat();
        let spki = der(0x30, &[alg, der(0x03, &bits)].concat());
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(&Sha256::digest(&spki));
        TestLog {
            key,
            log: CtLog {
                log_id,
                key_der: spki,
                description: name.into(),
                operator: operator.into(),
                state,
                state_since: Some(START - 10 * DAY),
                temporal_interval: None,
            },
        }
    }

    /// A serialized SCT by `log` over `entry` at `ts_ms`.
    fn sct(log: &TestLog, ts_ms: u64, entry: &Entry<'_>) -> Vec<u8> {
        let unsigned = Sct {
            log_id: log.log.log_id,
            timestamp: ts_ms,
            extensions: &[],
            hash_alg: HASH_SHA256,
            sig_alg: SIG_ECDSA,
            signature: &[],
        };
        let data = signed_data(&unsigned, entry).unwrap();
        let sig = log.key.sign(&SystemRandom::new(), &data).unwrap();
        let mut out = vec![0u8];
        out.extend_from_slice(&log.log.log_id);
        out.extend_from_slice(&ts_ms.to_be_bytes());
        out.extend_from_slice(&[0, 0, HASH_SHA256, SIG_ECDSA]);
        out.extend_from_slice(&(sig.as_ref().len() as u16).to_be_bytes());
        out.extend_from_slice(sig.as_ref());
        out
    }

    /// A TLS-encoded SignedCertificateTimestampList.
    fn list(scts: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        for s in scts {
            body.extend_from_slice(&(s.len() as u16).to_be_bytes());
            body.extend_from_slice(s);
        }
        let mut out = (body.len() as u16).to_be_bytes().to_vec();
        out.extend(body);
        out
    }

    /// A self-signed leaf valid for `days` from START.
    fn leaf(days: i64) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["ct.test".to_owned()]).unwrap();
        params.not_before = OffsetDateTime::from_unix_timestamp(START).unwrap();
        params.not_after = OffsetDateTime::from_unix_timestamp(START + days * DAY - 1).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    /// `cert` with an SCT list extension appended to its extensions (the CA's signature is left
    /// as it was: CT checking does not look at it).
    fn with_embedded(cert: &[u8], sct_list: &[u8]) -> Vec<u8> {
        let (c, _) = tlv(cert).unwrap();
        let mut parts = Reader(c.content);
        let tbs = parts.next().unwrap();
        let rest = parts.0;
        let ext = der(
            0x30,
            &[der(0x06, OID_SCT_LIST), der(0x04, &der(0x04, sct_list))].concat(),
        );
        let mut content = Vec::new();
        let mut r = Reader(tbs.content);
        while !r.0.is_empty() {
            let el = r.next().unwrap();
            if el.tag == 0xa3 {
                let inner = Reader(el.content).next().unwrap();
                let all = [inner.content, &ext].concat();
                content.extend(der(0xa3, &der(0x30, &all)));
            } else {
                content.extend_from_slice(el.raw);
            }
        }
        der(0x30, &[der(0x30, &content), rest.to_vec()].concat())
    }

    const ISSUER: &[u8] = b"the issuer's SubjectPublicKeyInfo";

    /// A leaf of `days` with embedded SCTs from `logs`, each at START + 1 hour.
    fn embedded_leaf(days: i64, logs: &[&TestLog]) -> Vec<u8> {
        let plain = leaf(days);
        let facts = read_leaf(&plain).unwrap();
        let tbs = precert_tbs(facts.tbs).unwrap();
        assert_eq!(tbs, facts.tbs.raw, "no SCT extension: the TBS is unchanged");
        let mut issuer_key_hash = [0u8; 32];
        issuer_key_hash.copy_from_slice(&Sha256::digest(ISSUER));
        let entry = Entry::Precert {
            issuer_key_hash,
            tbs: &tbs,
        };
        let ts = ((START + 3600) * 1000) as u64;
        let scts: Vec<Vec<u8>> = logs.iter().map(|l| sct(l, ts, &entry)).collect();
        with_embedded(&plain, &list(&scts))
    }

    fn logs(ls: &[&TestLog]) -> Vec<CtLog> {
        ls.iter().map(|l| l.log.clone()).collect()
    }

    fn statuses(r: &CtReport) -> Vec<SctStatus> {
        r.scts.iter().map(|s| s.status).collect()
    }

    fn ocsp_with_scts(serial: &[u8], sct_list: &[u8]) -> Vec<u8> {
        let sha1 = der(0x30, &der(0x06, asn1::oid::SHA1));
        let cert_id = der(
            0x30,
            &[
                sha1,
                der(0x04, &[0; 20]),
                der(0x04, &[0; 20]),
                der(0x02, serial),
            ]
            .concat(),
        );
        let ext = der(
            0x30,
            &[
                der(0x06, OID_OCSP_SCT_LIST),
                der(0x04, &der(0x04, sct_list)),
            ]
            .concat(),
        );
        let single = der(
            0x30,
            &[
                cert_id,
                vec![0x80, 0x00],
                der(0x18, b"20300101000000Z"),
                der(0xa1, &der(0x30, &ext)),
            ]
            .concat(),
        );
        let tbs = der(
            0x30,
            &[
                der(0xa2, &der(0x04, &[0; 20])),
                der(0x18, b"20300101000000Z"),
                der(0x30, &single),
            ]
            .concat(),
        );
        let sig_alg = der(
            0x30,
            &der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
        );
        let basic = der(0x30, &[tbs, sig_alg, der(0x03, &[0, 1, 2])].concat());
        let bytes = der(
            0x30,
            &[der(0x06, asn1::oid::OCSP_BASIC), der(0x04, &basic)].concat(),
        );
        der(0x30, &[der(0x0a, &[0]), der(0xa0, &bytes)].concat())
    }

    #[test]
    fn sct_lists_split_and_refuse_bad_lengths() {
        let a = vec![1u8; 5];
        let b = vec![2u8; 3];
        let l = list(&[a.clone(), b.clone()]);
        assert_eq!(split_list(&l).unwrap(), vec![&a[..], &b[..]]);
        assert!(split_list(&[]).is_err());
        assert!(split_list(&[0]).is_err());
        assert!(split_list(&l[..l.len() - 1]).is_err(), "truncated");
        let mut trailing = l.clone();
        trailing.push(0);
        assert!(split_list(&trailing).is_err(), "stray bytes");
        assert!(split_list(&[0, 2, 0, 0]).is_err(), "an empty SCT");
        assert!(
            split_list(&[0, 3, 0, 5, 1]).is_err(),
            "an SCT longer than the list"
        );
        assert_eq!(split_list(&[0, 0]).unwrap().len(), 0);
    }

    #[test]
    fn scts_parse_and_refuse_truncation_and_other_versions() {
        let log = test_log("A", "Op A", LogState::Usable);
        let s = sct(&log, 1234, &Entry::X509(b"cert"));
        let parsed = parse_sct(&s).unwrap();
        assert_eq!(parsed.log_id, log.log.log_id);
        assert_eq!(parsed.timestamp, 1234);
        assert_eq!((parsed.hash_alg, parsed.sig_alg), (HASH_SHA256, SIG_ECDSA));
        for n in 0..s.len() {
            assert!(parse_sct(&s[..n]).is_err(), "truncated at {n}");
        }
        let mut v2 = s.clone();
        v2[0] = 1;
        assert!(parse_sct(&v2).unwrap_err().contains("version 1"));
        let mut long = s.clone();
        long.push(9);
        assert!(parse_sct(&long).is_err());
    }

    #[test]
    fn the_precertificate_drops_only_the_sct_extension() {
        let plain = leaf(90);
        let with = with_embedded(&plain, &list(&[vec![7; 40]]));
        let before = read_leaf(&plain).unwrap();
        let after = read_leaf(&with).unwrap();
        assert!(after.sct_extension.is_some());
        assert_ne!(before.tbs.raw, after.tbs.raw);
        assert_eq!(precert_tbs(after.tbs).unwrap(), before.tbs.raw);

        // A TBS whose only extension is the SCT list loses `[3]` altogether.
        let ext = der(
            0x30,
            &[der(0x06, OID_SCT_LIST), der(0x04, &der(0x04, &[0, 0]))].concat(),
        );
        let body = [der(0x02, &[5]), der(0xa3, &der(0x30, &ext))].concat();
        let tbs_der = der(0x30, &body);
        let (tbs, _) = tlv(&tbs_der).unwrap();
        assert_eq!(precert_tbs(tbs).unwrap(), der(0x30, &der(0x02, &[5])));
    }

    #[test]
    fn lifetimes_count_as_apple_counts_them() {
        let facts = |nb, na| Facts {
            tbs: tlv(&[0x30, 0]).unwrap().0,
            serial: &[1],
            not_before: nb,
            not_after: na,
            sct_extension: None,
        };
        assert_eq!(facts(0, 180 * DAY - 1).lifetime_days(), 180);
        assert_eq!(facts(0, 180 * DAY).lifetime_days(), 181);
        assert_eq!(facts(0, 0).lifetime_days(), 1);
        assert_eq!(facts(10, 0).lifetime_days(), 0);
    }

    #[test]
    fn tls_scts_from_two_operators_comply() {
        let a = test_log("A", "Op A", LogState::Usable);
        let b = test_log("B", "Op B", LogState::Qualified);
        let cert = leaf(90);
        let ts = ((START + 60) * 1000) as u64;
        let tls = list(&[
            sct(&a, ts, &Entry::X509(&cert)),
            sct(&b, ts, &Entry::X509(&cert)),
        ]);
        let r = evaluate(
            &cert,
            None,
            Some(&tls),
            None,
            &logs(&[&a, &b]),
            at(START + DAY),
        );
        assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
        assert!(r.compliant, "{}", summary(&r));
        assert_eq!(r.route, CtRoute::Delivered);
        assert_eq!((r.required, r.verified, r.operators), (2, 2, 2));
        assert_eq!(r.operator_names, vec!["Op A", "Op B"]);

        // The same from one operator is not enough.
        let a2 = test_log("A2", "Op A", LogState::Usable);
        let tls = list(&[
            sct(&a, ts, &Entry::X509(&cert)),
            sct(&a2, ts, &Entry::X509(&cert)),
        ]);
        let r = evaluate(
            &cert,
            None,
            Some(&tls),
            None,
            &logs(&[&a, &a2]),
            at(START + DAY),
        );
        assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
        assert!(!r.compliant);
        assert_eq!(r.route, CtRoute::Delivered);
        assert!(summary(&r).ends_with("not compliant"), "{}", summary(&r));

        // An SCT over another certificate does not verify over this one.
        let other = leaf(90);
        let tls = list(&[sct(&a, ts, &Entry::X509(&other))]);
        let r = evaluate(&cert, None, Some(&tls), None, &logs(&[&a]), at(START + DAY));
        assert_eq!(statuses(&r), vec![SctStatus::InvalidSignature]);
    }

    #[test]
    fn ocsp_scts_are_read_from_the_single_response_for_this_certificate() {
        let a = test_log("A", "Op A", LogState::Usable);
        let b = test_log("B", "Op B", LogState::ReadOnly);
        let cert = leaf(90);
        let serial = read_leaf(&cert).unwrap().serial.to_vec();
        let ts = ((START + 60) * 1000) as u64;
        let scts = list(&[
            sct(&a, ts, &Entry::X509(&cert)),
            sct(&b, ts, &Entry::X509(&cert)),
        ]);
        let ocsp = ocsp_with_scts(&serial, &scts);
        let r = evaluate(
            &cert,
            None,
            None,
            Some(&ocsp),
            &logs(&[&a, &b]),
            at(START + DAY),
        );
        assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
        assert!(r.scts.iter().all(|s| s.source == SctSource::Ocsp));
        assert!(r.compliant);

        let ocsp = ocsp_with_scts(&[0x42], &scts);
        let r = evaluate(
            &cert,
            None,
            None,
            Some(&ocsp),
            &logs(&[&a, &b]),
            at(START + DAY),
        );
        assert!(r.scts.is_empty());
        assert!(r.notes[0].contains("another certificate"), "{:?}", r.notes);

        let r = evaluate(
            &cert,
            None,
            None,
            Some(b"<html>"),
            &logs(&[&a]),
            at(START + DAY),
        );
        assert!(r.scts.is_empty());
        assert!(r.notes[0].contains("OCSP"), "{:?}", r.notes);
    }

    #[test]
    fn embedded_scts_count_by_lifetime_and_operator() {
        let g1 = test_log("G1", "Google", LogState::Usable);
        let g2 = test_log("G2", "Google", LogState::Usable);
        let g3 = test_log("G3", "Google", LogState::Usable);
        let s1 = test_log("S1", "Sectigo", LogState::Usable);
        let all = logs(&[&g1, &g2, &g3, &s1]);
        let when = at(START + DAY);
        let check = |days, with: &[&TestLog]| {
            let cert = embedded_leaf(days, with);
            evaluate(&cert, Some(ISSUER), None, None, &all, when)
        };

        let r = check(90, &[&g1, &s1]);
        assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
        assert!(r.compliant, "{}", summary(&r));
        assert_eq!((r.required, r.lifetime_days), (2, Some(90)));
        assert_eq!(r.route, CtRoute::Embedded);

        let r = check(90, &[&g1, &g2]);
        assert!(
            !r.compliant,
            "one operator counts once for a short certificate"
        );

        let r = check(181, &[&g1, &s1]);
        assert_eq!(r.required, 3);
        assert!(!r.compliant, "two SCTs are too few past 180 days");

        let r = check(398, &[&g1, &g2, &s1]);
        assert!(r.compliant, "{}", summary(&r));
        assert!(summary(&r).contains("asks 3 for a 398-day certificate: compliant"));

        let r = check(398, &[&g1, &g2, &g3]);
        assert_eq!(statuses(&r), vec![SctStatus::Verified; 3]);
        assert!(!r.compliant, "at most two per operator count");

        // The same SCTs with the wrong issuer key, or none.
        let cert = embedded_leaf(90, &[&g1, &s1]);
        let r = evaluate(&cert, Some(b"another key"), None, None, &all, when);
        assert_eq!(statuses(&r), vec![SctStatus::InvalidSignature; 2]);
        let r = evaluate(&cert, None, None, None, &all, when);
        assert_eq!(statuses(&r), vec![SctStatus::IssuerUnknown; 2]);
        assert!(!r.compliant);
    }

    #[test]
    fn a_log_rejected_after_the_moment_of_judgement_still_counts_then() {
        let mut a = test_log("A", "Op A", LogState::Rejected);
        a.log.state_since = Some(START + 400 * DAY);
        let mut b = test_log("B", "Op B", LogState::Rejected);
        b.log.state_since = Some(START + 400 * DAY);
        let all = logs(&[&a, &b]);
        let cert = embedded_leaf(90, &[&a, &b]);
        let before = evaluate(&cert, Some(ISSUER), None, None, &all, at(START + DAY));
        assert_eq!(statuses(&before), vec![SctStatus::Verified; 2]);
        assert!(before.compliant);
        let after = evaluate(&cert, Some(ISSUER), None, None, &all, at(START + 401 * DAY));
        assert_eq!(statuses(&after), vec![SctStatus::LogNotAccepted; 2]);
        assert!(!after.compliant);
    }

    #[test]
    fn log_states_and_shards_decide_what_counts() {
        let mut retired_after = test_log("R1", "Op R", LogState::Retired);
        retired_after.log.state_since = Some(START + 2 * 3600);
        let mut retired_before = test_log("R2", "Op R", LogState::Retired);
        retired_before.log.state_since = Some(START);
        let rejected = test_log("X", "Op X", LogState::Rejected);
        let pending = test_log("P", "Op P", LogState::Pending);
        let usable = test_log("U", "Op U", LogState::Usable);
        let mut shard = test_log("S", "Op S", LogState::Usable);
        shard.log.temporal_interval = Some((START + 365 * DAY, START + 730 * DAY));
        let all = logs(&[
            &retired_after,
            &retired_before,
            &rejected,
            &pending,
            &usable,
            &shard,
        ]);
        let cert = embedded_leaf(
            90,
            &[
                &retired_after,
                &retired_before,
                &rejected,
                &pending,
                &usable,
                &shard,
            ],
        );
        let r = evaluate(&cert, Some(ISSUER), None, None, &all, at(START + DAY));
        assert_eq!(
            statuses(&r),
            vec![
                SctStatus::Verified,
                SctStatus::LogNotAccepted,
                SctStatus::LogNotAccepted,
                SctStatus::LogNotAccepted,
                SctStatus::Verified,
                SctStatus::LogNotAccepted,
            ]
        );
        assert!(r.compliant, "retired-after + usable, two operators");
        assert!(r.scts[5].detail.as_deref().unwrap().contains("expiring"));

        // Only a once-approved log and no currently approved one: not enough.
        let other_retired = {
            let mut l = test_log("R3", "Op Q", LogState::Retired);
            l.log.state_since = Some(START + 2 * 3600);
            l
        };
        let all = logs(&[&retired_after, &other_retired]);
        let cert = embedded_leaf(90, &[&retired_after, &other_retired]);
        let r = evaluate(&cert, Some(ISSUER), None, None, &all, at(START + DAY));
        assert_eq!(statuses(&r), vec![SctStatus::Verified; 2]);
        assert!(!r.compliant);

        // Judged before the SCTs were issued.
        let r = evaluate(&cert, Some(ISSUER), None, None, &all, at(START));
        assert_eq!(statuses(&r), vec![SctStatus::FutureTimestamp; 2]);
    }

    #[test]
    fn unknown_logs_and_garbage_never_panic() {
        let a = test_log("A", "Op A", LogState::Usable);
        let cert = leaf(90);
        let ts = ((START + 60) * 1000) as u64;
        let good = list(&[sct(&a, ts, &Entry::X509(&cert))]);

        let r = evaluate(&cert, None, Some(&good), None, &[], at(START + DAY));
        assert_eq!(statuses(&r), vec![SctStatus::UnknownLog]);
        assert_eq!(r.scts[0].log_id, BASE64.encode(a.log.log_id));

        let r = evaluate(&cert, None, Some(&[0, 9, 1]), None, &[], at(START + DAY));
        assert_eq!(statuses(&r), vec![SctStatus::Malformed]);
        assert!(
            summary(&r).contains("0 of 1 SCT verified"),
            "{}",
            summary(&r)
        );

        let r = evaluate(
            b"not a certificate",
            None,
            Some(&good),
            None,
            &logs(&[&a]),
            at(0),
        );
        assert_eq!(statuses(&r), vec![SctStatus::Malformed]);
        assert!(!r.notes.is_empty());
        assert!(!r.compliant);

        // Every truncation and every single-byte change of a leaf with embedded SCTs, and of a
        // TLS list, is judged without panicking.
        let embedded = embedded_leaf(90, &[&a]);
        let l = logs(&[&a]);
        for n in 0..embedded.len() {
            let _ = evaluate(
                &embedded[..n],
                Some(ISSUER),
                None,
                None,
                &l,
                at(START + DAY),
            );
        }
        for i in (0..embedded.len()).step_by(7) {
            let mut bad = embedded.clone();
            bad[i] ^= 0xff;
            let _ = evaluate(
                &bad,
                Some(ISSUER),
                Some(&bad),
                Some(&bad),
                &l,
                at(START + DAY),
            );
        }
        for n in 0..good.len() {
            let r = evaluate(&cert, None, Some(&good[..n]), None, &l, at(START + DAY));
            assert!(statuses(&r).iter().all(|&s| s == SctStatus::Malformed));
        }
    }

    #[test]
    fn no_scts_is_said_plainly_and_serializes() {
        let cert = leaf(90);
        let r = evaluate(&cert, Some(ISSUER), None, None, &[], at(START + DAY));
        assert!(r.scts.is_empty());
        assert!(!r.compliant);
        assert_eq!(
            summary(&r),
            "No SCTs (none embedded in the certificate, in the TLS extension or in a stapled \
             OCSP response); Apple's policy asks 2 for a 90-day certificate: not compliant"
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["compliant"], false);
        assert_eq!(v["route"], "embedded");
        assert!(v["rule"].as_str().unwrap().contains("180 days"));
        assert_eq!(v["notes"], serde_json::json!([]));
    }
}
