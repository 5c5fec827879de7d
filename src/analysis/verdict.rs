//! The verdict logic, in one place.
//!
//! A chain is judged in three views: Apple devices (Apple's own trust store, Apple's pinning rules,
//! certificate and CT requirements: this decides pass or untrusted), public clients (Mozilla's
//! store, a second opinion), and this machine (its native store: where an inspection CA installed by
//! policy shows up). A chain Apple devices accept is held to Apple's pinning rules and requirements
//! (`accepted.rs`); names never make such a chain suspect. A chain they refuse is followed by its
//! signatures and searched for evidence of interception (`refused.rs`), and only evidence makes it
//! `intercepted` rather than `untrusted`.

use std::cell::OnceCell;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};

use super::apple::PinningResult;
use super::chain::{self, CertFacts};
use super::ct::CtReport;
use super::knowledge::Policy;
use super::trust::{AnchorInfo, RootSet, TrustContext, check_name, verify_path};
use super::{
    Assessment, Code, Context, Finding, Interception, Severity, TrustViews, Verdict, accepted,
    refused, requirements,
};
use crate::model::observation::{
    Captured, DnsProblem, Failure, FailureKind, Observation, TlsParams,
};

/// Findings that are evidence of interception: any one makes a refused chain `intercepted`.
pub(super) const EVIDENCE: [Code; 9] = [
    Code::AnchorNativeOnly,
    Code::AnchorInNoStore,
    Code::IssuerSignatureMismatch,
    Code::AppleNamesCopied,
    Code::LeafKeyEqualsIssuerKey,
    Code::KnownInspectionProduct,
    Code::TlsProfileMismatch,
    Code::UnexpectedUnknownIssuer,
    Code::SctInvalid,
];

/// The verdict logic's working state.
pub(super) struct Judgement {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub chain: Vec<CertFacts>,
    pub anchor: Option<String>,
    /// SHA-256 of the anchor's key, when known.
    pub anchor_spki: Option<String>,
    pub pinning: Option<PinningResult>,
    /// The inspection product the chain identifies, if any.
    pub product: Option<String>,
    /// How each of the three views saw the chain.
    pub views: Option<TrustViews>,
    /// Certificate Transparency, as Apple's policy reads the leaf.
    pub ct: Option<CtReport>,
}

impl Judgement {
    pub fn new(verdict: Verdict, findings: Vec<Finding>) -> Self {
        Self {
            verdict,
            findings,
            chain: Vec::new(),
            anchor: None,
            anchor_spki: None,
            pinning: None,
            product: None,
            views: None,
            ct: None,
        }
    }

    pub fn into_assessment(
        self,
        explanation: String,
        revocation: Vec<super::revocation::RevocationStatus>,
    ) -> Assessment {
        let interception = self.interception();
        Assessment {
            revocation,
            verdict: self.verdict,
            findings: self.findings,
            explanation,
            chain: self.chain.into_iter().map(|f| f.summary).collect(),
            anchor: self.anchor,
            anchor_spki_sha256: self.anchor_spki,
            pinning: self.pinning,
            interception,
            views: self.views,
            ct: self.ct,
        }
    }

    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// For an intercepted target: the product, the anchor and the evidence, all read off the
    /// judgement. A missing SCT counts as evidence only on a chain devices refuse; on an accepted
    /// one it is a plain warning.
    pub fn interception(&self) -> Option<Interception> {
        if self.verdict != Verdict::Intercepted {
            return None;
        }
        let refused = !self.has(Code::ChainValid);
        Some(Interception {
            product: self.product.clone(),
            anchor_subject: self.anchor.clone(),
            evidence: self
                .findings
                .iter()
                .map(|f| f.code)
                .filter(|c| {
                    EVIDENCE.contains(c)
                        || *c == Code::PinMismatch
                        || (refused && *c == Code::MissingSct)
                })
                .collect(),
        })
    }
}

