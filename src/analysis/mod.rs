//! Judging what a probe saw. Pure: an observation, the trust stores and a point in time go in; a
//! verdict with graded findings and an explanation comes out. No I/O, no clock, no tokio, so every
//! result can be reproduced from checked-in certificates at any later date.
//!
//! The verdict logic lives in [`assess`] and the functions it calls in this file, and nowhere else.

pub mod chain;
mod explain;
pub mod trust;

use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Serialize;

use crate::observation::{Captured, Failure, FailureKind, Observation, Outcome};
use chain::{CertFacts, CertSummary};
use trust::{AnchorInfo, TrustContext, check_name, verify_path};

/// The answer for one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The chain is valid against the public roots for this name (or, for plain TCP, it connected).
    Pass,
    /// Something between this machine and the service re-signed the connection.
    Intercepted,
    /// The chain is invalid for another reason, with no sign of forgery.
    Untrusted,
    /// Refused, reset or closed before a result.
    Blocked,
    /// No answer within the deadline.
    Timeout,
    /// The name did not resolve.
    DnsError,
    /// The TLS handshake failed (alert, not TLS, protocol error).
    TlsError,
    /// Not probed.
    Skipped,
}

impl Verdict {
    pub const ALL: [Self; 8] = [
        Self::Pass,
        Self::Intercepted,
        Self::Untrusted,
        Self::Blocked,
        Self::Timeout,
        Self::DnsError,
        Self::TlsError,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Intercepted => "intercepted",
            Self::Untrusted => "untrusted",
            Self::Blocked => "blocked",
            Self::Timeout => "timeout",
            Self::DnsError => "dns_error",
            Self::TlsError => "tls_error",
            Self::Skipped => "skipped",
        }
    }

    /// A failure that is not interception (exit code 3 territory).
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Pass | Self::Intercepted | Self::Skipped)
    }
}

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// What a finding is about; the serialized names are a stable contract (docs/json-schema.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Code {
    /// The chain is valid for the name against the public roots.
    ChainValid,
    /// The chain ends at an anchor only this machine's native store trusts.
    AnchorNativeOnly,
    /// The chain ends at a self-signed CA that no trust store holds.
    AnchorInNoStore,
    /// A certificate names a trusted CA as issuer, but that CA's key did not sign it.
    IssuerSignatureMismatch,
    /// The chain's top issuer was not sent and is in no store.
    UnknownIssuer,
    Expired,
    NotYetValid,
    NameMismatch,
    /// Any other reason the path is invalid.
    ChainInvalid,
    MalformedCertificate,
    EmptyChain,
    ConnectionRefused,
    ConnectionReset,
    ConnectionClosed,
    Unreachable,
    Timeout,
    DnsFailure,
    TlsAlert,
    NotTls,
    TlsProtocolError,
    IoError,
    TcpConnected,
    NotProbed,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChainValid => "chain_valid",
            Self::AnchorNativeOnly => "anchor_native_only",
            Self::AnchorInNoStore => "anchor_in_no_store",
            Self::IssuerSignatureMismatch => "issuer_signature_mismatch",
            Self::UnknownIssuer => "unknown_issuer",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::NameMismatch => "name_mismatch",
            Self::ChainInvalid => "chain_invalid",
            Self::MalformedCertificate => "malformed_certificate",
            Self::EmptyChain => "empty_chain",
            Self::ConnectionRefused => "connection_refused",
            Self::ConnectionReset => "connection_reset",
            Self::ConnectionClosed => "connection_closed",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::DnsFailure => "dns_failure",
            Self::TlsAlert => "tls_alert",
            Self::NotTls => "not_tls",
            Self::TlsProtocolError => "tls_protocol_error",
            Self::IoError => "io_error",
            Self::TcpConnected => "tcp_connected",
            Self::NotProbed => "not_probed",
        }
    }
}

/// One graded observation about a target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            code,
            severity,
            message: message.into(),
        }
    }
}

/// The verdict for one target, with its evidence.
#[derive(Clone, Debug)]
pub struct Assessment {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// What an admin should understand and do, in plain words.
    pub explanation: String,
    /// The presented chain, described, leaf first.
    pub chain: Vec<CertSummary>,
    /// The CA the chain ends at (trusted or not), when known.
    pub anchor: Option<String>,
}

impl Assessment {
    /// The most severe finding (the first of equals): what a one-line view shows.
    pub fn headline(&self) -> Option<&Finding> {
        self.findings.iter().rev().max_by_key(|f| f.severity)
    }
}

