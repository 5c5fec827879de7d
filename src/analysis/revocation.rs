//! Judging OCSP responses and CRLs: parsed, signatures checked, the certificate's status looked up.
//!
//! Also the pure half of fetching: which URLs a chain names, and the DER OCSP request for each
//! certificate (`plan`), so the probe only moves bytes.
//!
//! "Could not check" never reads as "not revoked": every entry is one of good, revoked, unknown,
//! unreachable, invalid or not_checked, with the reason in `detail`.

use std::collections::HashSet;

use ring::digest;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::asn1_rs::BitString;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use super::chain::{self, CertFacts, oid_der};
use super::{Code, Finding, Severity};
use crate::model::observation::{
    FetchFailure, FetchFailureKind, FetchedBody, Observation, RevocationFetch, RevocationKind,
    RevocationOutcome,
};

/// How far this machine's clock and a responder's may disagree before a date counts as wrong.
const CLOCK_SKEW_SECS: i64 = 5 * 60;
/// URLs of each kind taken from one certificate; more is not what a CA does.
const MAX_URLS_PER_CERT: usize = 4;
/// Certificates of a chain whose revocation is checked; real chains are far shorter.
const MAX_CERTS: usize = 8;

const OID_SHA1: &str = "1.3.14.3.2.26";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
const OID_KP_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

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

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Revoked => "revoked",
            Self::Unknown => "unknown",
            Self::Unreachable => "unreachable",
            Self::Invalid => "invalid",
            Self::NotChecked => "not_checked",
        }
    }
}

/// The revocation findings for one target.
#[derive(Debug, Default)]
pub struct RevocationJudgement {
    pub findings: Vec<Finding>,
    pub statuses: Vec<RevocationStatus>,
    /// Some certificate of the chain is revoked.
    pub revoked: bool,
}

// ---------------------------------------------------------------------------------------------
// Planning: what to fetch for a chain.

/// One fetch a chain calls for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub kind: RevocationKind,
    pub url: String,
    pub cert_sha256: String,
    pub issuer_sha256: Option<String>,
    /// The DER OCSPRequest to POST (OCSP only).
    pub request: Option<Vec<u8>>,
    /// Why this URL is not fetched; `None` means fetch it.
    pub skip: Option<String>,
}

/// Every OCSP and CRL URL named by the presented chain, with the request to send for each.
/// The issuer of a certificate is the presented certificate whose subject is its issuer name,
/// preferring the next one in the chain.
pub fn plan(chain: &[CertificateDer<'_>]) -> Vec<Plan> {
    let facts: Vec<CertFacts> = chain.iter().take(MAX_CERTS + 1).map(chain::facts).collect();
    let mut out = Vec::new();
    for (i, cert) in facts.iter().enumerate().take(MAX_CERTS) {
        if cert.summary.parse_error.is_some() {
            continue;
        }
        let issuer = find_issuer(&facts, i);
        let self_issued = cert.self_issued();
        let mut seen = HashSet::new();
        let urls = cert
            .ocsp_urls
            .iter()
            .take(MAX_URLS_PER_CERT)
            .map(|u| (RevocationKind::Ocsp, u))
            .chain(
                cert.crl_urls
                    .iter()
                    .take(MAX_URLS_PER_CERT)
                    .map(|u| (RevocationKind::Crl, u)),
            );
        for (kind, url) in urls {
            if !seen.insert((kind, url.clone())) {
                continue;
            }
            let mut p = Plan {
                kind,
                url: url.clone(),
                cert_sha256: cert.summary.sha256.clone(),
                issuer_sha256: issuer.map(|f| f.summary.sha256.clone()),
                request: None,
                skip: None,
            };
            p.skip = scheme_problem(url);
            if p.skip.is_none() && self_issued {
                p.skip = Some(
                    "the certificate is self-issued: a root's revocation is not checked".into(),
                );
            }
            if p.skip.is_none() && kind == RevocationKind::Ocsp {
                match issuer {
                    Some(issuer) => match ocsp_request(cert, issuer) {
                        Ok(req) => p.request = Some(req),
                        Err(e) => p.skip = Some(format!("no OCSP request could be built: {e}")),
                    },
                    None => {
                        p.skip = Some(format!(
                            "the issuer '{}' was not presented by the server, so no OCSP request \
                             can be built (it names the issuer's key)",
                            cert.issuer_cn
                        ))
                    }
                }
            }
            // A CRL is fetched even without its issuer: reaching it is what devices need, and the
            // judgement says the signature could not be checked.
            out.push(p);
        }
    }
    out
}

fn find_issuer(facts: &[CertFacts], i: usize) -> Option<&CertFacts> {
    let cert = &facts[i];
    if cert.self_issued() {
        return None;
    }
    let is_issuer = |f: &CertFacts| {
        f.summary.parse_error.is_none()
            && !f.subject_der.is_empty()
            && f.subject_der == cert.issuer_der
    };
    facts.get(i + 1).filter(|f| is_issuer(f)).or_else(|| {
        facts
            .iter()
            .enumerate()
            .find(|(k, f)| *k != i && is_issuer(f))
            .map(|(_, f)| f)
    })
}

fn scheme_problem(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") {
        None
    } else if lower.starts_with("https://") {
        Some(
            "an https:// URL: revocation is fetched over plain HTTP only (fetching it over TLS \
             would itself need a revocation check), so it was not fetched"
                .into(),
        )
    } else {
        let scheme = url.split_once(':').map_or(url, |(s, _)| s);
        Some(format!("a {scheme}: URL: only http:// URLs are fetched"))
    }
}

