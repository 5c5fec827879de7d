//! The chain stage and the probe-failure stage: what a presented chain and a failed probe show,
//! pushed as findings. The verdict is the policy's (`policy.rs`); nothing here sets one.
//!
//! A chain is judged in three views: Apple devices (Apple's own trust store, Apple's pinning rules,
//! certificate and CT requirements), public clients (Mozilla's store, a second opinion), and this
//! machine (its native store: where an inspection CA installed by policy shows up). A chain Apple
//! devices accept is held to Apple's pinning rules and requirements (`accepted.rs`); names never
//! make such a chain suspect. A chain they refuse is followed by its signatures and searched for
//! evidence of interception (`refused.rs`), and only evidence makes it `intercepted` rather than
//! `untrusted`.

use std::cell::OnceCell;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};

use super::apple::PinningResult;
use super::chain::{self, CertFacts};
use super::ct::CtReport;
use super::findings::Findings;
use super::knowledge::Policy;
use super::trust::{AnchorInfo, RootSet, TrustContext, check_name, verify_path, webpki_reason};
use super::{
    Code, Context, Finding, Severity, TrustViews, accepted, policy, refused, requirements,
};
use crate::model::observation::{
    Captured, DnsProblem, Failure, FailureKind, Observation, TlsParams,
};

/// What the stages established about a chain besides their findings: what the report shows next
/// to the verdict.
#[derive(Debug, Default)]
pub(super) struct ChainFacts {
    /// The presented chain, leaf first.
    pub chain: Vec<CertFacts>,
    /// The CA the chain ends at (trusted or not), when known.
    pub anchor: Option<String>,
    /// SHA-256 of the anchor's key, when known.
    pub anchor_spki: Option<String>,
    pub pinning: Option<PinningResult>,
    /// How each of the three views saw the chain.
    pub views: Option<TrustViews>,
    /// Certificate Transparency, as Apple's policy reads the leaf.
    pub ct: Option<CtReport>,
}

impl ChainFacts {
    /// A chain that ends at `anchor` (with that key, when known).
    pub fn anchored(anchor: String, spki: Option<String>) -> Self {
        Self {
            anchor: Some(anchor),
            anchor_spki: spki,
            ..Self::default()
        }
    }
}

