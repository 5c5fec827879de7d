//! One status per recorded fetch, and the findings: what a failed fetch, an HTTP answer that is not
//! a responder's, an OCSP response or a CRL means for the certificate and for devices.

use std::fmt;

use rustls_pki_types::UnixTime;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::crl::judge_crl;
use super::http::http_problem;
use super::ocsp::judge_ocsp;
use super::{RevocationJudgement, RevocationStatus, Status};
use crate::analysis::chain::{self, CertFacts};
use crate::analysis::{Code, Finding, Severity};
use crate::model::observation::{
    FetchFailure, FetchFailureKind, FetchedBody, Observation, RevocationFetch, RevocationKind,
    RevocationOutcome,
};

/// How far this machine's clock and a responder's may disagree before a date counts as wrong.
const CLOCK_SKEW_SECS: i64 = 5 * 60;

/// What the finding says a failed check means for devices.
const DEVICE_IMPACT: &str = "devices that check revocation for this chain cannot; installs and \
     enrolment may fail, as Symantec documents for its installers when OCSP hosts are unreachable";

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

/// One source's answer, judged.
#[derive(Debug)]
pub(super) struct Judged {
    pub(super) status: Status,
    pub(super) detail: String,
    pub(super) reason: Option<String>,
    pub(super) revoked_at: Option<i64>,
    pub(super) this_update: Option<i64>,
    pub(super) next_update: Option<i64>,
}

impl Judged {
    pub(super) fn new(status: Status, detail: impl Into<String>) -> Self {
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

/// The thisUpdate–nextUpdate window of a response or CRL that holds now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Window {
    this: i64,
    next: Option<i64>,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.next {
            Some(next) => write!(
                f,
                "thisUpdate {}, nextUpdate {}",
                rfc3339(self.this),
                rfc3339(next)
            ),
            None => write!(f, "thisUpdate {}, no nextUpdate", rfc3339(self.this)),
        }
    }
}

/// Why a response's or CRL's dates do not hold now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum Stale {
    #[error(
        "not valid yet (thisUpdate {} is in the future: check this machine's clock)",
        rfc3339(*.0)
    )]
    NotYetValid(i64),
    #[error("stale (nextUpdate {} has passed)", rfc3339(*.0))]
    Expired(i64),
}

/// Whether thisUpdate/nextUpdate hold at `now`, with the clock skew allowed.
pub(super) fn freshness(this: i64, next: Option<i64>, now: i64) -> Result<Window, Stale> {
    if this > now + CLOCK_SKEW_SECS {
        return Err(Stale::NotYetValid(this));
    }
    match next {
        Some(next) if next + CLOCK_SKEW_SECS < now => Err(Stale::Expired(next)),
        next => Ok(Window { this, next }),
    }
}

pub(super) fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

fn short(sha256: &str) -> &str {
    sha256.get(..16).unwrap_or(sha256)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn freshness_checks_both_ends() {
        assert_eq!(
            freshness(100, Some(10_000), 1_000).unwrap().to_string(),
            "thisUpdate 1970-01-01T00:01:40Z, nextUpdate 1970-01-01T02:46:40Z"
        );
        assert_eq!(
            freshness(100, Some(200), 10_000).unwrap_err().to_string(),
            "stale (nextUpdate 1970-01-01T00:03:20Z has passed)"
        );
        assert!(
            freshness(100_000, None, 1_000)
                .unwrap_err()
                .to_string()
                .contains("clock")
        );
        assert_eq!(
            freshness(100, None, 1_000).unwrap().to_string(),
            "thisUpdate 1970-01-01T00:01:40Z, no nextUpdate"
        );
    }

    #[test]
    fn failures_are_unreachable_or_invalid() {
        let f = |kind| FetchFailure {
            kind,
            detail: "x".into(),
        };
        let j = failed(RevocationKind::Ocsp, &f(FetchFailureKind::Refused));
        assert_eq!(j.status, Status::Unreachable);
        assert_eq!(j.detail, "the OCSP responder refused the connection: x");
        let j = failed(RevocationKind::Crl, &f(FetchFailureKind::TooLarge));
        assert_eq!(j.status, Status::Invalid);
    }
}