/// The DER OCSPRequest (RFC 6960) asking about `cert`, with a SHA-1 CertID built from `issuer`'s
/// name and key, no nonce and no signature: what devices send.
pub fn ocsp_request(cert: &CertFacts, issuer: &CertFacts) -> Result<Vec<u8>, String> {
    let key = key_bits(&issuer.spki_der)?;
    if cert.raw_serial.is_empty() {
        return Err("the certificate has no serial number".into());
    }
    let sha1 = |b: &[u8]| {
        digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, b)
            .as_ref()
            .to_vec()
    };
    let oid = oid_der(OID_SHA1).ok_or("bad OID")?;
    let alg = der(0x30, &[der(0x06, &oid), der(0x05, &[])].concat());
    let cert_id = der(
        0x30,
        &[
            alg,
            der(0x04, &sha1(&issuer.subject_der)),
            der(0x04, &sha1(&key)),
            der(0x02, &cert.raw_serial),
        ]
        .concat(),
    );
    let request = der(0x30, &cert_id);
    let request_list = der(0x30, &request);
    let tbs = der(0x30, &request_list);
    Ok(der(0x30, &tbs))
}

/// The subjectPublicKey BIT STRING's bits (what OCSP's key hash covers).
fn key_bits(spki_der: &[u8]) -> Result<Vec<u8>, String> {
    SubjectPublicKeyInfo::from_der(spki_der)
        .map(|(_, spki)| spki.subject_public_key.data.to_vec())
        .map_err(|e| format!("the issuer's public key cannot be read: {e}"))
}

/// A DER element: `tag`, a definite length, `content`.
pub(super) fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = chain::wrap_sequence(content);
    out[0] = tag;
    out
}

// ---------------------------------------------------------------------------------------------
// Judging.

/// Judges every fetch recorded on the observation at `now`.
pub fn judge(obs: &Observation, chain: &[CertFacts], now: UnixTime) -> RevocationJudgement {
    let mut out = RevocationJudgement::default();
    if obs.revocation.is_empty() {
        return out;
    }
    let computed;
    let chain = if chain.is_empty() {
        computed = obs
            .outcome
            .captured()
            .map(|c| c.chain.iter().map(chain::facts).collect::<Vec<_>>())
            .unwrap_or_default();
        &computed[..]
    } else {
        chain
    };
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    for fetch in &obs.revocation {
        let cert = chain.iter().find(|f| f.summary.sha256 == fetch.cert_sha256);
        let issuer = fetch
            .issuer_sha256
            .as_ref()
            .and_then(|h| chain.iter().find(|f| &f.summary.sha256 == h));
        let answer = judge_one(fetch, cert, issuer, now);
        let name = cert.map_or_else(
            || format!("certificate {}", short(&fetch.cert_sha256)),
            |c| c.subject_cn.clone(),
        );
        if let Some(finding) = finding_for(fetch, &name, &answer) {
            out.findings.push(finding);
        }
        out.revoked |= answer.status == Status::Revoked;
        out.statuses.push(RevocationStatus {
            kind: fetch.kind,
            url: fetch.url.clone(),
            certificate: name,
            certificate_sha256: fetch.cert_sha256.clone(),
            status: answer.status,
            detail: answer.detail,
            reason: answer.reason,
            revoked_at: answer.revoked_at.map(rfc3339),
            this_update: answer.this_update.map(rfc3339),
            next_update: answer.next_update.map(rfc3339),
        });
    }
    out
}

/// One source's answer, judged.
#[derive(Debug)]
struct Judged {
    status: Status,
    detail: String,
    reason: Option<String>,
    revoked_at: Option<i64>,
    this_update: Option<i64>,
    next_update: Option<i64>,
}

impl Judged {
    fn new(status: Status, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            reason: None,
            revoked_at: None,
            this_update: None,
            next_update: None,
        }
    }
}

fn judge_one(
    fetch: &RevocationFetch,
    cert: Option<&CertFacts>,
    issuer: Option<&CertFacts>,
    now: i64,
) -> Judged {
    let body = match &fetch.outcome {
        RevocationOutcome::NotFetched(why) => return Judged::new(Status::NotChecked, why.clone()),
        RevocationOutcome::Failed(f) => return failed(fetch.kind, f),
        RevocationOutcome::Fetched(body) => body,
    };
    if let Some(problem) = http_problem(fetch.kind, body) {
        return Judged::new(Status::Invalid, problem);
    }
    let Some(cert) = cert else {
        return Judged::new(
            Status::NotChecked,
            "the certificate this was fetched for is not in the judged chain",
        );
    };
    let via = redirect_note(fetch, body);
    let mut judged = match fetch.kind {
        RevocationKind::Ocsp => match issuer {
            Some(issuer) => judge_ocsp(&body.body, cert, issuer, now),
            None => Judged::new(
                Status::NotChecked,
                format!("the issuer '{}' was not presented", cert.issuer_cn),
            ),
        },
        RevocationKind::Crl => judge_crl(&body.body, cert, issuer, now),
    };
    judged.detail.push_str(&via);
    judged
}