/// Settings of the run that explanations refer to.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub trust: &'a TrustContext,
    /// The moment the chain is judged at.
    pub now: UnixTime,
    /// The per-target deadline used by the probe.
    pub timeout: Duration,
}

/// Judges one observation.
pub fn assess(obs: &Observation, ctx: &Context<'_>) -> Assessment {
    let mut judged = match &obs.outcome {
        Outcome::Skipped(reason) => Judgement::new(
            Verdict::Skipped,
            vec![Finding::new(
                Code::NotProbed,
                Severity::Info,
                reason.clone(),
            )],
        ),
        Outcome::Connected => Judgement::new(
            Verdict::Pass,
            vec![Finding::new(
                Code::TcpConnected,
                Severity::Info,
                match obs.address_used {
                    Some(addr) => format!("TCP connection to {addr} accepted"),
                    None => "TCP connection accepted".to_owned(),
                },
            )],
        ),
        Outcome::Handshake { captured, .. } | Outcome::Offline { captured } => {
            judge_chain(captured, &obs.target.host, ctx)
        }
        Outcome::Failed { failure, captured } => {
            judge_failure(failure, captured.as_ref(), obs, ctx)
        }
    };
    let explanation = explain::explain(obs, &judged, ctx);
    Assessment {
        verdict: judged.verdict,
        findings: std::mem::take(&mut judged.findings),
        explanation,
        chain: judged.chain.iter().map(|f| f.summary.clone()).collect(),
        anchor: judged.anchor,
    }
}

/// The verdict logic's working state.
struct Judgement {
    verdict: Verdict,
    findings: Vec<Finding>,
    chain: Vec<CertFacts>,
    anchor: Option<String>,
}

impl Judgement {
    fn new(verdict: Verdict, findings: Vec<Finding>) -> Self {
        Self {
            verdict,
            findings,
            chain: Vec::new(),
            anchor: None,
        }
    }
}

fn judge_failure(
    failure: &Failure,
    captured: Option<&Captured>,
    obs: &Observation,
    ctx: &Context<'_>,
) -> Judgement {
    let (verdict, code) = match &failure.kind {
        FailureKind::Dns => (Verdict::DnsError, Code::DnsFailure),
        FailureKind::Refused => (Verdict::Blocked, Code::ConnectionRefused),
        FailureKind::Reset => (Verdict::Blocked, Code::ConnectionReset),
        FailureKind::Closed => (Verdict::Blocked, Code::ConnectionClosed),
        FailureKind::Unreachable => (Verdict::Blocked, Code::Unreachable),
        FailureKind::Io => (Verdict::Blocked, Code::IoError),
        FailureKind::Timeout => (Verdict::Timeout, Code::Timeout),
        FailureKind::TlsAlert(_) => (Verdict::TlsError, Code::TlsAlert),
        FailureKind::NotTls => (Verdict::TlsError, Code::NotTls),
        FailureKind::TlsProtocol => (Verdict::TlsError, Code::TlsProtocolError),
    };
    let failed = Finding::new(
        code,
        Severity::Error,
        format!("{}: {}", failure.phase.as_str(), failure.detail),
    );
    let Some(captured) = captured.filter(|c| !c.chain.is_empty()) else {
        return Judgement::new(verdict, vec![failed]);
    };
    // A chain arrived before the failure: judge it too. Evidence of interception outranks the
    // failure (a middlebox that forges and then drops is still the cause); otherwise the failure is
    // the verdict and the chain's findings are context.
    let mut j = judge_chain(captured, &obs.target.host, ctx);
    if j.verdict != Verdict::Intercepted {
        j.verdict = verdict;
        j.findings
            .retain(|f| f.code != Code::ChainValid || f.severity > Severity::Info);
        j.findings.insert(0, failed);
    } else {
        j.findings.push(failed);
    }
    j
}