pub(super) fn judge_failure(
    failure: &Failure,
    captured: Option<&Captured>,
    obs: &Observation,
    ctx: &Context<'_>,
) -> Judgement {
    let (verdict, code) = match &failure.kind {
        FailureKind::Dns(problem) => (Verdict::DnsError, dns_code(*problem)),
        FailureKind::Refused => (Verdict::Blocked, Code::ConnectionRefused),
        FailureKind::Reset => (Verdict::Blocked, Code::ConnectionReset),
        FailureKind::Closed => (Verdict::Blocked, Code::ConnectionClosed),
        FailureKind::Unreachable => (Verdict::Blocked, Code::Unreachable),
        FailureKind::Io => (Verdict::Blocked, Code::IoError),
        FailureKind::Timeout => (Verdict::Timeout, Code::Timeout),
        FailureKind::TlsAlert(_) => (Verdict::TlsError, Code::TlsAlert),
        FailureKind::NotTls => (Verdict::TlsError, Code::NotTls),
        FailureKind::TlsProtocol => (Verdict::TlsError, Code::TlsProtocolError),
        FailureKind::UnexpectedAnswer => (Verdict::ProtocolError, Code::UnexpectedAnswer),
        FailureKind::Proxy(Some(407)) => (Verdict::ProxyError, Code::ProxyAuthRequired),
        FailureKind::Proxy(Some(500..=599)) => (Verdict::ProxyError, Code::ProxyUpstreamError),
        FailureKind::Proxy(Some(200)) | FailureKind::Proxy(None) => {
            (Verdict::ProxyError, Code::ProxyClosed)
        }
        FailureKind::Proxy(Some(_)) => (Verdict::ProxyError, Code::ProxyRefused),
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
    let mut j = judge_chain(captured, obs, None, ctx);
    if j.verdict == Verdict::Intercepted {
        j.findings.push(failed);
    } else {
        j.verdict = verdict;
        j.findings.retain(|f| f.code != Code::ChainValid);
        j.findings.insert(0, failed);
    }
    j
}

/// Each reason a name did not resolve has its own finding code.
fn dns_code(problem: DnsProblem) -> Code {
    match problem {
        DnsProblem::NoSuchName => Code::DnsNxdomain,
        DnsProblem::ServerFailure => Code::DnsServfail,
        DnsProblem::Refused => Code::DnsRefused,
        DnsProblem::NoAddresses => Code::DnsNoAddresses,
        DnsProblem::NoAnswer => Code::DnsNoAnswer,
        _ => Code::DnsFailure,
    }
}

/// How the three views see one chain at one instant. Apple devices' view is always worked out;
/// the public and native views only when asked, and without a second validation when the device's
/// anchor is in their store too (the same path, anchor and instant are then valid there as well):
/// a chain the device accepts is mostly settled with one path validation, which is most of an
/// audit's work.
pub(super) struct Paths<'c> {
    chain: &'c [CertificateDer<'static>],
    trust: &'c TrustContext,
    pub at: UnixTime,
    pub device: Result<AnchorInfo, webpki::Error>,
    public: OnceCell<Result<AnchorInfo, webpki::Error>>,
    native: OnceCell<Result<AnchorInfo, webpki::Error>>,
}

impl<'c> Paths<'c> {
    fn at(chain: &'c [CertificateDer<'static>], trust: &'c TrustContext, at: UnixTime) -> Self {
        Self {
            chain,
            trust,
            at,
            device: verify_path(chain, &trust.device, at),
            public: OnceCell::new(),
            native: OnceCell::new(),
        }
    }

    pub fn public(&self) -> &Result<AnchorInfo, webpki::Error> {
        self.public.get_or_init(|| self.view_of(&self.trust.public))
    }

    pub fn native(&self) -> &Result<AnchorInfo, webpki::Error> {
        self.native.get_or_init(|| self.view_of(&self.trust.native))
    }

    fn view_of(&self, store: &RootSet) -> Result<AnchorInfo, webpki::Error> {
        match &self.device {
            Ok(anchor) if store.has_spki(&anchor.spki_sha256) => Ok(anchor.clone()),
            _ => verify_path(self.chain, store, self.at),
        }
    }

    /// The three views, for the report.
    pub fn views(&self) -> TrustViews {
        let view = |store: &RootSet, r: &Result<AnchorInfo, webpki::Error>| super::View {
            store: store.label.clone(),
            accepted: r.is_ok(),
            anchor: r.as_ref().ok().map(|a| a.subject.clone()),
            reason: r.as_ref().err().map(webpki_reason),
        };
        TrustViews {
            apple_devices: view(&self.trust.device, &self.device),
            public_clients: view(&self.trust.public, self.public()),
            this_machine: view(&self.trust.native, self.native()),
        }
    }

    /// Whether a date, not trust, is what fails the chain (see `judge_chain`).
    fn time_error(&self) -> bool {
        match &self.device {
            Ok(_) => false,
            Err(e) if is_time_error(e) => true,
            Err(_) => matches!(self.native(), Err(e) if is_time_error(e)),
        }
    }
}