/// Judges a fetched OCSP response or CRL (the body, DER or PEM) for `cert`, issued by `issuer`, at
/// `now` (Unix seconds): the status and why. Pure; what `judge` does for each fetched body once
/// the HTTP answer looks like one, exposed so the parsers can be fuzzed.
pub fn judge_body(
    kind: RevocationKind,
    body: &[u8],
    cert: &CertFacts,
    issuer: &CertFacts,
    now: i64,
) -> (Status, String) {
    let judged = match kind {
        RevocationKind::Ocsp => judge_ocsp(body, cert, issuer, now),
        RevocationKind::Crl => judge_crl(body, cert, Some(issuer), now),
    };
    (judged.status, judged.detail)
}

fn redirect_note(fetch: &RevocationFetch, body: &FetchedBody) -> String {
    if body.final_url != fetch.url {
        format!(" (after a redirect to {})", body.final_url)
    } else {
        String::new()
    }
}

fn failed(kind: RevocationKind, f: &FetchFailure) -> Judged {
    let what = match kind {
        RevocationKind::Ocsp => "the OCSP responder",
        RevocationKind::Crl => "the CRL server",
    };
    let (status, lead) = match f.kind {
        FetchFailureKind::Dns => (
            Status::Unreachable,
            format!("{what}'s name does not resolve"),
        ),
        FetchFailureKind::Refused => (
            Status::Unreachable,
            format!("{what} refused the connection"),
        ),
        FetchFailureKind::Reset => (Status::Unreachable, format!("{what} reset the connection")),
        FetchFailureKind::Closed => (
            Status::Unreachable,
            format!("{what} closed the connection without a complete answer"),
        ),
        FetchFailureKind::Unreachable => (Status::Unreachable, format!("no route to {what}")),
        FetchFailureKind::Timeout => (
            Status::Unreachable,
            format!("{what} did not answer in time"),
        ),
        FetchFailureKind::Io => (Status::Unreachable, format!("{what} could not be reached")),
        FetchFailureKind::TooLarge => (
            Status::Invalid,
            "too large to read, so the status is not known".to_owned(),
        ),
        FetchFailureKind::TooManyRedirects => (
            Status::Invalid,
            "too many redirects (a loop?), so the status is not known".to_owned(),
        ),
        FetchFailureKind::BadRedirect => (
            Status::Invalid,
            format!("{what} redirected somewhere revocation clients do not follow"),
        ),
        FetchFailureKind::NotHttp => (Status::Invalid, format!("{what} did not answer with HTTP")),
    };
    Judged::new(status, format!("{lead}: {}", f.detail))
}

/// A response that is not what a responder sends: an error status or a block page.
fn http_problem(kind: RevocationKind, body: &FetchedBody) -> Option<String> {
    let ct = body
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let first = body.body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let html = ct.starts_with("text/html") || first == Some(b'<');
    let expected = match kind {
        RevocationKind::Ocsp => "an OCSP response",
        RevocationKind::Crl => "a CRL",
    };
    if html {
        let title = html_title(&body.body)
            .map(|t| format!(" titled '{t}'"))
            .unwrap_or_default();
        return Some(format!(
            "HTTP {} with an HTML page{title} instead of {expected}: a block page or captive portal \
             answers in the responder's place",
            body.status
        ));
    }
    if body.status != 200 {
        return Some(format!(
            "HTTP {} instead of {expected}{}",
            body.status,
            if ct.is_empty() {
                String::new()
            } else {
                format!(" ({ct})")
            }
        ));
    }
    if body.body.is_empty() {
        return Some(format!("HTTP 200 with an empty body instead of {expected}"));
    }
    None
}

fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title: String = text[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then(|| title.chars().take(80).collect())
}

/// What the finding says a failed check means for devices.
const DEVICE_IMPACT: &str = "devices that check revocation for this chain cannot; installs and \
     enrolment may fail, as Symantec documents for its installers when OCSP hosts are unreachable";

fn finding_for(fetch: &RevocationFetch, name: &str, a: &Judged) -> Option<Finding> {
    let source = match fetch.kind {
        RevocationKind::Ocsp => format!("OCSP {}", fetch.url),
        RevocationKind::Crl => format!("CRL {}", fetch.url),
    };
    let host = url_host(&fetch.url);
    Some(match a.status {
        Status::Good => Finding::new(
            Code::RevocationGood,
            Severity::Info,
            format!(
                "'{name}' is not revoked according to {source} ({})",
                a.detail
            ),
        ),
        Status::Revoked => Finding::new(
            Code::Revoked,
            Severity::Error,
            format!("'{name}' is revoked according to {source} ({})", a.detail),
        ),
        Status::Unknown => Finding::new(
            Code::RevocationUnknown,
            Severity::Warning,
            format!("{source} gave no usable status for '{name}': {}", a.detail),
        ),
        Status::Unreachable => Finding::new(
            Code::RevocationUnreachable,
            Severity::Warning,
            format!(
                "{source} for '{name}' could not be reached ({}): {DEVICE_IMPACT}. Allow plain \
                 HTTP to {host} without inspection",
                a.detail
            ),
        ),
        Status::Invalid => Finding::new(
            Code::RevocationInvalid,
            Severity::Warning,
            format!(
                "{source} for '{name}' answered with nothing usable ({}): {DEVICE_IMPACT}. Let \
                 {host} through unfiltered",
                a.detail
            ),
        ),
        Status::NotChecked => return None,
    })
}