/// A probe that failed: its finding (whose code the policy maps to the verdict), and the chain
/// that arrived before the failure, if one did.
pub(super) fn failure(
    failure: &Failure,
    captured: Option<&Captured>,
    obs: &Observation,
    ctx: &Context<'_>,
    found: &mut Findings,
) -> ChainFacts {
    let code = match &failure.kind {
        FailureKind::Dns(problem) => dns_code(*problem),
        FailureKind::Refused => Code::ConnectionRefused,
        FailureKind::Reset => Code::ConnectionReset,
        FailureKind::Closed => Code::ConnectionClosed,
        FailureKind::Unreachable => Code::Unreachable,
        FailureKind::Io => Code::IoError,
        FailureKind::Timeout => Code::Timeout,
        FailureKind::Interrupted => Code::Interrupted,
        FailureKind::TlsAlert(_) => Code::TlsAlert,
        FailureKind::NotTls => Code::NotTls,
        FailureKind::TlsProtocol => Code::TlsProtocolError,
        FailureKind::UnexpectedAnswer => Code::UnexpectedAnswer,
        FailureKind::Proxy(Some(407)) => Code::ProxyAuthRequired,
        FailureKind::Proxy(Some(500..=599)) => Code::ProxyUpstreamError,
        FailureKind::Proxy(Some(200)) | FailureKind::Proxy(None) => Code::ProxyClosed,
        FailureKind::Proxy(Some(_)) => Code::ProxyRefused,
        FailureKind::ProxyUnreachable => Code::ProxyUnreachable,
    };
    let failed = Finding::new(
        code,
        Severity::Error,
        format!("{}: {}", failure.phase.as_str(), failure.detail),
    );
    let Some(captured) = captured.filter(|c| !c.chain.is_empty()) else {
        found.push(failed);
        return ChainFacts::default();
    };
    // A chain arrived before the failure: judge it too. Evidence of interception outranks the
    // failure (a middlebox that forges and then drops is still the cause), and the failure follows
    // it; otherwise the failure decides, comes first, and the chain's findings are context (a
    // valid chain is not news then).
    let mut chain_found = Findings::default();
    let facts = chain(captured, obs, None, ctx, &mut chain_found);
    if policy::shows_interception(chain_found.as_slice()) {
        found.append(chain_found);
        found.push(failed);
    } else {
        found.push(failed);
        found.extend(
            chain_found
                .into_vec()
                .into_iter()
                .filter(|f| f.code != Code::ChainValid),
        );
    }
    facts
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

/// A presented chain: its findings go to `found`, its facts come back.
pub(super) fn chain(
    captured: &Captured,
    obs: &Observation,
    tls: Option<&TlsParams>,
    ctx: &Context<'_>,
    found: &mut Findings,
) -> ChainFacts {
    let chain = &captured.chain;
    let host = obs.target.host.as_str();
    if let Some(problem) = over_budget(chain) {
        // Describe what fits the budgets, judge nothing: the work stays bounded whatever was sent.
        found.error(Code::ChainInvalid, problem);
        return ChainFacts {
            chain: chain
                .iter()
                .take(MAX_CHAIN_CERTS)
                .take_while(|c| c.len() <= MAX_CERT_BYTES)
                .map(chain::facts)
                .collect(),
            ..ChainFacts::default()
        };
    }
    let facts: Vec<CertFacts> = chain.iter().map(chain::facts).collect();
    for (i, f) in facts.iter().enumerate() {
        if let Some(e) = &f.summary.parse_error {
            found.warn(
                Code::MalformedCertificate,
                format!("certificate {i} in the chain could not be parsed: {e}"),
            );
        }
    }
    let Some(leaf) = chain.first() else {
        found.error(Code::EmptyChain, "the server presented no certificate");
        return ChainFacts::default();
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
        check_name(leaf, host).err().map(|_| {
            requirements::name_only_in_cn(leaf.as_ref(), host).unwrap_or_else(|| {
                Finding::new(
                    Code::NameMismatch,
                    Severity::Error,
                    format!(
                        "the leaf '{}' is not valid for {host} ({})",
                        facts[0].subject_cn,
                        requirements::names_presented(leaf.as_ref())
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
    // Dates and names come after what the views found; the policy reads both as refusals.
    let mut judged = match &paths.device {
        Ok(anchor) => accepted::judge(anchor, &paths, &input, found),
        Err(err) => refused::judge(err, &paths, &input, found),
    };
    judged.views = Some(paths.views());
    found.extend(time_findings);
    found.extend(name_finding);
    judged.chain = facts;
    judged
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

/// A catalog row may say the real server speaks at most some TLS version, or only some cipher
/// suites. On a chain devices refuse, another one is evidence that something else terminated TLS
/// (an error); on a `genuine` chain (devices accept it) the service itself has probably changed (a
/// warning).
pub(super) fn tls_profile_mismatch(
    obs: &Observation,
    tls: Option<&TlsParams>,
    genuine: bool,
) -> Option<Finding> {
    let row = obs.target.row.as_ref()?;
    let tls = tls?;
    let got = tls.version.as_str();
    // The documented cipher list is for TLS 1.2 and below; TLS 1.3 suites are not in it.
    let suite = tls.cipher_suite.as_str();
    let what = match row.tls_max.as_deref() {
        Some(max) if version_number(got)? > version_number(max)? => {
            format!("the connection used {got}, but the real server speaks at most TLS {max}")
        }
        _ if !row.tls_ciphers.is_empty()
            && !suite.starts_with("TLS13_")
            && !row.tls_ciphers.iter().any(|c| c == suite) =>
        {
            format!(
                "the connection used the cipher suite {suite}, which the real server does not offer"
            )
        }
        _ => return None,
    };
    Some(if genuine {
        Finding::new(
            Code::TlsProfileMismatch,
            Severity::Warning,
            format!(
                "{what}: something else terminated TLS; the chain is genuine, so the service itself may have changed"
            ),
        )
    } else {
        Finding::new(
            Code::TlsProfileMismatch,
            Severity::Error,
            format!("{what}: something else terminated TLS"),
        )
    })
}

/// "TLSv1.3" or "1.3" as (1, 3).
fn version_number(v: &str) -> Option<(u8, u8)> {
    let digits = v.trim_start_matches("TLSv").trim_start_matches("TLS ");
    let (a, b) = digits.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The first 16 hex digits of a SHA-256 figure, as findings quote a key.
pub(super) fn hex_prefix(hex: &str) -> &str {
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