fn judge_chain(captured: &Captured, host: &str, ctx: &Context<'_>) -> Judgement {
    let chain = &captured.chain;
    let facts: Vec<CertFacts> = chain.iter().map(chain::facts).collect();
    let mut findings: Vec<Finding> = facts
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            f.summary.parse_error.as_ref().map(|e| {
                Finding::new(
                    Code::MalformedCertificate,
                    Severity::Warning,
                    format!("certificate {i} in the chain could not be parsed: {e}"),
                )
            })
        })
        .collect();
    let Some(leaf) = chain.first() else {
        findings.push(Finding::new(
            Code::EmptyChain,
            Severity::Error,
            "the server presented no certificate",
        ));
        return Judgement::new(Verdict::Untrusted, findings);
    };

    let name_finding = check_name(leaf, host).err().map(|e| {
        Finding::new(
            Code::NameMismatch,
            Severity::Error,
            format!(
                "the leaf '{}' is not valid for {host} ({})",
                facts[0].subject_cn,
                webpki_reason(&e)
            ),
        )
    });
    let trust = ctx.trust;
    let public = verify_path(chain, &trust.public, ctx.now);
    let native = verify_path(chain, &trust.native, ctx.now);

    let mut j = match (public, native) {
        (Ok(anchor), _) => {
            judge_publicly_valid(anchor, host, name_finding.is_none(), &trust.public.label)
        }
        (Err(_), Ok(anchor)) => native_only(anchor, &trust.native.label),
        (Err(public_err), Err(_)) if is_time_error(&public_err) => {
            judge_out_of_time(chain, &facts, ctx)
        }
        (Err(public_err), Err(_)) => judge_unanchored(&public_err, &facts, trust),
    };
    findings.append(&mut j.findings);
    if let Some(f) = name_finding {
        if j.verdict == Verdict::Pass {
            j.verdict = Verdict::Untrusted;
        }
        findings.push(f);
    }
    j.findings = findings;
    j.chain = facts;
    j
}

fn judge_publicly_valid(anchor: AnchorInfo, host: &str, name_ok: bool, label: &str) -> Judgement {
    let message = if name_ok {
        format!(
            "the chain is valid for {host} against the {label}; it ends at '{}'",
            anchor.subject
        )
    } else {
        format!(
            "the chain is valid against the {label} and ends at '{}'",
            anchor.subject
        )
    };
    let mut j = Judgement::new(
        Verdict::Pass,
        vec![Finding::new(Code::ChainValid, Severity::Info, message)],
    );
    j.anchor = Some(anchor.subject);
    j
}

fn native_only(anchor: AnchorInfo, label: &str) -> Judgement {
    let mut j = Judgement::new(
        Verdict::Intercepted,
        vec![Finding::new(
            Code::AnchorNativeOnly,
            Severity::Error,
            format!(
                "the chain ends at '{}', which only the {label} trusts and no public root does: \
                 a CA installed on this machine, as SSL-inspection products install theirs",
                anchor.subject
            ),
        )],
    );
    j.anchor = Some(anchor.subject);
    j
}

fn is_time_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }
    )
}