fn url_host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

// ---------------------------------------------------------------------------------------------
// OCSP.

fn judge_ocsp(body: &[u8], cert: &CertFacts, issuer: &CertFacts, now: i64) -> Judged {
    let response = match parse_ocsp(body) {
        Ok(r) => r,
        Err(e) => return Judged::new(Status::Invalid, format!("not an OCSP response: {e}")),
    };
    let basic = match response {
        Ocsp::Error(6) => {
            return Judged::new(
                Status::Unknown,
                "the responder answered 'unauthorized': it does not answer for this issuer",
            );
        }
        Ocsp::Error(code) => {
            return Judged::new(
                Status::Invalid,
                format!(
                    "the responder answered with the error '{}'",
                    ocsp_error(code)
                ),
            );
        }
        Ocsp::Basic(b) => b,
    };
    let signer = match check_ocsp_signature(&basic, issuer, now) {
        Ok(s) => s,
        Err(e) => return Judged::new(Status::Invalid, e),
    };
    let Some(single) = basic.responses.iter().find(|s| s.is_about(cert, issuer)) else {
        return Judged::new(
            Status::Invalid,
            format!(
                "the correctly signed response has {} answer(s), none about this certificate",
                basic.responses.len()
            ),
        );
    };
    let mut j = Judged::new(Status::Good, String::new());
    j.this_update = Some(single.this_update);
    j.next_update = single.next_update;
    let freshness = freshness(single.this_update, single.next_update, now);
    let signed = format!("signed by {signer}");
    match single.status {
        CertStatus::Revoked { at, reason } => {
            j.status = Status::Revoked;
            j.revoked_at = Some(at);
            j.reason = reason.map(|r| reason_name(r).to_owned());
            j.detail = format!(
                "revoked at {}, reason {}; {signed}",
                rfc3339(at),
                j.reason.as_deref().unwrap_or("not given")
            );
            if let Err(stale) = freshness {
                j.detail.push_str(&format!(
                    "; the response is {stale}, but revocation is final"
                ));
            }
        }
        CertStatus::Unknown => {
            j.status = Status::Unknown;
            j.detail =
                format!("the responder does not know this certificate (status unknown); {signed}");
        }
        CertStatus::Good => match freshness {
            Ok(window) => j.detail = format!("good, {window}; {signed}"),
            Err(stale) => {
                j.status = Status::Unknown;
                j.detail = format!(
                    "the response says good but is {stale}, so it proves nothing; {signed}"
                );
            }
        },
    }
    j
}

/// Whether thisUpdate/nextUpdate hold at `now`: Ok(description) or Err(what is wrong).
fn freshness(this: i64, next: Option<i64>, now: i64) -> Result<String, String> {
    if this > now + CLOCK_SKEW_SECS {
        return Err(format!(
            "not valid yet (thisUpdate {} is in the future: check this machine's clock)",
            rfc3339(this)
        ));
    }
    match next {
        Some(next) if next + CLOCK_SKEW_SECS < now => {
            Err(format!("stale (nextUpdate {} has passed)", rfc3339(next)))
        }
        Some(next) => Ok(format!(
            "thisUpdate {}, nextUpdate {}",
            rfc3339(this),
            rfc3339(next)
        )),
        None => Ok(format!("thisUpdate {}, no nextUpdate", rfc3339(this))),
    }
}

enum Ocsp<'a> {
    /// A responseStatus other than successful.
    Error(u8),
    Basic(Basic<'a>),
}

struct Basic<'a> {
    tbs_raw: &'a [u8],
    responder: ResponderId<'a>,
    responses: Vec<Single<'a>>,
    sig_alg_raw: &'a [u8],
    sig_raw: &'a [u8],
    certs: Vec<&'a [u8]>,
}

enum ResponderId<'a> {
    /// The DER Name.
    ByName(&'a [u8]),
    /// SHA-1 of the responder's public key bits.
    ByKey(&'a [u8]),
}

struct Single<'a> {
    hash_oid: &'a [u8],
    name_hash: &'a [u8],
    key_hash: &'a [u8],
    serial: &'a [u8],
    status: CertStatus,
    this_update: i64,
    next_update: Option<i64>,
    /// What follows nextUpdate (the optional `[1] singleExtensions`), read only when asked for.
    rest: &'a [u8],
}

#[derive(Clone, Copy)]
enum CertStatus {
    Good,
    Revoked { at: i64, reason: Option<u8> },
    Unknown,
}