/// The most certificates of one chain the analysis reads. Servers send a handful (webpki builds paths
/// of at most six intermediates); more is a broken server or a hostile file.
pub const MAX_CHAIN_CERTS: usize = 32;
/// The largest certificate the analysis reads. Real certificates, even with hundreds of names, take
/// a few KiB; and rustls accepts no handshake message (the whole chain) over 64 KiB.
pub const MAX_CERT_BYTES: usize = 64 * 1024;
/// The most bytes of certificates in one chain the analysis reads.
pub const MAX_CHAIN_BYTES: usize = 256 * 1024;

/// Why a chain is beyond what the analysis reads, if it is.
fn over_budget(chain: &[CertificateDer<'_>]) -> Option<String> {
    let total: usize = chain.iter().map(|c| c.len()).sum();
    if chain.len() > MAX_CHAIN_CERTS {
        return Some(format!(
            "the chain has {} certificates; pinscope judges chains of at most {MAX_CHAIN_CERTS} (servers send a handful), so it is refused unjudged",
            chain.len()
        ));
    }
    if let Some((i, c)) = chain
        .iter()
        .enumerate()
        .find(|(_, c)| c.len() > MAX_CERT_BYTES)
    {
        return Some(format!(
            "certificate {i} in the chain takes {} bytes; pinscope judges certificates of at most {MAX_CERT_BYTES} bytes (real ones take a few KiB), so the chain is refused unjudged",
            c.len()
        ));
    }
    (total > MAX_CHAIN_BYTES).then(|| {
        format!(
            "the chain's certificates take {total} bytes; pinscope judges chains of at most {MAX_CHAIN_BYTES} bytes, so it is refused unjudged"
        )
    })
}

pub(super) fn judge_chain(
    captured: &Captured,
    obs: &Observation,
    tls: Option<&TlsParams>,
    ctx: &Context<'_>,
) -> Judgement {
    let chain = &captured.chain;
    let host = obs.target.host.as_str();
    if let Some(problem) = over_budget(chain) {
        // Describe what fits the budgets, judge nothing: the work stays bounded whatever was sent.
        let mut j = Judgement::new(
            Verdict::Untrusted,
            vec![Finding::new(Code::ChainInvalid, Severity::Error, problem)],
        );
        j.chain = chain
            .iter()
            .take(MAX_CHAIN_CERTS)
            .take_while(|c| c.len() <= MAX_CERT_BYTES)
            .map(chain::facts)
            .collect();
        return j;
    }
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
    // A precertificate is what a CA logs before issuing; it never serves TLS, and its poison
    // extension is why no client accepts it, not its names.
    let precert = facts[0].has_extension(chain::CT_POISON_OID);
    let name_finding = if precert {
        Some(Finding::new(
            Code::Precertificate,
            Severity::Error,
            format!(
                "'{}' is a Certificate Transparency precertificate (it carries the CT poison \
                 extension 1.3.6.1.4.1.11129.2.4.3): what a CA submits to CT logs before issuing, \
                 never a certificate a server presents",
                facts[0].subject_cn
            ),
        ))
    } else {
        check_name(leaf, host).err().map(|e| {
            requirements::name_only_in_cn(leaf.as_ref(), host).unwrap_or_else(|| {
                Finding::new(
                    Code::NameMismatch,
                    Severity::Error,
                    format!(
                        "the leaf '{}' is not valid for {host} ({})",
                        facts[0].subject_cn,
                        webpki_reason(&e)
                    ),
                )
            })
        })
    };
    let policy = ctx.policy.or_else(|| ctx.knowledge.pinning.lookup(host));

    let mut paths = Paths::at(chain, ctx.trust, ctx.now);
    let mut time_findings = Vec::new();
    if paths.time_error() {
        // webpki reports an expired certificate before it looks for the issuer, so an expired chain
        // says nothing yet about who signed it: judge the trust at an instant when every presented
        // certificate was valid, and report the dates separately.
        time_findings = time_problems(&facts, ctx.now);
        if let Some(at) = common_validity_instant(&facts) {
            paths = Paths::at(chain, ctx.trust, at);
        }
    }
    let input = ChainInput {
        certs: chain,
        facts: &facts,
        stapled_ocsp: captured.stapled_ocsp.as_deref(),
        tls,
        policy,
        obs,
        ctx,
        dated: !time_findings.is_empty(),
    };
    let mut j = match &paths.device {
        Ok(anchor) => accepted::judge(anchor, &paths, &input),
        Err(err) => refused::judge(err, &paths, &input),
    };
    j.views = Some(paths.views());
    findings.append(&mut j.findings);
    if input.dated && j.verdict == Verdict::Pass {
        j.verdict = Verdict::Untrusted;
    }
    findings.extend(time_findings);
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

/// What both branches of the chain judgement read.
pub(super) struct ChainInput<'a> {
    pub certs: &'a [CertificateDer<'static>],
    pub facts: &'a [CertFacts],
    pub stapled_ocsp: Option<&'a [u8]>,
    pub tls: Option<&'a TlsParams>,
    pub policy: Option<&'a Policy>,
    pub obs: &'a Observation,
    pub ctx: &'a Context<'a>,
    /// Some presented certificate is outside its validity at the moment of judgement.
    pub dated: bool,
}