/// webpki reports an expired certificate before it looks for the issuer, so an expired chain says
/// nothing yet about who signed it. Judge the trust at an instant when every presented certificate
/// was valid, and report the time problem separately.
fn judge_out_of_time(
    chain: &[CertificateDer<'static>],
    facts: &[CertFacts],
    ctx: &Context<'_>,
) -> Judgement {
    let now = i64::try_from(ctx.now.as_secs()).unwrap_or(i64::MAX);
    let mut time_findings: Vec<Finding> = facts
        .iter()
        .filter_map(|f| {
            if f.not_after < now {
                Some(Finding::new(
                    Code::Expired,
                    Severity::Error,
                    format!("'{}' expired on {}", f.subject_cn, f.summary.not_after),
                ))
            } else if f.not_before > now {
                Some(Finding::new(
                    Code::NotYetValid,
                    Severity::Error,
                    format!(
                        "'{}' is not valid before {}",
                        f.subject_cn, f.summary.not_before
                    ),
                ))
            } else {
                None
            }
        })
        .collect();
    let latest_start = facts.iter().map(|f| f.not_before).max().unwrap_or(0);
    let earliest_end = facts.iter().map(|f| f.not_after).min().unwrap_or(0);
    let instant = (latest_start <= earliest_end)
        .then(|| u64::try_from(latest_start.saturating_add(1).min(earliest_end)).ok())
        .flatten()
        .map(|s| UnixTime::since_unix_epoch(Duration::from_secs(s)));

    let mut j = match instant {
        Some(at) => match (
            verify_path(chain, &ctx.trust.public, at),
            verify_path(chain, &ctx.trust.native, at),
        ) {
            (Ok(anchor), _) => {
                let mut j = Judgement::new(Verdict::Untrusted, Vec::new());
                j.anchor = Some(anchor.subject);
                j
            }
            (Err(_), Ok(anchor)) => native_only(anchor, &ctx.trust.native.label),
            (Err(e), Err(_)) => judge_unanchored(&e, facts, ctx.trust),
        },
        None => Judgement::new(Verdict::Untrusted, Vec::new()),
    };
    if time_findings.is_empty() {
        time_findings.push(Finding::new(
            Code::Expired,
            Severity::Error,
            "a certificate in the chain is outside its validity period",
        ));
    }
    j.findings.append(&mut time_findings);
    j
}

/// Neither store accepts the chain: decide whether it ends at a CA that is not public (a forgery)
/// or is merely broken (incomplete, or invalid for another reason).
fn judge_unanchored(err: &webpki::Error, facts: &[CertFacts], trust: &TrustContext) -> Judgement {
    if matches!(err, webpki::Error::InvalidSignatureForPublicKey) {
        return Judgement::new(
            Verdict::Intercepted,
            vec![Finding::new(
                Code::IssuerSignatureMismatch,
                Severity::Error,
                "a certificate in the chain names a trusted CA as its issuer, but that CA's key \
                 did not sign it: the issuer's name was copied onto a forged certificate",
            )],
        );
    }
    if !matches!(err, webpki::Error::UnknownIssuer) {
        return Judgement::new(
            Verdict::Untrusted,
            vec![Finding::new(
                Code::ChainInvalid,
                Severity::Error,
                format!("the chain is invalid: {}", webpki_reason(err)),
            )],
        );
    }
    let top_index = top_of_chain(facts);
    let top = &facts[top_index];
    if top.self_issued() {
        let message = if top_index == 0 {
            format!(
                "the server presented a self-signed certificate '{}' that no trust store holds",
                top.subject_cn
            )
        } else {
            format!(
                "the chain ends at '{}', a self-signed CA that no trust store holds \
                 (neither the {} nor the {})",
                top.subject_cn, trust.public.label, trust.native.label
            )
        };
        let mut j = Judgement::new(
            Verdict::Intercepted,
            vec![Finding::new(
                Code::AnchorInNoStore,
                Severity::Error,
                message,
            )],
        );
        j.anchor = Some(top.subject_cn.clone());
        j
    } else if trust.public.has_subject(&top.issuer_der) || trust.native.has_subject(&top.issuer_der)
    {
        Judgement::new(
            Verdict::Intercepted,
            vec![Finding::new(
                Code::IssuerSignatureMismatch,
                Severity::Error,
                format!(
                    "'{}' names '{}' as its issuer, a CA this machine trusts, but that CA's key did \
                     not sign it: the issuer's name was copied",
                    top.subject_cn, top.issuer_cn
                ),
            )],
        )
    } else {
        let mut j = Judgement::new(
            Verdict::Untrusted,
            vec![Finding::new(
                Code::UnknownIssuer,
                Severity::Error,
                format!(
                    "'{}' was issued by '{}', which the server did not send and no trust store \
                     holds: the chain is incomplete, or it comes from a private CA",
                    top.subject_cn, top.issuer_cn
                ),
            )],
        );
        j.anchor = Some(top.issuer_cn.clone());
        j
    }
}

/// Follows issuer names from the leaf through the presented certificates, as far as they go, and
/// returns the index of the last one reached. Each certificate is visited once, so loops end.
fn top_of_chain(facts: &[CertFacts]) -> usize {
    let mut current = 0;
    let mut visited = vec![false; facts.len()];
    visited[0] = true;
    while !facts[current].self_issued() {
        let issuer = &facts[current].issuer_der;
        let next = (0..facts.len()).find(|&i| !visited[i] && facts[i].subject_der == *issuer);
        match next {
            Some(i) => {
                visited[i] = true;
                current = i;
            }
            None => break,
        }
    }
    current
}

/// webpki's errors, in words.
fn webpki_reason(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::CertNotValidForName(ctx) => {
            let presented: Vec<&str> = ctx.presented.iter().map(String::as_str).collect();
            if presented.is_empty() {
                "it names no host".to_owned()
            } else {
                format!("it is for {}", presented.join(", "))
            }
        }
        E::CertExpired { .. } => "expired".into(),
        E::CertNotValidYet { .. } => "not yet valid".into(),
        E::UnknownIssuer => "unknown issuer".into(),
        E::CaUsedAsEndEntity => "a CA certificate is used as the server certificate".into(),
        E::EndEntityUsedAsCa => "a server certificate is used as a CA".into(),
        E::RequiredEkuNotFoundContext(_) => "not issued for TLS server authentication".into(),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "signed with an algorithm that is not accepted (for example SHA-1)".into()
        }
        E::NameConstraintViolation => "a CA's name constraints forbid this name".into(),
        E::PathLenConstraintViolated => "a CA's path length constraint is violated".into(),
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded => {
            "path building gave up (too many candidates or too deep)".into()
        }
        other => format!("{other:?}"),
    }
}