impl Single<'_> {
    /// The CertID names this certificate (SHA-1 or SHA-256 hashes of its issuer, and its serial).
    fn is_about(&self, cert: &CertFacts, issuer: &CertFacts) -> bool {
        let Ok(key) = key_bits(&issuer.spki_der) else {
            return false;
        };
        let alg = if Some(self.hash_oid) == oid_der(OID_SHA1).as_deref() {
            &digest::SHA1_FOR_LEGACY_USE_ONLY
        } else if Some(self.hash_oid) == oid_der(OID_SHA256).as_deref() {
            &digest::SHA256
        } else {
            return false;
        };
        digest::digest(alg, &issuer.subject_der).as_ref() == self.name_hash
            && digest::digest(alg, &key).as_ref() == self.key_hash
            && strip_zeros(self.serial) == strip_zeros(&cert.raw_serial)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

fn parse_ocsp(body: &[u8]) -> Result<Ocsp<'_>, String> {
    let (outer, _) = tlv(body)?;
    if outer.tag != 0x30 {
        return Err(format!(
            "it does not start with a DER SEQUENCE (tag {:#04x})",
            outer.tag
        ));
    }
    let mut r = Reader(outer.content);
    let status = r.expect(0x0a, "responseStatus")?;
    let code = match status.content {
        [c] => *c,
        _ => return Err("malformed responseStatus".into()),
    };
    if code != 0 {
        return Ok(Ocsp::Error(code));
    }
    let bytes = r.expect(0xa0, "responseBytes")?;
    let mut rb = Reader(Reader(bytes.content).expect(0x30, "ResponseBytes")?.content);
    let oid = rb.expect(0x06, "responseType")?;
    if Some(oid.content) != oid_der(OID_OCSP_BASIC).as_deref() {
        return Err("the response type is not id-pkix-ocsp-basic".into());
    }
    let basic = rb.expect(0x04, "response")?;
    parse_basic(basic.content).map(Ocsp::Basic)
}

fn parse_basic(der: &[u8]) -> Result<Basic<'_>, String> {
    let (seq, _) = tlv(der)?;
    if seq.tag != 0x30 {
        return Err("BasicOCSPResponse is not a SEQUENCE".into());
    }
    let mut r = Reader(seq.content);
    let tbs = r.expect(0x30, "tbsResponseData")?;
    let sig_alg = r.expect(0x30, "signatureAlgorithm")?;
    let sig = r.expect(0x03, "signature")?;
    let mut certs = Vec::new();
    if let Some(c) = r.optional(0xa0)? {
        let mut list = Reader(Reader(c.content).expect(0x30, "certs")?.content);
        while !list.0.is_empty() {
            certs.push(list.expect(0x30, "certificate")?.raw);
        }
    }
    let mut t = Reader(tbs.content);
    t.optional(0xa0)?;
    let rid = t.next()?;
    let responder = match rid.tag {
        0xa1 => ResponderId::ByName(Reader(rid.content).expect(0x30, "responder name")?.raw),
        0xa2 => ResponderId::ByKey(
            Reader(rid.content)
                .expect(0x04, "responder key hash")?
                .content,
        ),
        other => return Err(format!("unknown responderID (tag {other:#04x})")),
    };
    generalized_time(&t.expect(0x18, "producedAt")?)?;
    let mut list = Reader(t.expect(0x30, "responses")?.content);
    let mut responses = Vec::new();
    while !list.0.is_empty() {
        responses.push(parse_single(list.expect(0x30, "SingleResponse")?)?);
    }
    Ok(Basic {
        tbs_raw: tbs.raw,
        responder,
        responses,
        sig_alg_raw: sig_alg.raw,
        sig_raw: sig.raw,
        certs,
    })
}

fn parse_single(seq: Tlv<'_>) -> Result<Single<'_>, String> {
    let mut r = Reader(seq.content);
    let mut id = Reader(r.expect(0x30, "CertID")?.content);
    let alg = id.expect(0x30, "hashAlgorithm")?;
    let hash_oid = Reader(alg.content).expect(0x06, "hash OID")?.content;
    let name_hash = id.expect(0x04, "issuerNameHash")?.content;
    let key_hash = id.expect(0x04, "issuerKeyHash")?.content;
    let serial = id.expect(0x02, "serialNumber")?.content;
    let st = r.next()?;
    let status = match st.tag {
        0x80 => CertStatus::Good,
        0xa1 => {
            let mut ri = Reader(st.content);
            let at = generalized_time(&ri.expect(0x18, "revocationTime")?)?;
            let reason = match ri.optional(0xa0)? {
                Some(t) => match Reader(t.content).expect(0x0a, "revocationReason")?.content {
                    [c] => Some(*c),
                    _ => return Err("malformed revocationReason".into()),
                },
                None => None,
            };
            CertStatus::Revoked { at, reason }
        }
        0x82 => CertStatus::Unknown,
        other => return Err(format!("unknown certStatus (tag {other:#04x})")),
    };
    let this_update = generalized_time(&r.expect(0x18, "thisUpdate")?)?;
    let next_update = match r.optional(0xa0)? {
        Some(t) => Some(generalized_time(
            &Reader(t.content).expect(0x18, "nextUpdate")?,
        )?),
        None => None,
    };
    Ok(Single {
        hash_oid,
        name_hash,
        key_hash,
        serial,
        status,
        this_update,
        next_update,
        rest: r.0,
    })
}

/// A singleExtension found in an OCSP response, with the serial number its SingleResponse is about.
pub(super) struct SingleExtension<'a> {
    /// The CertID's serialNumber (INTEGER content octets).
    pub(super) serial: &'a [u8],
    /// The extension's extnValue (OCTET STRING content octets).
    pub(super) value: &'a [u8],
}