impl ChainInput<'_> {
    pub fn host(&self) -> &str {
        &self.obs.target.host
    }
}

/// A catalog row may say the real server speaks at most some TLS version.
pub(super) fn tls_profile_mismatch(obs: &Observation, tls: Option<&TlsParams>) -> Option<Finding> {
    let row = obs.target.row.as_ref()?;
    let tls = tls?;
    let got = tls.version.as_str();
    if let Some(max) = row.tls_max.as_deref()
        && version_number(got)? > version_number(max)?
    {
        return Some(Finding::new(
            Code::TlsProfileMismatch,
            Severity::Error,
            format!(
                "the connection used {got}, but the real server speaks at most TLS {max}: something else terminated TLS"
            ),
        ));
    }
    // The documented cipher list is for TLS 1.2 and below; TLS 1.3 suites are not in it.
    let suite = tls.cipher_suite.as_str();
    if !row.tls_ciphers.is_empty()
        && !suite.starts_with("TLS13_")
        && !row.tls_ciphers.iter().any(|c| c == suite)
    {
        return Some(Finding::new(
            Code::TlsProfileMismatch,
            Severity::Error,
            format!(
                "the connection used the cipher suite {suite}, which the real server does not offer: something else terminated TLS"
            ),
        ));
    }
    None
}

/// "TLSv1.3" or "1.3" as (1, 3).
fn version_number(v: &str) -> Option<(u8, u8)> {
    let digits = v.trim_start_matches("TLSv").trim_start_matches("TLS ");
    let (a, b) = digits.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

pub(super) fn short(hex: &str) -> &str {
    hex.get(..16).unwrap_or(hex)
}

fn is_time_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }
    )
}

fn time_problems(facts: &[CertFacts], now: UnixTime) -> Vec<Finding> {
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let mut found: Vec<Finding> = facts
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
    if found.is_empty() {
        found.push(Finding::new(
            Code::Expired,
            Severity::Error,
            "a certificate on the path is outside its validity period",
        ));
    }
    found
}

/// An instant at which every presented certificate is valid, if there is one.
fn common_validity_instant(facts: &[CertFacts]) -> Option<UnixTime> {
    let latest_start = facts.iter().map(|f| f.not_before).max()?;
    let earliest_end = facts.iter().map(|f| f.not_after).min()?;
    if latest_start > earliest_end {
        return None;
    }
    let secs = u64::try_from(latest_start.saturating_add(1).min(earliest_end)).ok()?;
    Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// Indices from the leaf through the presented certificates, following issuer names as far as
/// they go. Each certificate is visited once, so loops end.
pub(super) fn issuer_walk(facts: &[CertFacts]) -> Vec<usize> {
    let mut walk = vec![0];
    let mut visited = vec![false; facts.len()];
    visited[0] = true;
    let mut current = 0;
    while !facts[current].self_issued() {
        let issuer = &facts[current].issuer_der;
        match (0..facts.len()).find(|&i| !visited[i] && facts[i].subject_der == *issuer) {
            Some(i) => {
                visited[i] = true;
                walk.push(i);
                current = i;
            }
            None => break,
        }
    }
    walk
}

/// webpki's errors, in words.
pub(super) fn webpki_reason(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::CertNotValidForName(ctx) => {
            // webpki renders names as `DnsName("host")`; show the bare names.
            let presented: Vec<String> = ctx
                .presented
                .iter()
                .map(|p| match (p.find('"'), p.rfind('"')) {
                    (Some(a), Some(b)) if b > a => p[a + 1..b].to_owned(),
                    _ => p.clone(),
                })
                .collect();
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