/// Every singleExtension `oid` (DER content octets of the OID) in the SingleResponses of an OCSP
/// response. The response's signature is not checked: the caller is after values that carry
/// their own signatures (Certificate Transparency SCTs).
pub(super) fn ocsp_single_extension<'a>(
    body: &'a [u8],
    oid: &[u8],
) -> Result<Vec<SingleExtension<'a>>, String> {
    let basic = match parse_ocsp(body)? {
        Ocsp::Error(code) => return Err(format!("the responder answered {}", ocsp_error(code))),
        Ocsp::Basic(basic) => basic,
    };
    let mut found = Vec::new();
    for single in &basic.responses {
        let Some(list) = Reader(single.rest).optional(0xa1)? else {
            continue;
        };
        let mut exts = Reader(
            Reader(list.content)
                .expect(0x30, "singleExtensions")?
                .content,
        );
        while !exts.0.is_empty() {
            let mut ext = Reader(exts.expect(0x30, "Extension")?.content);
            let id = ext.expect(0x06, "extnID")?;
            ext.optional(0x01)?;
            let value = ext.expect(0x04, "extnValue")?;
            if id.content == oid {
                found.push(SingleExtension {
                    serial: single.serial,
                    value: value.content,
                });
            }
        }
    }
    Ok(found)
}

/// Checks who signed the response: the issuer itself, or a responder certificate included in the
/// response that the issuer signed for OCSP signing. Returns how to name the signer.
fn check_ocsp_signature(basic: &Basic<'_>, issuer: &CertFacts, now: i64) -> Result<String, String> {
    let issuer_key = key_bits(&issuer.spki_der)?;
    let sha1 = |b: &[u8]| {
        digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, b)
            .as_ref()
            .to_vec()
    };
    let names_issuer = match basic.responder {
        ResponderId::ByName(name) => name == issuer.subject_der.as_slice(),
        ResponderId::ByKey(hash) => hash == sha1(&issuer_key).as_slice(),
    };
    if names_issuer {
        verify(
            &issuer.spki_der,
            basic.sig_alg_raw,
            basic.sig_raw,
            basic.tbs_raw,
        )
        .map_err(|e| {
            format!(
                "the response names the issuer '{}' as its signer, but its signature does not \
                 verify with that key ({e}): forged or altered on the way",
                issuer.subject_cn
            )
        })?;
        return Ok(format!("the issuer '{}'", issuer.subject_cn));
    }
    // A delegated responder: its certificate must be in the response.
    let mut named = None;
    for raw in &basic.certs {
        let Ok((_, c)) = X509Certificate::from_der(raw) else {
            continue;
        };
        let matches = match basic.responder {
            ResponderId::ByName(name) => c.subject().as_raw() == name,
            ResponderId::ByKey(hash) => sha1(&c.public_key().subject_public_key.data) == hash,
        };
        if matches {
            named = Some(c);
            break;
        }
    }
    let Some(responder) = named else {
        let who = match basic.responder {
            ResponderId::ByName(name) => X509Name::from_der(name)
                .map(|(_, n)| format!("'{}'", chain::display_name(&n)))
                .unwrap_or_else(|_| "an unreadable name".into()),
            ResponderId::ByKey(hash) => format!("key {}", chain::hex(hash)),
        };
        return Err(format!(
            "the response is signed by {who}, which is neither the issuer '{}' nor a responder \
             certificate included in the response",
            issuer.subject_cn
        ));
    };
    let cn = chain::display_name(responder.subject());
    if responder.issuer().as_raw() != issuer.subject_der.as_slice() {
        return Err(format!(
            "the response is signed by '{cn}', which was issued by '{}', not by the issuer '{}'",
            chain::display_name(responder.issuer()),
            issuer.subject_cn
        ));
    }
    let (_, issuer_spki) = SubjectPublicKeyInfo::from_der(&issuer.spki_der)
        .map_err(|e| format!("the issuer's key cannot be read: {e}"))?;
    responder
        .verify_signature(Some(&issuer_spki))
        .map_err(|e| {
            format!(
                "the response is signed by '{cn}', whose certificate claims the issuer '{}' but \
                 is not signed by its key ({e})",
                issuer.subject_cn
            )
        })?;
    let ocsp_signing = responder
        .extended_key_usage()
        .ok()
        .flatten()
        .is_some_and(|eku| {
            eku.value.ocsp_signing
                || eku
                    .value
                    .other
                    .iter()
                    .any(|o| o.to_id_string() == OID_KP_OCSP_SIGNING)
        });
    if !ocsp_signing {
        return Err(format!(
            "the response is signed by '{cn}', which the issuer signed but did not authorise for \
             OCSP signing (no id-kp-OCSPSigning extended key usage)"
        ));
    }
    let validity = responder.validity();
    if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
        return Err(format!(
            "the response is signed by '{cn}', whose certificate is not valid now ({} to {})",
            rfc3339(validity.not_before.timestamp()),
            rfc3339(validity.not_after.timestamp())
        ));
    }
    verify(
        responder.public_key().raw,
        basic.sig_alg_raw,
        basic.sig_raw,
        basic.tbs_raw,
    )
    .map_err(|e| {
        format!(
            "the response's signature does not verify with the key of its responder '{cn}' \
                 ({e}): forged or altered on the way"
        )
    })?;
    Ok(format!(
        "the responder '{cn}', authorised by '{}'",
        issuer.subject_cn
    ))
}

fn verify(spki_der: &[u8], alg_raw: &[u8], sig_raw: &[u8], data: &[u8]) -> Result<(), String> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).map_err(|e| e.to_string())?;
    let (_, alg) = AlgorithmIdentifier::from_der(alg_raw).map_err(|e| e.to_string())?;
    let (_, sig) = BitString::from_der(sig_raw).map_err(|e| e.to_string())?;
    x509_parser::verify::verify_signature(&spki, &alg, &sig, data).map_err(|e| match e {
        x509_parser::error::X509Error::SignatureUnsupportedAlgorithm => {
            "unsupported signature algorithm".to_owned()
        }
        x509_parser::error::X509Error::SignatureVerificationError => "bad signature".to_owned(),
        other => other.to_string(),
    })
}

fn ocsp_error(code: u8) -> String {
    match code {
        1 => "malformedRequest".into(),
        2 => "internalError".into(),
        3 => "tryLater".into(),
        5 => "sigRequired".into(),
        6 => "unauthorized".into(),
        other => format!("status {other}"),
    }
}

/// RFC 5280 CRLReason names.
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

// ---------------------------------------------------------------------------------------------
// CRLs.

fn judge_crl(body: &[u8], cert: &CertFacts, issuer: Option<&CertFacts>, now: i64) -> Judged {
    let der = match crl_der(body) {
        Ok(d) => d,
        Err(e) => return Judged::new(Status::Invalid, e),
    };
    let crl = match CertificateRevocationList::from_der(&der) {
        Ok((_, crl)) => crl,
        Err(e) => return Judged::new(Status::Invalid, format!("not a CRL: {e}")),
    };
    let crl_issuer = chain::display_name(crl.issuer());
    if crl.issuer().as_raw() != cert.issuer_der.as_slice() {
        return Judged::new(
            Status::Invalid,
            format!(
                "the CRL is issued by '{crl_issuer}', not by the certificate's issuer '{}' \
                 (indirect CRLs are not supported)",
                cert.issuer_cn
            ),
        );
    }
    let Some(issuer) = issuer else {
        return Judged::new(
            Status::NotChecked,
            format!(
                "the CRL was fetched, but its issuer '{}' was not presented, so its signature \
                 could not be checked",
                cert.issuer_cn
            ),
        );
    };
    let signed = SubjectPublicKeyInfo::from_der(&issuer.spki_der)
        .map_err(|e| e.to_string())
        .and_then(|(_, spki)| crl.verify_signature(&spki).map_err(|e| e.to_string()));
    if let Err(e) = signed {
        return Judged::new(
            Status::Invalid,
            format!(
                "the CRL's signature does not verify with the key of '{}' ({e}): forged or \
                 altered on the way",
                issuer.subject_cn
            ),
        );
    }
    let this = crl.last_update().timestamp();
    let next = crl.next_update().map(|t| t.timestamp());
    let mut j = Judged::new(Status::Good, String::new());
    j.this_update = Some(this);
    j.next_update = next;
    let fresh = freshness(this, next, now);
    let count = crl.iter_revoked_certificates().count();
    let entry = crl
        .iter_revoked_certificates()
        .find(|r| strip_zeros(r.raw_serial()) == strip_zeros(&cert.raw_serial));
    let signed = format!("signed by '{}'", issuer.subject_cn);
    match entry {
        Some(entry) => {
            let at = entry.revocation_date.timestamp();
            j.status = Status::Revoked;
            j.revoked_at = Some(at);
            j.reason = entry
                .reason_code()
                .map(|(_, r)| reason_name(r.0).to_owned());
            j.detail = format!(
                "serial {} listed, revoked at {}, reason {}; {signed}",
                cert.summary.serial,
                rfc3339(at),
                j.reason.as_deref().unwrap_or("not given")
            );
            if let Err(stale) = fresh {
                j.detail
                    .push_str(&format!("; the CRL is {stale}, but revocation is final"));
            }
        }
        None => match fresh {
            Ok(window) => {
                j.detail = format!("serial not among the {count} listed, {window}; {signed}");
            }
            Err(stale) => {
                j.status = Status::Unknown;
                j.detail = format!(
                    "the serial is not listed, but the CRL is {stale}, so that proves nothing; {signed}"
                );
            }
        },
    }
    j
}

/// CRLs are DER; some servers send PEM, which is accepted too.
fn crl_der(body: &[u8]) -> Result<Vec<u8>, String> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    if !body[start..].starts_with(b"-----BEGIN") {
        return Ok(body.to_vec());
    }
    use base64::Engine as _;
    let text = String::from_utf8_lossy(body);
    let inner: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(inner.trim())
        .map_err(|e| format!("a PEM body that does not decode: {e}"))
}

// ---------------------------------------------------------------------------------------------
// A minimal DER reader: single-byte tags, definite lengths (what OCSP uses).

/// One DER element, borrowed from the input.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tlv<'a> {
    pub(super) tag: u8,
    pub(super) content: &'a [u8],
    /// The whole element, header included.
    pub(super) raw: &'a [u8],
}

/// The first DER element of `input` and what follows it.
pub(super) fn tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER")?;
    if tag & 0x1f == 0x1f {
        return Err("unsupported DER tag".into());
    }
    let (&first, rest) = rest.split_first().ok_or("truncated DER")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad DER length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("truncated DER".into());
    }
    let header = input.len() - rest.len();
    Ok((
        Tlv {
            tag,
            content: &rest[..len],
            raw: &input[..header + len],
        },
        &rest[len..],
    ))
}

/// Reads consecutive elements of a constructed value.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn next(&mut self) -> Result<Tlv<'a>, String> {
        let (t, rest) = tlv(self.0)?;
        self.0 = rest;
        Ok(t)
    }

    pub(super) fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, String> {
        let t = self.next().map_err(|e| format!("{what}: {e}"))?;
        if t.tag != tag {
            return Err(format!(
                "{what}: expected tag {tag:#04x}, found {:#04x}",
                t.tag
            ));
        }
        Ok(t)
    }

    pub(super) fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, String> {
        if self.0.first() != Some(&tag) {
            return Ok(None);
        }
        self.next().map(Some)
    }
}

/// GeneralizedTime (YYYYMMDDHHMMSS[.fff]Z) as Unix seconds.
pub(super) fn generalized_time(t: &Tlv<'_>) -> Result<i64, String> {
    let bad = || "malformed GeneralizedTime".to_owned();
    if t.tag != 0x18 {
        return Err(bad());
    }
    let s = std::str::from_utf8(t.content).map_err(|_| bad())?;
    let s = s.strip_suffix('Z').ok_or_else(bad)?;
    let main = s.split_once('.').map_or(s, |(m, _)| m);
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| main[r].parse::<u16>().map_err(|_| bad());
    let month =
        time::Month::try_from(u8::try_from(num(4..6)?).map_err(|_| bad())?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(
        i32::from(num(0..4)?),
        month,
        u8::try_from(num(6..8)?).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let small = |r| num(r).and_then(|v| u8::try_from(v).map_err(|_| bad()));
    let clock =
        time::Time::from_hms(small(8..10)?, small(10..12)?, small(12..14)?).map_err(|_| bad())?;
    Ok(time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp())
}

fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

fn short(sha256: &str) -> &str {
    &sha256[..sha256.len().min(16)]
}

/// SHA-256 of bytes, lower-case hex (how the chain's certificates are identified).
pub fn sha256_hex(bytes: &[u8]) -> String {
    chain::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn generalized_times_read_as_unix_seconds() {
        let content = b"20250102030405Z";
        let mut der = vec![0x18, content.len() as u8];
        der.extend_from_slice(content);
        let (t, _) = tlv(&der).unwrap();
        assert_eq!(generalized_time(&t).unwrap(), 1_735_787_045);
        let frac = b"20250102030405.123Z";
        let mut der = vec![0x18, frac.len() as u8];
        der.extend_from_slice(frac);
        let (t, _) = tlv(&der).unwrap();
        assert_eq!(generalized_time(&t).unwrap(), 1_735_787_045);
    }

    #[test]
    fn der_lengths_are_bounded() {
        assert!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(tlv(&[0x30, 0x82, 0x01]).is_err());
        assert!(tlv(&[0x30, 0x03, 1]).is_err());
        let (t, rest) = tlv(&[0x04, 0x01, 0xaa, 0xff]).unwrap();
        assert_eq!(t.content, &[0xaa]);
        assert_eq!(rest, &[0xff]);
    }

    #[test]
    fn html_and_errors_are_not_answers() {
        let body = |status, ct: Option<&str>, b: &[u8]| FetchedBody {
            status,
            content_type: ct.map(str::to_owned),
            body: b.to_vec(),
            final_url: String::new(),
        };
        let page = body(200, None, b"\n <html><title>Access denied</title></html>");
        let p = http_problem(RevocationKind::Ocsp, &page).unwrap();
        assert!(
            p.contains("block page") && p.contains("Access denied"),
            "{p}"
        );
        assert!(http_problem(RevocationKind::Crl, &body(404, None, b"x")).is_some());
        assert!(http_problem(RevocationKind::Crl, &body(200, None, b"")).is_some());
        assert!(http_problem(RevocationKind::Crl, &body(200, None, b"\x30\x00")).is_none());
    }

    #[test]
    fn garbage_is_not_an_ocsp_response() {
        assert!(parse_ocsp(b"hello").is_err());
        // OCSPResponse { responseStatus tryLater }
        assert!(matches!(
            parse_ocsp(&[0x30, 0x03, 0x0a, 0x01, 0x03]),
            Ok(Ocsp::Error(3))
        ));
    }

    #[test]
    fn freshness_checks_both_ends() {
        assert!(freshness(100, Some(10_000), 1_000).is_ok());
        assert!(
            freshness(100, Some(200), 10_000)
                .unwrap_err()
                .contains("stale")
        );
        assert!(
            freshness(100_000, None, 1_000)
                .unwrap_err()
                .contains("clock")
        );
        assert!(freshness(100, None, 1_000).is_ok());
    }
}
